package webhooks

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestWebhookEndpoints: creation rules (http(s) only, no metadata or
// link-local address, event filters), secret rotation with both secrets
// valid, deletion, and the events list with filters.
func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	for _, bad := range []map[string]any{
		{"url": "ftp://shop.example/hooks"},
		{"url": "http://169.254.169.254/latest/meta-data"},
		{"url": "http://[fe80::1]/x"},
		{"url": "https://shop.example/hooks", "events": []string{"payment.exploded"}},
		{},
	} {
		r := s.Call("POST", "/v1/webhook_endpoints", sk, bad)
		if r.Status != 400 || (r.Str("error", "param") != "url" && r.Str("error", "param") != "events") {
			t.Errorf("%v: %d %s", bad, r.Status, r.Raw)
		}
		undoEndpoint(t, s, sk, r)
	}
	rv := harness.NewReceiver(t)
	epID := rv.Register(t, s, sk, "token.*")
	if l := s.Call("GET", "/v1/webhook_endpoints", sk, nil).Want(t, 200); len(l.Body["data"].([]any)) != 1 || strings.Contains(string(l.Raw), "whsec_") {
		t.Errorf("list (must not show secrets): %s", l.Raw)
	}
	old := rv.Secret()
	rot := s.Call("POST", "/v1/webhook_endpoints/"+epID+"/rotate_secret", sk, nil).Want(t, 200)
	if rot.Str("secret") == old || rot.Str("previous_secret_expires") == "" {
		t.Fatalf("rotate: %s", rot.Raw)
	}
	// The receiver still knows only the old secret: deliveries carry both
	// signatures during the grace period, so it verifies.
	s.Tokenize(t, sk, map[string]any{"card": harness.Card("5555555555554444")}).Want(t, 201)
	harness.WaitUntil(t, 10*time.Second, "token.created with the old secret", func() bool { return len(rv.OfType("token.created")) == 1 })
	rv.SetSecret(rot.Str("secret"))
	s.Tokenize(t, sk, map[string]any{"card": harness.Card("378282246310005")}).Want(t, 201)
	harness.WaitUntil(t, 10*time.Second, "token.created with the new secret", func() bool { return len(rv.OfType("token.created")) == 2 })
	if len(rv.OfType("payment.succeeded")) != 0 {
		t.Errorf("a token.* endpoint got payment events")
	}
	evs := s.Call("GET", "/v1/events?type=token.created&limit=1", sk, nil).Want(t, 200)
	if d := evs.Body["data"].([]any); len(d) != 1 || evs.Body["has_more"] != true {
		t.Errorf("events page: %s", evs.Raw)
	}
	s.Call("DELETE", "/v1/webhook_endpoints/"+epID, sk, nil).Want(t, 200)
	s.Call("GET", "/v1/webhook_endpoints/"+epID, sk, nil).Want(t, 404)
	other := s.NewMerchant("Other")
	s.Call("GET", "/v1/events/"+harness.Dig(evs.Body["data"].([]any)[0], "id").(string), other.SecretKey, nil).Want(t, 404)
}

// TestWebhookAddressRules: with private addresses not allowed, literal
// forbidden hosts in every spelling are refused at creation; a DNS name that
// resolves to loopback passes creation but is refused when dialled; a
// redirect is a failed attempt, never followed.
func TestWebhookAddressRules(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhooksAllowPrivate(false), harness.WithWebhookRetryBase(time.Hour))
	sk := s.Dev.SecretKey
	for _, u := range []string{
		"http://169.254.169.254/", "http://169.254.1.1/", "http://127.0.0.1/", "http://localhost/", "http://LOCALHOST/",
		"http://a.localhost/", "http://2130706433/", "http://0x7f000001/", "http://127.1/", "http://0177.0.0.1/",
		"http://10.1.2.3/", "http://192.168.0.1/", "http://0.0.0.0/", "http://[::ffff:169.254.169.254]/", "http://[::1]/",
		"http://[fe80::1%25eth0]/", "file:///etc/passwd", "gopher://x/",
	} {
		if r := s.Call("POST", "/v1/webhook_endpoints", sk, map[string]any{"url": u}); r.Status != 400 {
			t.Errorf("%s: %d %s", u, r.Status, r.Raw)
			undoEndpoint(t, s, sk, r)
		}
	}
	// "vm" is in /etc/hosts as 127.0.0.1 on the review machine; any name
	// that resolves to loopback will do.
	rr := newRawReceiver(t)
	port := rr.URL[strings.LastIndex(rr.URL, ":")+1:]
	host := "vm"
	if addrs, err := net.LookupHost(host); err != nil || len(addrs) == 0 || !net.ParseIP(addrs[0]).IsLoopback() {
		t.Skipf("no local name resolves to loopback here (%v %v)", addrs, err)
	}
	s.Call("POST", "/v1/webhook_endpoints", sk, map[string]any{"url": "http://" + host + ":" + port, "events": []string{"token.*"}}).Want(t, 201)
	tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242")}).Want(t, 201)
	evs := s.Events(t, sk, "type=token.created&object="+tok.Str("id"))
	if len(evs) != 1 {
		t.Fatalf("events: %v", evs)
	}
	var ev harness.Resp
	harness.WaitUntil(t, 10*time.Second, "the refused attempt", func() bool {
		ev = s.Call("GET", "/v1/events/"+evs[0]["id"].(string), sk, nil).Want(t, 200)
		ds, _ := harness.Dig(ev.Body, "deliveries").([]any)
		return len(ds) == 1 && len(harness.Dig(ds[0], "attempts").([]any)) == 1
	})
	if a := harness.Dig(harness.Dig(ev.Body, "deliveries").([]any)[0], "attempts").([]any)[0]; !strings.Contains(fmt.Sprint(harness.Dig(a, "error")), "policy") {
		t.Errorf("attempt: %v", a)
	}
	if len(rr.all()) != 0 {
		t.Errorf("a name resolving to loopback was delivered to")
	}
}

// TestWebhookCallbackURLCheckedAtCreation: a webhook endpoint's URL
// is checked against the address rules at creation (metadata and
// link-local always refused, loopback/private unless allowed), but a
// session's callback_url — which gets the same signed deliveries — is only
// checked for http(s) syntax: sessions are created with callback_url
// pointing at the cloud metadata service or (private not allowed) at
// loopback. README: "The check is made at creation and again on the
// address actually dialled".
func TestWebhookCallbackURLCheckedAtCreation(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.WithWebhooksAllowPrivate(false))
	sk := s.Dev.SecretKey
	for _, u := range []string{
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://100.100.100.200/latest/meta-data",
		"http://127.0.0.1:9/callback",
		"http://localhost:9/callback",
		"http://10.0.0.8/callback",
		"http://2130706433/callback",
	} {
		// The same URL as a webhook endpoint is refused…
		if r := s.Call("POST", "/v1/webhook_endpoints", sk, map[string]any{"url": u}); r.Status != 400 {
			t.Errorf("webhook endpoint %s: %d %s", u, r.Status, r.Raw)
		}
		// …and as a session's callback_url it must be too.
		r := s.Call("POST", "/v1/sessions", sk, map[string]any{"amount": 1000, "callback_url": u})
		if r.Status != 400 || r.Str("error", "param") != "callback_url" {
			t.Errorf("session callback_url %s accepted: %d (callback_url %v)", u, r.Status, harness.Dig(r.Body, "callback_url"))
		}
	}
}

// undoEndpoint deletes an endpoint a refusal test expected to be refused
// but was made: the events the test causes next must never be sent to an
// address off this machine.
func undoEndpoint(t *testing.T, s *harness.Server, sk string, r harness.Resp) {
	t.Helper()
	if r.Status/100 == 2 && r.Str("id") != "" {
		s.Call("DELETE", "/v1/webhook_endpoints/"+r.Str("id"), sk, nil)
	}
}

// TestEndpointChangesReachTheNextEvent: the server keeps a merchant's
// endpoints in memory for the fan-out (SQLite); an endpoint added after
// events have been fanned out gets the next event, and a deleted one gets
// none, on both backends.
func TestEndpointChangesReachTheNextEvent(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		tokenize := func() string {
			return s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242"), "verify": false}).Want(t, 201).Str("id")
		}
		a := harness.NewReceiver(t)
		aID := a.Register(t, s, sk, "token.created")
		for range 3 {
			tokenize()
		}
		harness.WaitUntil(t, 15*time.Second, "three events at the first endpoint", func() bool { return len(a.OfType("token.created")) == 3 })

		b := harness.NewReceiver(t)
		b.Register(t, s, sk, "token.created")
		tok := tokenize()
		harness.WaitUntil(t, 15*time.Second, "the added endpoint's first event", func() bool {
			for _, e := range b.OfType("token.created") {
				if harness.Dig(e, "data", "object", "id") == tok {
					return true
				}
			}
			return false
		})

		s.Call("DELETE", "/v1/webhook_endpoints/"+aID, sk, nil).Want(t, 200)
		tok = tokenize()
		evs := s.Events(t, sk, "type=token.created&object="+tok)
		if len(evs) != 1 {
			t.Fatalf("%d events for %s", len(evs), tok)
		}
		ev := s.Call("GET", "/v1/events/"+evs[0]["id"].(string), sk, nil).Want(t, 200)
		dls, _ := ev.Body["deliveries"].([]any)
		if len(dls) != 1 || harness.Str(dls[0], "url") != b.URL {
			t.Errorf("deliveries after deleting an endpoint: %s", ev.Raw)
		}
	})
}
