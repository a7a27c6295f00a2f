package event

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
)

// env is a real SQLite store with one merchant, and the secrets the
// payment service would unseal for it.
type env struct {
	t       *testing.T
	dir     string
	st      store.Store
	m       *store.Merchant
	secrets *fakeSecrets
	logs    *syncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), secrets: &fakeSecrets{eps: map[string][2][]byte{}}, logs: &syncBuffer{}}
	e.st = e.open()
	e.m = &store.Merchant{ID: id.New("mer"), Name: "m", SecretKeyHash: []byte(id.New("h")), PublishableKey: id.New("pk"),
		HMACSecretCT: []byte{1}, Created: time.Now().UTC()}
	e.write(func(tx store.Tx) error { return tx.InsertMerchant(e.m) })
	e.secrets.callback = mustSecret(t, NewSecret())
	return e
}

// open opens (another handle on) the store in the env's folder.
func (e *env) open() store.Store {
	e.t.Helper()
	st, err := sqlite.Open(context.Background(), e.dir)
	if err != nil {
		e.t.Fatalf("sqlite.Open: %v", err)
	}
	e.t.Cleanup(func() { st.Close() })
	return st
}

func (e *env) write(fn func(store.Tx) error) {
	e.t.Helper()
	if err := e.st.Write(context.Background(), fn); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) read(fn func(store.Tx) error) {
	e.t.Helper()
	if err := e.st.Read(context.Background(), fn); err != nil {
		e.t.Fatal(err)
	}
}

func mustSecret(t *testing.T, s string) []byte {
	t.Helper()
	k, err := ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// endpoint registers a webhook endpoint with a fresh secret (returned in
// its whsec_ form, as a receiver would configure it).
func (e *env) endpoint(url string) (*store.WebhookEndpoint, string) {
	e.t.Helper()
	now := time.Now().UTC()
	ep := &store.WebhookEndpoint{ID: id.New("we"), MerchantID: e.m.ID, URL: url, Events: []string{"*"},
		SecretCT: []byte("sealed"), Created: now, Updated: now}
	e.write(func(tx store.Tx) error { return tx.InsertWebhookEndpoint(ep) })
	s := NewSecret()
	e.secrets.set(ep.ID, mustSecret(e.t, s), nil)
	return ep, s
}

func (e *env) event(typ string) *store.Event {
	e.t.Helper()
	ev := &store.Event{ID: id.NewOrdered("evt"), MerchantID: e.m.ID, Type: typ, ObjectType: "payment", ObjectID: id.New("pay"),
		Created: time.Now().UTC()}
	ev.Data = fmt.Appendf(nil, `{"id": %q, "object": "payment", "amount": 1000, "currency": "MYR", "note": "<&>"}`, ev.ObjectID)
	e.write(func(tx store.Tx) error { return tx.InsertEvent(ev) })
	// As stored (times to the store's precision): what the dispatcher sends.
	e.read(func(tx store.Tx) (err error) { ev, err = tx.GetEvent(e.m.ID, ev.ID); return })
	return ev
}

// deliver queues an event for an endpoint (ep nil: a callback to url).
func (e *env) deliver(ev *store.Event, ep *store.WebhookEndpoint, url string) *store.Delivery {
	e.t.Helper()
	now := time.Now().UTC()
	dl := &store.Delivery{ID: id.NewOrdered("dlv"), MerchantID: e.m.ID, EventID: ev.ID, URL: url, Status: store.DeliveryPending,
		NextAttempt: now, Created: now, Updated: now}
	if ep != nil {
		dl.EndpointID, dl.URL = ep.ID, ep.URL
	}
	e.write(func(tx store.Tx) error { return tx.InsertDelivery(dl) })
	return dl
}

func (e *env) delivery(dlID string) *store.Delivery {
	e.t.Helper()
	var dl *store.Delivery
	e.read(func(tx store.Tx) (err error) { dl, err = tx.GetDelivery(dlID); return })
	return dl
}

func (e *env) attempts(dlID string) []*store.DeliveryAttempt {
	e.t.Helper()
	var as []*store.DeliveryAttempt
	e.read(func(tx store.Tx) (err error) { as, err = tx.ListDeliveryAttempts(dlID); return })
	return as
}

// config is a dispatcher configuration quick enough for tests; receivers
// are httptest servers on loopback, hence AllowPrivate.
func (e *env) config() Config {
	return Config{Store: e.st, Secrets: e.secrets, Log: slog.New(slog.NewTextHandler(io.MultiWriter(e.logs, e.t.Output()), nil)),
		AllowPrivate: true, Timeout: 5 * time.Second, RetryBase: 20 * time.Millisecond, MaxRetryDelay: 200 * time.Millisecond,
		Poll: 20 * time.Millisecond}
}

// run starts d; the returned function stops it and waits for Run to end.
func (e *env) run(d *Dispatcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				e.t.Error("Run did not return after its context ended")
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

func (e *env) waitStatus(dlID, status string, within time.Duration) *store.Delivery {
	e.t.Helper()
	var dl *store.Delivery
	waitFor(e.t, within, func() bool { dl = e.delivery(dlID); return dl.Status == status },
		func() string {
			return fmt.Sprintf("delivery %s is %s after %d attempts, want %s", dlID, dl.Status, dl.Attempts, status)
		})
	return dl
}

func waitFor(t *testing.T, within time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeSecrets stands in for the payment service, which unseals secrets
// with the vault. Like it, it returns a previous secret when it has one;
// unlike it, it does not check the grace period — the dispatcher must.
type fakeSecrets struct {
	mu       sync.Mutex
	eps      map[string][2][]byte
	callback []byte
}

func (f *fakeSecrets) set(epID string, cur, prev []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.eps[epID] = [2][]byte{cur, prev}
}

func (f *fakeSecrets) EndpointSecrets(_ context.Context, ep *store.WebhookEndpoint) ([]byte, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.eps[ep.ID]
	if !ok {
		return nil, nil, fmt.Errorf("no secret for %s", ep.ID)
	}
	return s[0], s[1], nil
}

func (f *fakeSecrets) CallbackSecret(_ context.Context, merchantID string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.callback, nil
}

// receiver is a merchant's webhook receiver. Every request it gets must
// verify with every secret it was given, using the independent Standard
// Webhooks library; respond decides the answer to the nth request (from 1).
type receiver struct {
	t       *testing.T
	srv     *httptest.Server
	verify  []*standardwebhooks.Webhook
	respond func(n int, w http.ResponseWriter, r *http.Request)

	mu        sync.Mutex
	got       []received
	inflight  map[string]int // by webhook-id
	active    int
	maxActive int
}

type received struct {
	at     time.Time
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, secrets ...string) *receiver {
	t.Helper()
	rc := &receiver{t: t, inflight: map[string]int{}}
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		rc.verify = append(rc.verify, wh)
	}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if r.Method != http.MethodPost {
		rc.t.Errorf("receiver: method %s", r.Method)
	}
	for i, wh := range rc.verify {
		if err := wh.Verify(body, r.Header); err != nil {
			rc.t.Errorf("receiver: secret #%d does not verify the request: %v (headers %v)", i, err, r.Header)
		}
	}
	msgID := r.Header.Get("webhook-id")
	rc.mu.Lock()
	rc.got = append(rc.got, received{at: time.Now(), header: r.Header.Clone(), body: body})
	n := len(rc.got)
	rc.inflight[msgID]++
	if rc.inflight[msgID] > 1 {
		rc.t.Errorf("receiver: %s is being sent twice at once", msgID)
	}
	rc.active++
	rc.maxActive = max(rc.maxActive, rc.active)
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.inflight[msgID]--
		rc.active--
		rc.mu.Unlock()
	}()
	if rc.respond != nil {
		rc.respond(n, w, r)
	}
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func (rc *receiver) most() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.maxActive
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// noSecretsIn fails if any of the secrets (in any form) or a body
// appears in the logs.
func noSecretsIn(t *testing.T, logs string, secrets []string, bodies ...[]byte) {
	t.Helper()
	for _, s := range secrets {
		raw := strings.TrimPrefix(s, SecretPrefix)
		k, _ := base64.StdEncoding.DecodeString(raw)
		for _, form := range []string{raw, string(k), fmt.Sprintf("%x", k)} {
			if form != "" && strings.Contains(logs, form) {
				t.Errorf("a secret is in the logs")
			}
		}
	}
	for _, b := range bodies {
		if bytes.Contains([]byte(logs), b) {
			t.Errorf("a webhook body is in the logs")
		}
	}
	if strings.Contains(logs, `"amount"`) || strings.Contains(logs, "v1,") {
		t.Errorf("payload or signature material is in the logs:\n%s", logs)
	}
}
