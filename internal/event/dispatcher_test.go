package event

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/coffer-vault/coffer/internal/store"
)

// An endpoint's delivery and a callback both arrive signed the Standard
// Webhooks way, with the exact body signed, and are recorded as succeeded.
func TestDeliversSigned(t *testing.T) {
	e := newEnv(t)
	var epSecret string
	rc := newReceiver(t) // secrets added below: the URL is needed first
	ep, epSecret := e.endpoint(rc.srv.URL + "/hooks?src=coffer")
	wh, _ := standardwebhooks.NewWebhook(epSecret)
	rc.verify = append(rc.verify, wh)
	ev := e.event("payment.succeeded")
	dl := e.deliver(ev, ep, "")

	cb := newReceiver(t, SecretPrefix+base64Std(e.secrets.callback))
	cbl := e.deliver(ev, nil, cb.srv.URL+"/callback")

	stop := e.run(New(e.config()))
	e.waitStatus(dl.ID, store.DeliverySucceeded, 10*time.Second)
	e.waitStatus(cbl.ID, store.DeliverySucceeded, 10*time.Second)
	stop()

	for _, r := range []*receiver{rc, cb} {
		got := r.requests()
		if len(got) != 1 {
			t.Fatalf("receiver got %d requests, want 1", len(got))
		}
		h := got[0].header
		if !bytes.Equal(got[0].body, Body(ev)) {
			t.Errorf("body %s, want %s", got[0].body, Body(ev))
		}
		var raw struct {
			Data struct{ Object json.RawMessage }
		}
		if err := json.Unmarshal(got[0].body, &raw); err != nil || !bytes.Equal(raw.Data.Object, compact(t, ev.Data)) {
			t.Errorf("object %s, want %s", raw.Data.Object, ev.Data)
		}
		ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
		if h.Get("webhook-id") != ev.ID || err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute ||
			h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "Coffer-Webhooks/1" ||
			len(strings.Fields(h.Get("webhook-signature"))) != 1 {
			t.Errorf("headers %v", h)
		}
	}
	as := e.attempts(dl.ID)
	if len(as) != 1 || as[0].Attempt != 1 || as[0].StatusCode != 200 || as[0].Error != "" || as[0].At.IsZero() {
		for _, a := range as {
			t.Logf("attempt %+v", *a)
		}
		t.Fatalf("attempts %+v", as)
	}
	if got := e.delivery(dl.ID); got.Attempts != 1 || got.LastStatus != 200 || got.LockedUntil.After(time.Now()) {
		t.Fatalf("delivery %+v", got)
	}
	noSecretsIn(t, e.logs.String(), []string{epSecret, SecretPrefix + base64Std(e.secrets.callback)}, Body(ev))
	if !strings.Contains(e.logs.String(), dl.ID) || !strings.Contains(e.logs.String(), ev.ID) {
		t.Errorf("logs do not name the delivery and event:\n%s", e.logs)
	}
}

// During a rotation's grace a delivery carries two signatures, each of
// which verifies alone; once the grace is over, only the current one.
func TestRotationSignsWithBothSecrets(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	ep, cur := e.endpoint(rc.srv.URL)
	prev := NewSecret()
	ep.PreviousCT, ep.PreviousUntil = []byte("sealed-old"), time.Now().Add(24*time.Hour)
	e.write(func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(ep) })
	e.secrets.set(ep.ID, mustSecret(t, cur), mustSecret(t, prev))
	for _, s := range []string{cur, prev} {
		wh, _ := standardwebhooks.NewWebhook(s)
		rc.verify = append(rc.verify, wh) // the receiver requires every one to verify
	}
	ev := e.event("payment.captured")
	dl := e.deliver(ev, ep, "")
	stop := e.run(New(e.config()))
	e.waitStatus(dl.ID, store.DeliverySucceeded, 10*time.Second)
	stop()
	if sigs := strings.Fields(rc.requests()[0].header.Get("webhook-signature")); len(sigs) != 2 {
		t.Fatalf("signatures %q, want two", sigs)
	}

	// The grace period ended: even if the secrets' source still offers the
	// previous secret, it no longer signs.
	rc2 := newReceiver(t)
	ep2, cur2 := e.endpoint(rc2.srv.URL)
	ep2.PreviousCT, ep2.PreviousUntil = []byte("sealed-old"), time.Now().Add(-time.Second)
	e.write(func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(ep2) })
	e.secrets.set(ep2.ID, mustSecret(t, cur2), mustSecret(t, prev))
	wh2, _ := standardwebhooks.NewWebhook(cur2)
	rc2.verify = append(rc2.verify, wh2)
	dl2 := e.deliver(ev, ep2, "")
	stop = e.run(New(e.config()))
	e.waitStatus(dl2.ID, store.DeliverySucceeded, 10*time.Second)
	stop()
	r := rc2.requests()[0]
	if sigs := strings.Fields(r.header.Get("webhook-signature")); len(sigs) != 1 {
		t.Fatalf("after the grace: signatures %q, want one", sigs)
	}
	old, _ := standardwebhooks.NewWebhook(prev)
	if err := old.Verify(r.body, r.header); err == nil {
		t.Fatal("after the grace the previous secret still verifies")
	}
}

// A receiver failing 3 times then succeeding gets the event, and the log
// shows 4 attempts, all with the same webhook-id and all verifiable.
func TestRetriesUntilSuccess(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	ep, s := e.endpoint(rc.srv.URL)
	wh, _ := standardwebhooks.NewWebhook(s)
	rc.verify = []*standardwebhooks.Webhook{wh}
	rc.respond = func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 3 {
			http.Error(w, strings.Repeat("upstream exploded ", 10000), 500+n) // a long body: only drained
		}
	}
	ev := e.event("payment.succeeded")
	dl := e.deliver(ev, ep, "")
	stop := e.run(New(e.config()))
	got := e.waitStatus(dl.ID, store.DeliverySucceeded, 10*time.Second)
	stop()

	if got.Attempts != 4 || got.LastStatus != 200 {
		t.Fatalf("delivery %+v", got)
	}
	as := e.attempts(dl.ID)
	if len(as) != 4 {
		t.Fatalf("%d attempts logged, want 4", len(as))
	}
	for i, a := range as {
		wantStatus, wantErr := 501+i, "HTTP "+strconv.Itoa(501+i)
		if i == 3 {
			wantStatus, wantErr = 200, ""
		}
		if a.Attempt != i+1 || a.StatusCode != wantStatus || a.Error != wantErr || a.LatencyMS < 0 {
			t.Errorf("attempt %d: %+v, want status %d error %q", i+1, a, wantStatus, wantErr)
		}
		if i > 0 && a.At.Before(as[i-1].At) {
			t.Errorf("attempt %d before attempt %d", i+1, i)
		}
	}
	reqs := rc.requests()
	if len(reqs) != 4 {
		t.Fatalf("receiver got %d requests, want 4", len(reqs))
	}
	for _, r := range reqs {
		if r.header.Get("webhook-id") != ev.ID || !bytes.Equal(r.body, reqs[0].body) {
			t.Errorf("a retry changed the message: %v", r.header)
		}
	}
	if strings.Contains(e.logs.String(), "upstream exploded") {
		t.Error("a response body reached the logs")
	}
}

// A receiver that answers after Timeout counts as a failed attempt with
// no status; the next attempt is made and can succeed.
func TestTimeoutIsAFailedAttempt(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	rc := newReceiver(t)
	rc.respond = func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}
	ep, _ := e.endpoint(rc.srv.URL)
	dl := e.deliver(e.event("payment.succeeded"), ep, "")
	c := e.config()
	c.Timeout = 300 * time.Millisecond
	stop := e.run(New(c))
	e.waitStatus(dl.ID, store.DeliverySucceeded, 10*time.Second)
	stop()
	as := e.attempts(dl.ID)
	if len(as) != 2 {
		t.Fatalf("attempts %+v, want 2", as)
	}
	if a := as[0]; a.StatusCode != 0 || !strings.Contains(a.Error, "timed out") || a.LatencyMS < 250 || a.LatencyMS > 5000 {
		t.Fatalf("first attempt %+v, want a timeout after about 300ms", a)
	}
}

// A redirect is not followed: the attempt fails with the 3xx status and
// the redirect's target never hears of the event.
func TestRedirectIsAFailure(t *testing.T) {
	e := newEnv(t)
	var target atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { target.Add(1) }))
	t.Cleanup(elsewhere.Close)
	rc := newReceiver(t)
	rc.respond = func(n int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
	}
	ep, _ := e.endpoint(rc.srv.URL)
	dl := e.deliver(e.event("payment.succeeded"), ep, "")
	stop := e.run(New(e.config()))
	waitFor(t, 10*time.Second, func() bool { return len(e.attempts(dl.ID)) >= 2 }, func() string { return "no retries" })
	stop()
	a := e.attempts(dl.ID)[0]
	if a.StatusCode != 307 || !strings.Contains(a.Error, "redirect") || target.Load() != 0 {
		t.Fatalf("attempt %+v, redirect target hit %d times", a, target.Load())
	}
}

// A delivery failing past MaxAge is given up: failed, and tried no more.
func TestGivesUpAfterMaxAge(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	rc.respond = func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }
	ep, _ := e.endpoint(rc.srv.URL)
	dl := e.deliver(e.event("payment.failed"), ep, "")
	c := e.config()
	c.MaxAge = 400 * time.Millisecond
	d := New(c)
	stop := e.run(d)
	got := e.waitStatus(dl.ID, store.DeliveryFailed, 10*time.Second)
	n := rc.count()
	time.Sleep(300 * time.Millisecond)
	stop()
	if rc.count() != n {
		t.Fatal("a failed delivery was tried again")
	}
	as := e.attempts(dl.ID)
	if got.Attempts < 2 || len(as) != got.Attempts || got.LastStatus != 503 {
		t.Fatalf("delivery %+v, %d attempts logged", got, len(as))
	}
	last := as[len(as)-1]
	if last.At.Sub(got.Created) < c.MaxAge-10*time.Millisecond {
		t.Errorf("gave up %v after creation, before MaxAge %v", last.At.Sub(got.Created), c.MaxAge)
	}
	if d.Stats().GaveUp != 1 {
		t.Errorf("stats %+v", d.Stats())
	}
}

// A deleted endpoint's deliveries fail without being sent.
func TestDeletedEndpointIsNotSent(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	ep, _ := e.endpoint(rc.srv.URL)
	dl := e.deliver(e.event("token.deleted"), ep, "")
	now := time.Now().UTC()
	ep.Deleted, ep.SecretCT = &now, nil
	e.write(func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(ep) })
	stop := e.run(New(e.config()))
	got := e.waitStatus(dl.ID, store.DeliveryFailed, 10*time.Second)
	stop()
	if rc.count() != 0 || got.Attempts != 0 || len(e.attempts(dl.ID)) != 0 {
		t.Fatalf("deleted endpoint: %d requests, delivery %+v", rc.count(), got)
	}
}

// A slow endpoint takes at most PerURL workers; another endpoint's
// delivery goes out at once while the slow one is stuck — also when the
// slow endpoint's backlog is longer than one page of due deliveries.
func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	for _, backlog := range []int{6, 40} {
		t.Run(strconv.Itoa(backlog), func(t *testing.T) {
			e := newEnv(t)
			release := make(chan struct{})
			slow := newReceiver(t)
			slow.respond = func(n int, w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
			fast := newReceiver(t)
			slowEP, _ := e.endpoint(slow.srv.URL)
			fastEP, _ := e.endpoint(fast.srv.URL)
			var slowDL []*store.Delivery
			for range backlog {
				slowDL = append(slowDL, e.deliver(e.event("payment.succeeded"), slowEP, ""))
			}
			c := e.config()
			c.Timeout = 30 * time.Second // stuck for the whole test
			d := New(c)
			d.page = 8 // the 40-delivery backlog is five pages deep
			stop := e.run(d)
			t.Cleanup(func() { close(release); stop() })
			waitFor(t, 10*time.Second, func() bool { return slow.count() == 2 }, func() string { return "the slow endpoint was not tried" })

			fastDL := e.deliver(e.event("payment.succeeded"), fastEP, "")
			start := time.Now()
			d.Wake()
			e.waitStatus(fastDL.ID, store.DeliverySucceeded, 10*time.Second)
			took := time.Since(start)
			t.Logf("fast endpoint delivered in %v while the slow one was stuck", took)
			if took > 3*time.Second {
				t.Errorf("the fast endpoint waited %v", took)
			}
			if slow.count() != 2 || slow.most() != 2 {
				t.Errorf("slow endpoint: %d requests, %d at once; want PerURL = 2", slow.count(), slow.most())
			}
			for _, dl := range slowDL {
				if got := e.delivery(dl.ID); got.Status != store.DeliveryPending || got.Attempts != 0 {
					t.Errorf("slow delivery %+v", got)
				}
			}
		})
	}
}

// A dispatcher stopped mid-retry leaves everything in the store: a new
// one, on the store reopened, carries on. A delivery leased by a
// dispatcher that died waits for the lease to lapse, then goes out.
func TestRestartCarriesOn(t *testing.T) {
	e := newEnv(t)
	var healthy atomic.Bool
	rc := newReceiver(t)
	rc.respond = func(n int, w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(500)
		}
	}
	ep, _ := e.endpoint(rc.srv.URL)
	retried := e.deliver(e.event("payment.succeeded"), ep, "")
	c := e.config()
	c.RetryBase, c.MaxRetryDelay = 300*time.Millisecond, 300*time.Millisecond
	stop := e.run(New(c))
	waitFor(t, 10*time.Second, func() bool { return len(e.attempts(retried.ID)) >= 1 }, func() string { return "no attempt" })
	stop()
	if got := e.delivery(retried.ID); got.Status != store.DeliveryPending || got.Attempts == 0 {
		t.Fatalf("after stopping: %+v", got)
	}

	// "Restart": close the store, open it again, and start a new dispatcher.
	e.st.Close()
	e.st = e.open()
	healthy.Store(true)
	leased := e.deliver(e.event("payment.captured"), ep, "")
	lease := time.Now().Add(time.Second)
	e.write(func(tx store.Tx) error {
		leased.LockedUntil = lease // as a dispatcher that died mid-send left it
		return tx.UpdateDelivery(leased)
	})
	stop = e.run(New(e.config()))
	e.waitStatus(retried.ID, store.DeliverySucceeded, 10*time.Second)
	got := e.waitStatus(leased.ID, store.DeliverySucceeded, 10*time.Second)
	stop()
	as := e.attempts(leased.ID)
	if got.Attempts != 1 || len(as) != 1 || as[0].At.Before(lease.Add(-time.Millisecond)) {
		t.Fatalf("leased delivery sent at %v, lease until %v: %+v", as[0].At, lease, got)
	}
}

// Two dispatchers — two server instances — on one database: every
// delivery is sent exactly once (the receiver always succeeds), and none
// twice at the same time.
func TestTwoDispatchersNeverDoubleSend(t *testing.T) {
	e := newEnv(t)
	var rcs []*receiver
	var dls []*store.Delivery
	for range 4 {
		rc := newReceiver(t)
		rc.respond = func(n int, w http.ResponseWriter, r *http.Request) { time.Sleep(time.Duration(n%5) * time.Millisecond) }
		rcs = append(rcs, rc)
		ep, _ := e.endpoint(rc.srv.URL)
		for range 40 {
			dls = append(dls, e.deliver(e.event("payment.succeeded"), ep, ""))
		}
	}
	other := e.open() // the second instance's own connection to the database
	c1, c2 := e.config(), e.config()
	c2.Store = other
	c1.Poll, c2.Poll = time.Millisecond, time.Millisecond // poll hard, to collide
	d1, d2 := New(c1), New(c2)
	d1.page, d2.page = 16, 16 // so both park and claim over each other
	e.run(d1)
	e.run(d2)
	for _, dl := range dls {
		e.waitStatus(dl.ID, store.DeliverySucceeded, 30*time.Second)
	}
	seen := map[string]int{}
	for _, rc := range rcs {
		for _, r := range rc.requests() {
			seen[r.header.Get("webhook-id")]++
		}
		if rc.most() > 2*2 {
			t.Errorf("an endpoint had %d requests at once, want at most PerURL (2) per dispatcher", rc.most())
		}
	}
	for _, dl := range dls {
		if seen[dl.EventID] != 1 {
			t.Errorf("event %s received %d times", dl.EventID, seen[dl.EventID])
		}
		if n := len(e.attempts(dl.ID)); n != 1 {
			t.Errorf("delivery %s has %d attempts", dl.ID, n)
		}
	}
	s1, s2 := d1.Stats(), d2.Stats()
	t.Logf("dispatcher 1: %+v; dispatcher 2: %+v", s1, s2)
	if s1.Succeeded+s2.Succeeded != int64(len(dls)) {
		t.Errorf("successes %d + %d, want %d", s1.Succeeded, s2.Succeeded, len(dls))
	}
}

// The dispatcher's own client refuses to connect to a loopback address
// unless private addresses are allowed, whatever the URL looked like:
// "localhost" resolves to 127.0.0.1 only at connect time.
func TestDialerRefusesForbiddenAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]

	strict := New(Config{AllowPrivate: false, Timeout: 5 * time.Second})
	for _, u := range []string{"http://localhost:" + port + "/", srv.URL + "/"} {
		resp, err := strict.client.Post(u, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("connected to %s", u)
		}
		var ae *AddressError
		if !errors.As(err, &ae) || !strings.Contains(ae.Error(), "loopback") {
			t.Fatalf("%s: error %v, want an AddressError", u, err)
		}
		if d := describe(err, time.Second); !strings.Contains(d, "refused by policy") || strings.Contains(d, "http://") {
			t.Errorf("describe = %q", d)
		}
	}
	if hits.Load() != 0 {
		t.Fatal("the receiver was reached")
	}

	lax := New(Config{AllowPrivate: true, Timeout: 5 * time.Second})
	resp, err := lax.client.Post("http://localhost:"+port+"/", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("allowPrivate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits.Load() != 1 {
		t.Fatalf("allowPrivate: status %d (redirects must not be followed), %d hits", resp.StatusCode, hits.Load())
	}

	for _, addr := range []string{"169.254.169.254:80", "[fe80::1]:80", "[::ffff:127.0.0.1]:80", "10.0.0.1:443"} {
		if err := dialControl(false)("tcp", addr, nil); err == nil {
			t.Errorf("dialControl(false) allowed %s", addr)
		}
	}
	if err := dialControl(true)("tcp", "169.254.169.254:80", nil); err == nil {
		t.Error("dialControl(true) allowed the metadata service")
	}
	if err := dialControl(true)("tcp", "10.0.0.1:443", nil); err != nil {
		t.Errorf("dialControl(true) refused a private address: %v", err)
	}
}

// With private addresses refused, a queued delivery to a loopback URL is
// never sent: each attempt is logged as refused.
func TestDispatcherRefusesForbiddenURL(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t)
	ep, _ := e.endpoint(rc.srv.URL)
	dl := e.deliver(e.event("payment.succeeded"), ep, "")
	c := e.config()
	c.AllowPrivate = false
	stop := e.run(New(c))
	waitFor(t, 10*time.Second, func() bool { return len(e.attempts(dl.ID)) >= 1 }, func() string { return "no attempt" })
	stop()
	a := e.attempts(dl.ID)[0]
	if rc.count() != 0 || a.StatusCode != 0 || !strings.Contains(a.Error, "loopback") {
		t.Fatalf("attempt %+v, %d requests", a, rc.count())
	}
}

func compact(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
