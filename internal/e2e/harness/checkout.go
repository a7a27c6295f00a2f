package harness

// Payment sessions, 3-D Secure challenges and the merchant's return site,
// over HTTP (no browser): what the checkout, 3-D Secure and dialect tests
// share. The browser side is in page.go.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
)

// The simulator's 3-D Secure test cards and the one OTP its challenges accept.
const (
	ChallengeCard = "4000002500003155" // challenge, then the verification/authorization succeeds
	DeclineCard   = "4000008400001629" // challenge, then the issuer declines
	ChallengeMask = "400000******3155" // ChallengeCard as the pages show it
	OTP           = "123456"
)

// WithSweepInterval makes the sweeper (expired challenges and sessions) run
// more often.
func WithSweepInterval(d time.Duration) Option { return func(c *app.Config) { c.SweepInterval = d } }

// NoRedirect is a client that shows redirects instead of following them, as
// a test of where a page sends the browser needs.
var NoRedirect = &http.Client{Timeout: 60 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Page is a page's HTTP response (challenge or checkout page), read whole.
type Page struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

// ChallengePage GETs a page URL (a challenge page, say) without following
// redirects.
func ChallengePage(t testing.TB, u string) Page {
	t.Helper()
	res, err := NoRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return ReadPage(t, res)
}

// SubmitOTP POSTs an OTP to a challenge page as its form does, without
// following the redirect.
func SubmitOTP(t testing.TB, u, otp string) Page {
	t.Helper()
	res, err := NoRedirect.PostForm(u, url.Values{"otp": {otp}})
	if err != nil {
		t.Fatal(err)
	}
	return ReadPage(t, res)
}

// ReadPage reads and closes a page response.
func ReadPage(t testing.TB, res *http.Response) Page {
	t.Helper()
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return Page{Status: res.StatusCode, Header: res.Header, Body: b.String(), Location: res.Header.Get("Location")}
}

// PassChallenge answers a challenge rightly and returns the outcome query
// the browser is sent back with.
func PassChallenge(t testing.TB, u string) url.Values {
	t.Helper()
	done := SubmitOTP(t, u, "123456")
	loc, err := url.Parse(done.Location)
	if done.Status != 303 || err != nil {
		t.Fatalf("right OTP: %d %q %s", done.Status, done.Location, done.Body)
	}
	return loc.Query()
}

// ChallengeSecrets counts challenges still holding sealed card data (the
// CVC kept across a challenge): after every outcome it must be zero.
func (s *Server) ChallengeSecrets(t testing.TB) int {
	t.Helper()
	var n int
	if err := s.OpenDB(t).QueryRow(`SELECT COUNT(*) FROM challenges WHERE secret_ct IS NOT NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// StartChallenge makes a token or payment (POST path with the development
// merchant's key) that waits on a challenge and returns its id and
// next_action.url, which must be this server's challenge page.
func (s *Server) StartChallenge(t testing.TB, path string, body map[string]any) (string, string) {
	t.Helper()
	r := s.Call("POST", path, s.Dev.SecretKey, body).Want(t, 201)
	id, u := r.Str("id"), r.Str("next_action", "url")
	if r.Str("status") != "requires_action" || id == "" || u == "" || r.Str("next_action", "type") != "redirect" {
		t.Fatalf("POST %s: want requires_action with a redirect: %s", path, r.Raw)
	}
	if !strings.HasPrefix(u, s.URL+"/3ds/") {
		t.Fatalf("next_action.url %q is not this server's challenge page", u)
	}
	return id, u
}

// AwaitStatus polls GET path (with the development merchant's key) until
// its status is want, failing the test after within.
func (s *Server) AwaitStatus(t testing.TB, path, want string, within time.Duration) Resp {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		g := s.Call("GET", path, s.Dev.SecretKey, nil).Want(t, 200)
		if g.Str("status") == want {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: status still %q after %s, want %q: %s", path, g.Str("status"), within, want, g.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// AwaitSession polls GET /v1/sessions/{id} until its status is want (5 s).
func (s *Server) AwaitSession(t testing.TB, id, want string) Resp {
	t.Helper()
	return s.AwaitStatus(t, "/v1/sessions/"+id, want, 5*time.Second)
}

// NewSession creates a payment session (POST /v1/sessions) and wants 201.
func (s *Server) NewSession(t testing.TB, key string, body map[string]any) Resp {
	t.Helper()
	return s.Call("POST", "/v1/sessions", key, body).Want(t, 201)
}

// EncryptFor encrypts a card the way a browser's WebCrypto does for a
// session: RSA-OAEP SHA-256 under the session's key, the session id as label.
func EncryptFor(t testing.TB, sess Resp, number, cvc string) string {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(sess.Str("encryption_key", "spki"))
	if err != nil {
		t.Fatalf("spki: %v: %s", err, sess.Raw)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := json.Marshal(map[string]any{"number": number, "exp_month": 12, "exp_year": time.Now().Year() + 4, "cvc": cvc, "holder_name": "Siti Aminah"})
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.(*rsa.PublicKey), plain, []byte(sess.Str("id")))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ct)
}

// SavedCard saves a card for the customer with this reference through an
// API-mode session of the development merchant and returns the token id.
func (s *Server) SavedCard(t testing.TB, reference, number string) string {
	t.Helper()
	r := s.NewSession(t, s.Dev.SecretKey, map[string]any{"mode": "api", "amount": 500, "customer_reference": reference, "save_card": "always"})
	c := s.Call("POST", "/v1/sessions/"+r.Str("id")+"/confirm", s.Dev.SecretKey, map[string]any{"encrypted_card": EncryptFor(t, r, number, "123")}).Want(t, 200)
	if c.Str("status") != "succeeded" || c.Str("token") == "" {
		t.Fatalf("saving a card: %s", c.Raw)
	}
	return c.Str("token")
}

// ExpireSession moves a session's expiry into the past through the
// database, as time would (60 s is the shortest expires_in a merchant may
// ask for).
func (s *Server) ExpireSession(t testing.TB, sessionID string) {
	t.Helper()
	if _, err := s.OpenDB(t).Exec(s.Rebind(`UPDATE sessions SET expires_at = ? WHERE id = ?`),
		time.Now().Add(-time.Second).UnixMicro(), sessionID); err != nil {
		t.Fatal(err)
	}
}

// ExpireChallenges moves every challenge's expiry into the past through the
// database, as time would: the sweeper and the challenge page then find
// them expired, without a test waiting out a lifetime a loaded machine may
// overrun before the test has looked.
func (s *Server) ExpireChallenges(t testing.TB) {
	t.Helper()
	if _, err := s.OpenDB(t).Exec(s.Rebind(`UPDATE challenges SET expires_at = ?`), time.Now().Add(-time.Second).UnixMicro()); err != nil {
		t.Fatal(err)
	}
}

// SessionDBStatus reads a session's status straight from the database.
func (s *Server) SessionDBStatus(t testing.TB, sessionID string) string {
	t.Helper()
	var st string
	if err := s.OpenDB(t).QueryRow(s.Rebind(`SELECT status FROM sessions WHERE id = ?`), sessionID).Scan(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// ReturnSite is the merchant's return_url (and success/failure URLs) on
// loopback: it records every query the browser arrives with.
type ReturnSite struct {
	URL string // …/return?cart=42
	mu  sync.Mutex
	got []url.Values
}

// NewReturnSite starts a return site for the test's lifetime.
func NewReturnSite(t testing.TB) *ReturnSite {
	rs := &ReturnSite{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/return" { // a browser's favicon request, say
			http.NotFound(w, r)
			return
		}
		rs.mu.Lock()
		rs.got = append(rs.got, r.URL.Query())
		rs.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><link rel="icon" href="data:,"><title>Back at the shop</title><h1 id="back">Back at the shop</h1>`))
	}))
	t.Cleanup(srv.Close)
	rs.URL = srv.URL + "/return?cart=42"
	return rs
}

// Last is the query of the latest arrival (nil if none).
func (rs *ReturnSite) Last() url.Values {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.got) == 0 {
		return nil
	}
	return rs.got[len(rs.got)-1]
}

// served reports whether the site served an arrival with exactly query q.
func (rs *ReturnSite) served(q url.Values) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	seen := false
	for _, got := range rs.got {
		seen = seen || got.Encode() == q.Encode()
	}
	return seen
}

// To is the merchant URL for one outcome on the return site: the site's own
// query (cart=42) plus to=<outcome>, so a test can tell which of a
// session's URLs the browser ended on (see Landed).
func (rs *ReturnSite) To(outcome string) string { return rs.URL + "&to=" + outcome }

// MerchantCheckoutPage is a merchant's own checkout page for an API-mode
// session, a format taking the session's JWK (JSON) and its id (a JS
// string): its inline script imports the key with WebCrypto and encrypts
// the typed card, with the session id as the OAEP label, into #ciphertext.
const MerchantCheckoutPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Shop checkout</title></head>
<body>
<h1>Checkout at the shop</h1>
<label>Card number <input id="number" autocomplete="off"></label>
<label>Month <input id="exp-month"></label>
<label>Year <input id="exp-year"></label>
<label>CVC <input id="cvc"></label>
<label>Name <input id="holder"></label>
<button id="encrypt" type="button">Pay</button>
<pre id="ciphertext"></pre>
<p id="error"></p>
<script type="application/json" id="key">%s</script>
<script>
"use strict";
var sessionId = %s;
document.getElementById("encrypt").addEventListener("click", async function () {
  try {
    var v = function (id) { return document.getElementById(id).value; };
    var jwk = JSON.parse(document.getElementById("key").textContent);
    var key = await crypto.subtle.importKey("jwk", jwk, {name: "RSA-OAEP", hash: "SHA-256"}, false, ["encrypt"]);
    var card = {number: v("number").replace(/\D/g, ""), exp_month: parseInt(v("exp-month"), 10),
      exp_year: parseInt(v("exp-year"), 10), cvc: v("cvc"), holder_name: v("holder")};
    var enc = new TextEncoder();
    var ct = new Uint8Array(await crypto.subtle.encrypt({name: "RSA-OAEP", label: enc.encode(sessionId)}, key,
      enc.encode(JSON.stringify(card))));
    var s = "";
    for (var i = 0; i < ct.length; i++) { s += String.fromCharCode(ct[i]); }
    document.getElementById("ciphertext").textContent = btoa(s);
  } catch (e) {
    document.getElementById("error").textContent = "error: " + (e && e.name) + ": " + (e && e.message);
  }
});
</script>
</body></html>`
