package crash

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
	"github.com/coffer-vault/coffer/internal/processor/simulator/storeledger"
	"github.com/coffer-vault/coffer/internal/store/pgtest"
	"github.com/coffer-vault/coffer/internal/store/postgres"
)

// TestCrashKillTwoInstances is issue 18's crash test of the acquirer's shared ledger: two built
// binaries on one PostgreSQL database, each with its own data folder (so nothing can be shared
// through a file); payments are authorized through the first and captured and refunded through
// the second while SIGKILL hits them by turns. Every request left unanswered by a kill is retried
// with its key once the killed one is back. Then the acquirer's books (read from the database by
// a simulator of the test's own) and Coffer's payments must agree with every acknowledged answer:
// each acknowledged authorization, capture and refund is in both, and nothing is captured or
// refunded twice (one capture per authorization, within its amount; refunds within the capture).
//
// Bounded: 4 cycles, each waiting at most 5 s for its load, and no cycle starts after 25 s.
func TestCrashKillTwoInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	dsn := pgtest.DSN(t)
	bin := filepath.Join(t.TempDir(), "coffer")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/coffer-vault/coffer/cmd/coffer").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := [2]string{t.TempDir(), t.TempDir()}
	mc := exec.Command(bin, "merchant", "create", "--name", "Two", "--json", "--data", data[0], "--database-url", dsn)
	mc.Env = append(environ(), "COFFER_MASTER_KEY="+masterKey)
	out, err := mc.CombinedOutput()
	var dev harness.Creds
	if err != nil || json.Unmarshal(out, &dev) != nil || dev.SecretKey == "" {
		t.Fatalf("coffer merchant create: %v\n%s", err, out)
	}
	began := time.Now()
	// srv[0] authorizes, srv[1] captures and refunds.
	r := &twoRun{t: t, bin: bin, dsn: dsn, data: data, sk: dev.SecretKey,
		srv: [2]*binServer{startBinary(t, bin, data[0], dsn), startBinary(t, bin, data[1], dsn)}}
	base := &keyedReq{kind: "tokenize", path: "/v1/tokens", key: "base", body: harness.MustJSON(t, map[string]any{"card": harness.Card(simulator.CardSuccessVisa)})}
	if r.srv[0].send(base, r.sk) != answered || base.status != 201 {
		t.Fatalf("base token: %d %s", base.status, base.raw)
	}
	r.tok = harness.JSONField(base.raw, "id")
	for cycle := 0; cycle < 4 && time.Since(began) < 25*time.Second; cycle++ {
		r.cycle(cycle)
	}
	n := &r.n
	checkTwoInstances(t, dsn, dev.ID, r.sk, r.srv, r.chains, n)
	t.Logf("two instances: %d keyed requests, %d kills, %d retries, %d lost, %d double, %d wrong answers (%d \"retry shortly\" answers retried) in %v",
		n.requests, n.kills, n.retries, n.lost, n.double, n.wrong, n.transient.Load(), time.Since(began).Round(time.Millisecond))
	if n.retries == 0 {
		t.Errorf("no request was in flight at any kill: the test proved nothing")
	}
	for _, s := range r.srv {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Error("coffer serve did not stop within 15 s of SIGTERM")
		}
	}
}

// twoRun is the state of TestCrashKillTwoInstances: the two binaries and every chain of
// requests sent (a payment's create, then its capture, then its refund).
type twoRun struct {
	t        *testing.T
	bin, dsn string
	data     [2]string
	srv      [2]*binServer
	sk, tok  string

	mu     sync.Mutex
	chains [][]*keyedReq
	n      runCounts
}

// server is the instance a request goes to: the first authorizes, the second does the rest.
func server(r *keyedReq) int {
	if r.kind == "create" {
		return 0
	}
	return 1
}

// cycle runs the load until enough has been answered (at most 5 s), kills one instance
// (cycle by cycle the first, then the second), starts it again and retries, with the same keys,
// the requests the kill left unanswered.
func (r *twoRun) cycle(cycle int) {
	victim := cycle % 2
	threshold := int32(12 + 4*cycle)
	var acked atomic.Int32
	reached := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() { r.work(fmt.Sprintf("c%d-w%d", cycle, w), stop, &acked, threshold, reached) })
	}
	select {
	case <-reached:
	case <-time.After(5 * time.Second):
		r.t.Logf("cycle %d: only %d answers within 5 s", cycle, acked.Load())
	}
	r.srv[victim].kill()
	r.n.kills++
	close(stop)
	wg.Wait()
	r.srv[victim] = startBinary(r.t, r.bin, r.data[victim], r.dsn)

	var pending []*keyedReq
	for _, c := range r.chains {
		for _, q := range c {
			if !q.answered && !q.retried {
				pending = append(pending, q)
			}
		}
	}
	var rwg sync.WaitGroup
	for _, q := range pending {
		q.retried = true
		rwg.Go(func() {
			if !r.srv[server(q)].sendUntilAnswered(q, r.sk, &r.n.transient) {
				q.retryAfter = -1
			}
		})
	}
	rwg.Wait()
	r.n.retries += len(pending)
	r.t.Logf("cycle %d: killed instance %d after %d acknowledged answers; %d requests retried", cycle, victim, acked.Load(), len(pending))
}

// work sends chains, each step once the one before it was answered, until stop or until its
// server dies under it.
func (r *twoRun) work(name string, stop <-chan struct{}, acked *atomic.Int32, threshold int32, reached chan struct{}) {
	for i := 0; i < 100; i++ { // bounded; the kill ends it long before
		select {
		case <-stop:
			return
		default:
		}
		id := fmt.Sprintf("%s-%d", name, i)
		q := &keyedReq{kind: "create", path: "/v1/payments", key: "pay-" + id,
			body: harness.MustJSON(r.t, map[string]any{"amount": 1000 + i, "token": r.tok, "capture": false})}
		create := q
		r.mu.Lock()
		r.chains = append(r.chains, []*keyedReq{q})
		c := len(r.chains) - 1
		r.mu.Unlock()
		for {
			if !r.srv[server(q)].sendUntilAnswered(q, r.sk, &r.n.transient) {
				return // its server died under it: retried after the restart
			}
			r.mu.Lock()
			q.answered = true
			r.mu.Unlock()
			if acked.Add(1) == threshold {
				close(reached)
			}
			if q.kind == "refund" || q.status >= 300 {
				break
			}
			pid := harness.JSONField(create.raw, "id")
			if q.kind == "create" {
				q = &keyedReq{kind: "capture", path: "/v1/payments/" + pid + "/capture", key: "cap-" + id, amount: 600,
					body: harness.MustJSON(r.t, map[string]any{"amount": 600})}
			} else {
				q = &keyedReq{kind: "refund", path: "/v1/payments/" + pid + "/refunds", key: "ref-" + id, amount: 250,
					body: harness.MustJSON(r.t, map[string]any{"amount": 250})}
			}
			r.mu.Lock()
			r.chains[c] = append(r.chains[c], q)
			r.mu.Unlock()
		}
	}
}

// checkTwoInstances compares every request's final answer with the acquirer's books and with
// Coffer's payments, and the books with the payments as a whole.
func checkTwoInstances(t *testing.T, dsn, merchant, sk string, srv [2]*binServer, chains [][]*keyedReq, n *runCounts) {
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sim := simulator.OverLedger(storeledger.New(st))
	payments := 0
	for _, chain := range chains {
		want := map[string]int{"create": 201, "capture": 200, "refund": 201}
		var captured, refunded int64
		known := true
		for _, r := range chain {
			n.requests++
			switch {
			case r.retried && r.retryAfter < 0:
				n.lost++
				known = false
				t.Errorf("%s %s: no answer after the restart", r.kind, r.key)
			case r.status != want[r.kind]:
				n.wrong++
				t.Errorf("%s %s (retried %v): %d %s", r.kind, r.key, r.retried, r.status, r.raw)
			case r.kind == "capture":
				captured = r.amount
			case r.kind == "refund":
				refunded = r.amount
			}
		}
		first := chain[0]
		if first.status != 201 {
			continue
		}
		payments++
		pid := harness.JSONField(first.raw, "id")
		auth, err := sim.Lookup(context.Background(), merchant, pid)
		if err != nil {
			n.lost++
			t.Errorf("payment %s (%s): acknowledged, but not in the acquirer's books: %v", pid, first.key, err)
			continue
		}
		if k := sim.AuthorizationsFor(merchant, pid); k != 1 {
			n.double++
			t.Errorf("payment %s: authorized %d times", pid, k)
		}
		p := srv[1].get(t, sk, "/v1/payments/"+pid)
		gotCap, gotRef := int64(harness.Dig(p, "amount_captured").(float64)), int64(harness.Dig(p, "amount_refunded").(float64))
		if auth.Captured != gotCap || auth.Refunded != gotRef {
			t.Errorf("payment %s: Coffer shows captured %d refunded %d, the acquirer %d and %d", pid, gotCap, gotRef, auth.Captured, auth.Refunded)
		}
		switch {
		case auth.Captured > auth.Amount || auth.Refunded > auth.Captured || auth.Captured > captured && known:
			n.double++
			t.Errorf("payment %s: the acquirer captured %d and refunded %d of %d; acknowledged %d and %d", pid, auth.Captured, auth.Refunded, auth.Amount, captured, refunded)
		case auth.Refunded > refunded && known:
			n.double++
			t.Errorf("payment %s: refunded %d, acknowledged %d", pid, auth.Refunded, refunded)
		case auth.Captured < captured || auth.Refunded < refunded:
			n.lost++
			t.Errorf("payment %s: the acquirer captured %d refunded %d; acknowledged %d and %d", pid, auth.Captured, auth.Refunded, captured, refunded)
		}
	}
	// The books as a whole: one authorization per payment Coffer recorded, and at most one
	// refund per capture (each payment was refunded once at most).
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var auths, stored, doubled int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sim_authorizations WHERE merchant_id = $1`, merchant).Scan(&auths); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM payments WHERE merchant_id = $1`, merchant).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM (SELECT capture_id FROM sim_refunds GROUP BY capture_id HAVING COUNT(*) > 1) d`).Scan(&doubled); err != nil {
		t.Fatal(err)
	}
	if auths != stored || stored != payments || doubled != 0 {
		n.double++
		t.Errorf("the acquirer holds %d authorizations for %d payments stored (%d acknowledged); %d captures refunded more than once",
			auths, stored, payments, doubled)
	}
}
