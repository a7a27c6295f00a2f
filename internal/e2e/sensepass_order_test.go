package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestSensePassCallbacksInOrder: a transaction that goes through 3-D
// Secure is called back with status 4 (ProccessingPayment), then 5
// (TransactionApproved), in that order, even when the first callback
// fails once: 5 is not sent until 4 has been delivered. (Before, the two
// were independent deliveries and 5 overtook a 4 waiting for its retry.)
func TestSensePassCallbacksInOrder(t *testing.T) {
	backends(t, func(t *testing.T, opts ...option) {
		s := start(t, append(opts, withWebhookRetryBase(time.Second))...)
		sk := s.Dev.SecretKey
		type arrival struct {
			status   float64
			answered int
			at       time.Time
		}
		var mu sync.Mutex
		var got []arrival
		failedFirst := false
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var b map[string]any
			raw, _ := io.ReadAll(r.Body)
			json.Unmarshal(raw, &b)
			st, _ := b["status"].(float64)
			code := http.StatusOK
			mu.Lock()
			if st == 4 && !failedFirst {
				failedFirst, code = true, http.StatusServiceUnavailable
			}
			got = append(got, arrival{st, code, time.Now()})
			mu.Unlock()
			w.WriteHeader(code)
		}))
		t.Cleanup(srv.Close)
		arrivals := func() []arrival {
			mu.Lock()
			defer mu.Unlock()
			return append([]arrival(nil), got...)
		}

		n := snPost(t, s, "init", map[string]any{"apiKey": sk, "amount": 2500, "callbackURL": srv.URL + "/cb"}).want(t, 201).str("TransactionNumber")
		c := snConfirm(t, s, sk, n, "4000002500003155").want(t, 200)
		// The card holder finishes 3-D Secure at once: the approval exists
		// while the first callback still waits for its retry.
		passChallenge(t, c.str("next_action", "url"))
		if g := snGet(t, s, n, "apiKey", sk); g.Body["status"] != float64(5) {
			t.Fatalf("after the challenge: %s", g.Raw)
		}
		waitUntil(t, 15*time.Second, "three callbacks", func() bool { return len(arrivals()) >= 3 })
		time.Sleep(200 * time.Millisecond) // nothing more arrives
		a := arrivals()
		if len(a) != 3 || a[0].status != 4 || a[0].answered != 503 || a[1].status != 4 || a[1].answered != 200 || a[2].status != 5 {
			t.Fatalf("callbacks %+v; want 4 (refused), 4 again, then 5", a)
		}
		if !a[2].at.After(a[1].at) {
			t.Errorf("5 arrived before 4 was delivered: %+v", a)
		}
	})
}
