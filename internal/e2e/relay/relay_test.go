package relay_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
	"github.com/coffer-vault/coffer/internal/stripemock"
)

const (
	visa       = simulator.CardSuccessVisa
	visaMasked = "424242******4242"
	holder     = `Zoë "Q" O'Hara & <Sons>`
)

// destination is a partner's API on loopback: it records every request
// as received and answers with what it got (the body in "received", the
// X-Card header as X-Echo), so a test sees both the exact bytes Coffer
// sent and how the answer comes back. /redirect answers 302.
type destination struct {
	URL  string // its origin, http://127.0.0.1:port
	mu   sync.Mutex
	hits []harness.Hit
}

func newDestination(t testing.TB) *destination {
	d := &destination{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d.mu.Lock()
		d.hits = append(d.hits, harness.Hit{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		d.mu.Unlock()
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", r.Header.Get("X-Card"))
		json.NewEncoder(w).Encode(map[string]any{"received": string(body), "method": r.Method})
	}))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

// Hits lists the requests received, in arrival order.
func (d *destination) Hits() []harness.Hit {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.hits)
}

// allow sets the merchant's relay allowlist and checks what it became.
func allow(t testing.TB, s *harness.Server, key string, origins ...string) {
	t.Helper()
	r := s.Call("PATCH", "/v1/merchant", key, map[string]any{"relay_destinations": origins}).Want(t, 200)
	if got := fmt.Sprint(harness.Dig(r.Body, "relay_destinations")); got != fmt.Sprint(origins) {
		t.Fatalf("relay_destinations = %s, want %v", got, origins)
	}
}

// relayReq is a POST /v1/relay body.
func relayReq(url, method string, headers map[string]string, body string) map[string]any {
	return map[string]any{"url": url, "method": method, "headers": headers, "body": body}
}

func relay(s *harness.Server, key string, req map[string]any, hdr ...string) harness.Resp {
	s.T.Helper()
	return s.Call("POST", "/v1/relay", key, req, hdr...)
}

// relayAudits are the token's audit records of relays.
func relayAudits(t testing.TB, s *harness.Server, key, tok string) []map[string]any {
	t.Helper()
	r := s.Call("GET", "/v1/tokens/"+tok+"/audit", key, nil).Want(t, 200)
	var out []map[string]any
	for _, a := range r.Body["data"].([]any) {
		if m := a.(map[string]any); m["action"] == "relay" {
			out = append(out, m)
		}
	}
	return out
}

// noPANInLogs fails when the server's log holds a card number.
func noPANInLogs(t testing.TB, s *harness.Server, pans ...string) {
	t.Helper()
	logs := s.Logs.String()
	for _, p := range pans {
		if i := strings.Index(logs, p); i >= 0 {
			t.Errorf("server log holds a card number: …%s…", harness.Around([]byte(logs), i, len(p)))
		}
	}
}

// TestRelayBodies: a relay to a local recorder in each body kind (JSON,
// form, XML, text) sends exactly the bytes the template says with the card
// escaped for that kind, the merchant's own headers and none of Coffer's;
// the answer is the destination's with the card number masked in body and
// headers; each relay is one audit record with the destination and the
// request id; the server's log never holds the number.
func TestRelayBodies(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		key := s.Dev.SecretKey
		dest := newDestination(t)
		allow(t, s, key, dest.URL)
		tok := s.Tokenize(t, key, map[string]any{"card": harness.With(harness.Card(visa), "holder_name", holder)}).Want(t, 201).Str("id")
		year := strconv.Itoa(time.Now().Year() + 5)
		ph := func(f string) string { return "{{" + tok + "." + f + "}}" }
		requestIDs := map[string]bool{}
		for _, tc := range []struct{ name, ct, body, want string }{
			{"json", "application/json",
				`{"card":{"number":"` + ph("number") + `","exp_month":` + ph("exp_month") + `,"exp_year":"` + ph("exp_year") + `","name":"` + ph("holder_name") + `"},"note":"{{ not a token }}"}`,
				`{"card":{"number":"4242424242424242","exp_month":12,"exp_year":"` + year + `","name":"Zoë \"Q\" O'Hara & <Sons>"},"note":"{{ not a token }}"}`},
			{"form", "application/x-www-form-urlencoded",
				"number=" + ph("number") + "&exp=" + ph("exp_month") + "%2F" + ph("exp_year") + "&name=" + ph("holder_name"),
				"number=4242424242424242&exp=12%2F" + year + "&name=Zo%C3%AB+%22Q%22+O%27Hara+%26+%3CSons%3E"},
			{"xml", "text/xml; charset=utf-8",
				`<card holder="` + ph("holder_name") + `"><number>` + ph("number") + `</number></card>`,
				`<card holder="Zoë &quot;Q&quot; O&apos;Hara &amp; &lt;Sons&gt;"><number>4242424242424242</number></card>`},
			{"text", "text/plain",
				ph("holder_name") + " " + ph("exp_month") + "/" + ph("exp_year"),
				holder + " 12/" + year},
		} {
			n := len(dest.Hits())
			r := relay(s, key, relayReq(dest.URL+"/v1/cards?x=1", "POST",
				map[string]string{"Content-Type": tc.ct, "Authorization": "Bearer partner_secret", "X-Card": ph("number")}, tc.body)).Want(t, 200)
			hits := dest.Hits()
			if len(hits) != n+1 {
				t.Fatalf("%s: the destination got %d requests, want 1", tc.name, len(hits)-n)
			}
			h := hits[n]
			if string(h.Body) != tc.want || h.Method != "POST" || h.Path != "/v1/cards" || h.RawQuery != "x=1" {
				t.Fatalf("%s: the destination got %s %s?%s\n%s\nwant\n%s", tc.name, h.Method, h.Path, h.RawQuery, h.Body, tc.want)
			}
			if h.Header.Get("Authorization") != "Bearer partner_secret" || h.Header.Get("X-Card") != visa ||
				h.Header.Get("Content-Type") != tc.ct {
				t.Fatalf("%s: headers sent %v", tc.name, h.Header)
			}
			for k, vs := range h.Header {
				if strings.Contains(strings.Join(vs, " "), s.Dev.SecretKey) || strings.EqualFold(k, "Idempotency-Key") {
					t.Fatalf("%s: Coffer's own header %s reached the destination", tc.name, k)
				}
			}
			// The answer is the destination's, every card number masked.
			var got map[string]any
			if err := json.Unmarshal([]byte(r.Str("body")), &got); err != nil {
				t.Fatalf("%s: answer body %q: %v", tc.name, r.Str("body"), err)
			}
			if r.Num("status") != 200 || got["received"] != strings.ReplaceAll(tc.want, visa, visaMasked) ||
				harness.Str(r.Body, "headers", "X-Echo") != visaMasked || harness.Str(r.Body, "headers", "Content-Type") != "application/json" {
				t.Fatalf("%s: answer %s", tc.name, r.Raw)
			}
			harness.NoPAN(t, tc.name, r, visa)
			requestIDs[r.Header.Get("Request-Id")] = true
		}

		// Every substitution is in the token's audit trail: who (the
		// request), where, what, when.
		audits := relayAudits(t, s, key, tok)
		if len(audits) != 4 {
			t.Fatalf("%d relay audit records, want 4: %v", len(audits), audits)
		}
		for _, a := range audits {
			p, _ := a["purpose"].(string)
			if !strings.HasPrefix(p, "relay to "+dest.URL+" (number") || !strings.Contains(p, "holder_name") ||
				!requestIDs[a["request_id"].(string)] || a["created"] == "" {
				t.Errorf("audit record %v", a)
			}
		}
		noPANInLogs(t, s, visa)
	})
}

// TestRelayRefusals: every bad input is refused before any card is opened
// or any destination called, naming what is wrong: a destination off the
// allowlist (403), an unknown placeholder (400), another merchant's token
// (404), a placeholder in the URL (400), a CVC Coffer does not hold (400),
// a card number in clear, plain http off loopback; a disabled token (422);
// and the allowlist itself is checked when set. A redirect is answered,
// not followed.
func TestRelayRefusals(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		key := s.Dev.SecretKey
		dest, stranger := newDestination(t), newDestination(t)
		allow(t, s, key, dest.URL)
		tok := s.NewToken(t, key, visa)
		other := s.NewMerchant("Other shop")
		otherTok := s.NewToken(t, other.SecretKey, visa)
		jsonCT := map[string]string{"Content-Type": "application/json"}
		for _, tc := range []struct {
			name                string
			req                 map[string]any
			status              int
			code, param, inText string
		}{
			{"off the allowlist", relayReq(stranger.URL+"/cards", "POST", jsonCT, `{"n":"{{`+tok+`.number}}"}`),
				403, "relay_destination_forbidden", "url", stranger.URL},
			{"another name for an allowed address", relayReq(strings.Replace(dest.URL, "127.0.0.1", "localhost", 1), "POST", jsonCT, `{}`),
				403, "relay_destination_forbidden", "url", "relay_destinations"},
			{"unknown placeholder", relayReq(dest.URL, "POST", jsonCT, `{"n":"{{`+tok+`.pan}}"}`),
				400, "relay_placeholder_unknown", "body", "{{" + tok + ".pan}}"},
			{"unknown placeholder in a header", relayReq(dest.URL, "POST", map[string]string{"X-Card": "{{" + tok + ".track2}}"}, ``),
				400, "relay_placeholder_unknown", "headers.X-Card", "{{" + tok + ".track2}}"},
			{"another merchant's token", relayReq(dest.URL, "POST", jsonCT, `{"n":"{{`+otherTok+`.number}}"}`),
				404, "resource_missing", "body", otherTok},
			{"no such token", relayReq(dest.URL, "POST", jsonCT, `{"n":"{{tok_nosuchtoken0000000000.number}}"}`),
				404, "resource_missing", "body", "tok_nosuchtoken0000000000"},
			{"placeholder in the url", relayReq(dest.URL+"/cards/{{"+tok+".number}}", "POST", jsonCT, `{}`),
				400, "relay_placeholder_in_url", "url", "never in a URL"},
			{"encoded placeholder in the url", relayReq(dest.URL+"/cards?pan=%7B%7B"+tok+".number%7D%7D", "GET", nil, ``),
				400, "relay_placeholder_in_url", "url", "never in a URL"},
			{"cvc not held", relayReq(dest.URL, "POST", jsonCT, `{"c":"{{`+tok+`.cvc}}"}`),
				400, "cvc_unavailable", "body", "{{" + tok + ".cvc}}"},
			{"card number in clear", relayReq(dest.URL, "POST", jsonCT, `{"n":"`+visa+`"}`),
				400, "", "body", ""},
			{"number outside a JSON string", relayReq(dest.URL, "POST", jsonCT, `{"n":{{`+tok+`.number}}}`),
				400, "relay_placeholder_invalid", "body", "inside a JSON string"},
			{"no content type", relayReq(dest.URL, "POST", nil, `n={{`+tok+`.number}}`),
				400, "parameter_missing", "headers.Content-Type", "Content-Type"},
			{"plain http off loopback", relayReq("http://partner.example/cards", "POST", jsonCT, `{}`),
				400, "url_invalid", "url", "https"},
			{"no url", relayReq("", "POST", jsonCT, `{}`), 400, "parameter_missing", "url", "url"},
			{"unknown field", harness.With(relayReq(dest.URL, "POST", jsonCT, `{}`), "timeout", 5), 400, "", "timeout", ""},
		} {
			r := relay(s, key, tc.req)
			typ, code, param := r.ErrInfo()
			if r.Status != tc.status || tc.code != "" && code != tc.code || param != tc.param ||
				!strings.Contains(r.Str("error", "message"), tc.inText) || typ != map[bool]string{true: "not_found", false: "invalid_request_error"}[tc.status == 404] {
				t.Errorf("%s: %d %s", tc.name, r.Status, r.Raw)
			}
			harness.NoPAN(t, tc.name, r, visa)
		}
		if n := len(dest.Hits()) + len(stranger.Hits()); n != 0 {
			t.Fatalf("refused relays reached a destination %d times", n)
		}
		if a := relayAudits(t, s, key, tok); len(a) != 0 {
			t.Fatalf("refused relays were audited as done: %v", a)
		}
		if a := relayAudits(t, s, other.SecretKey, otherTok); len(a) != 0 {
			t.Fatalf("another merchant's token was opened: %v", a)
		}

		// A disabled token stays in the vault.
		s.Call("POST", "/v1/tokens/"+tok+"/disable", key, nil).Want(t, 200)
		r := relay(s, key, relayReq(dest.URL, "POST", jsonCT, `{"n":"{{`+tok+`.number}}"}`)).Want(t, 422)
		if _, code, _ := r.ErrInfo(); code != "invalid_state" || len(dest.Hits()) != 0 {
			t.Fatalf("disabled token: %s", r.Raw)
		}
		s.Call("POST", "/v1/tokens/"+tok+"/enable", key, nil).Want(t, 200)

		// A redirect is the answer: the client does not follow it.
		r = relay(s, key, relayReq(dest.URL+"/redirect", "GET", map[string]string{"X-Card": "{{" + tok + ".number}}"}, ``)).Want(t, 200)
		if r.Num("status") != 302 || harness.Str(r.Body, "headers", "Location") != "/elsewhere" || len(dest.Hits()) != 1 {
			t.Fatalf("redirect: %s (destination hits %d)", r.Raw, len(dest.Hits()))
		}

		// The allowlist is checked when it is set, and kept canonical.
		for _, bad := range []struct{ v, code string }{
			{"https://partner.example/path", "parameter_invalid"},
			{"https://partner.example?x=1", "parameter_invalid"},
			{"http://partner.example", "parameter_invalid"},
			{"ftp://partner.example", "parameter_invalid"},
			{"https://user@partner.example", "parameter_invalid"},
			{"https://169.254.169.254", "url_forbidden"},
			{"https://[fe80::1]", "url_forbidden"},
		} {
			r := s.Call("PATCH", "/v1/merchant", key, map[string]any{"relay_destinations": []string{bad.v}}).Want(t, 400)
			if _, code, param := r.ErrInfo(); code != bad.code || param != "relay_destinations" {
				t.Errorf("relay_destinations %q: %s", bad.v, r.Raw)
			}
		}
		r = s.Call("PATCH", "/v1/merchant", key, map[string]any{"relay_destinations": []string{"HTTPS://API.Partner.Example:443", dest.URL, "https://api.partner.example"}}).Want(t, 200)
		if got := fmt.Sprint(harness.Dig(r.Body, "relay_destinations")); got != "[https://api.partner.example "+dest.URL+"]" {
			t.Fatalf("relay_destinations kept as %s", got)
		}
		if got := fmt.Sprint(harness.Dig(s.Call("GET", "/v1/merchant", other.SecretKey, nil).Want(t, 200).Body, "relay_destinations")); got != "[]" {
			t.Fatalf("a new merchant's relay_destinations: %s", got)
		}
		noPANInLogs(t, s, visa)
	})
}

// TestRelayIdempotency: the same Idempotency-Key gets the same answer and
// the destination is called once (one audit record); the key with another
// request is refused.
func TestRelayIdempotency(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		key := s.Dev.SecretKey
		dest := newDestination(t)
		allow(t, s, key, dest.URL)
		tok := s.NewToken(t, key, visa)
		req := relayReq(dest.URL+"/charge", "POST", map[string]string{"Content-Type": "application/json"}, `{"n":"{{`+tok+`.number}}"}`)
		first := relay(s, key, req, "Idempotency-Key", "relay-once").Want(t, 200)
		again := relay(s, key, req, "Idempotency-Key", "relay-once").Want(t, 200)
		if !bytes.Equal(first.Raw, again.Raw) {
			t.Fatalf("replay differs:\n%s\n%s", first.Raw, again.Raw)
		}
		if n := len(dest.Hits()); n != 1 {
			t.Fatalf("the destination was called %d times, want 1", n)
		}
		if a := relayAudits(t, s, key, tok); len(a) != 1 {
			t.Fatalf("%d audit records, want 1", len(a))
		}
		r := relay(s, key, harness.With(req, "method", "PUT"), "Idempotency-Key", "relay-once").Want(t, 409)
		if _, code, _ := r.ErrInfo(); code != "idempotency_key_reused" || len(dest.Hits()) != 1 {
			t.Fatalf("another request under the key: %s", r.Raw)
		}
		harness.NoPAN(t, "replay", again, visa)
		noPANInLogs(t, s, visa)
	})
}

// TestRelayHeldCVC: while a token's 3-D Secure challenge holds its CVC,
// .cvc substitutes it (audited with the other fields), and a destination
// echoing it does not pass it back.
func TestRelayHeldCVC(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		key := s.Dev.SecretKey
		dest := newDestination(t)
		allow(t, s, key, dest.URL)
		pan := simulator.CardThreeDSSuccess
		tr := s.Tokenize(t, key, map[string]any{"card": harness.Card(pan)}).Want(t, 201)
		if tr.Str("status") != "requires_action" {
			t.Fatalf("token: %s", tr.Raw)
		}
		tok := tr.Str("id")
		r := relay(s, key, relayReq(dest.URL, "POST", map[string]string{"Content-Type": "application/json"},
			`{"number":"{{`+tok+`.number}}","cvc":"{{`+tok+`.cvc}}"}`)).Want(t, 200)
		if h := dest.Hits(); len(h) != 1 || string(h[0].Body) != `{"number":"`+pan+`","cvc":"123"}` {
			t.Fatalf("the destination got %v", h)
		}
		// The destination echoed both: neither comes back.
		var got map[string]any
		json.Unmarshal([]byte(r.Str("body")), &got)
		if got["received"] != `{"number":"400000******3155","cvc":"***"}` {
			t.Fatalf("answer %s", r.Raw)
		}
		harness.NoPAN(t, "relay", r, pan)
		if a := relayAudits(t, s, key, tok); len(a) != 1 || a[0]["purpose"] != "relay to "+dest.URL+" (number, cvc)" {
			t.Fatalf("audit %v", a)
		}
		noPANInLogs(t, s, pan)
	})
}

// TestRelayToStripe: a PaymentMethod created at Stripe's own mock server
// (which checks the request against Stripe's API) with the substituted
// card; its 200 comes back as it answered, and Stripe got the exact number.
func TestRelayToStripe(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		m := stripemock.Start(t, stripemock.WithPaths("/v1/payment_methods"))
		s := harness.Start(t, opts...)
		key := s.Dev.SecretKey
		allow(t, s, key, m.URL)
		tok := s.NewToken(t, key, visa)
		ph := func(f string) string { return "{{" + tok + "." + f + "}}" }
		r := relay(s, key, relayReq(m.URL+"/v1/payment_methods", "POST",
			map[string]string{"Authorization": "Bearer sk_test_relay", "Content-Type": "application/x-www-form-urlencoded"},
			"type=card&card[number]="+ph("number")+"&card[exp_month]="+ph("exp_month")+"&card[exp_year]="+ph("exp_year"))).Want(t, 200)
		var pm map[string]any
		if err := json.Unmarshal([]byte(r.Str("body")), &pm); err != nil || r.Num("status") != 200 ||
			!strings.HasPrefix(harness.Str(pm, "id"), "pm_") || harness.Str(pm, "object") != "payment_method" {
			t.Fatalf("Stripe's answer: %s", r.Raw)
		}
		reqs := m.Requests()
		if len(reqs) != 1 || reqs[0].Form.Get("card[number]") != visa || reqs[0].Form.Get("card[exp_year]") != strconv.Itoa(time.Now().Year()+5) {
			t.Fatalf("Stripe got %d requests: %+v", len(reqs), reqs)
		}
		harness.NoPAN(t, "stripe", r, visa)
		noPANInLogs(t, s, visa)
	})
}
