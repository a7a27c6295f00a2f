// Package storetest is the contract every store backend must honour: one
// suite, run against SQLite always and against PostgreSQL whenever a server
// can be had (see internal/store/pgtest). A behaviour the suite does not pin
// down is one the rest of Coffer must not rely on.
//
// Usage, from a backend's tests:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, name string) store.Store { … })
//	}
package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// Opener opens the backend's database called name.
//
// The first call with a name must return a store on a new, empty (but
// migrated) database. A later call with the same name, after the store it
// returned before has been closed, must open that same database again, with
// everything committed to it: this is how the suite checks durability across
// Close and Open. Run never reuses a name in another subtest, so a backend may
// tie a database's lifetime to the t that first asked for it (a temporary
// folder, a database dropped in t.Cleanup).
//
// Opener should close the store in t.Cleanup; the suite may also close it
// itself, so Close must be safe to call twice. It must not call t.Parallel.
type Opener func(t *testing.T, name string) store.Store

// Run runs the whole contract against the backend open returns, each part as
// a parallel subtest with its own database.
//
// Beyond the Tx methods, the contract is: Write is atomic (if fn returns an
// error, or panics, nothing it wrote persists and only its own Write fails),
// isolated (concurrent Writes that read and then change one record, or claim
// one key, behave as if run one after another, so read-modify-write loses
// nothing), and durable (a nil Write survives Close and Open). fn may run
// more than once (PostgreSQL runs it again after a deadlock), so it must not
// keep state from an earlier attempt. Inside fn, store.ErrConflict does not spoil the
// transaction: fn may carry on, and what it wrote before and after persists.
// Read is read-only. Lookups of another merchant's records are
// store.ErrNotFound; unique rules are store.ErrConflict.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"Merchants", testMerchants},
		{"DataKeys", testDataKeys},
		{"DataKeysByteOrder", testDataKeysByteOrder},
		{"Customers", testCustomers},
		{"ListCustomers", testListCustomers},
		{"Tokens", testTokens},
		{"ListTokens", testListTokens},
		{"EraseCustomerTokens", testEraseCustomerTokens},
		{"TokenAuthentication", testTokenAuthentication},
		{"PaymentAuthentication", testPaymentAuthentication},
		{"PaymentStats", testPaymentStats},
		{"Challenges", testChallenges},
		{"SweepableChallenges", testSweepableChallenges},
		{"CardAuthFailures", testCardAuthFailures},
		{"KEKChecks", testKEKChecks},
		{"Sessions", testSessions},
		{"SweepableSessions", testSweepableSessions},
		{"SessionKeys", testSessionKeys},
		{"Events", testEvents},
		{"WebhookEndpoints", testWebhookEndpoints},
		{"DeviceKeys", testDeviceKeys},
		{"ProcessorAccounts", testProcessorAccounts},
		{"APIKeys", testAPIKeys},
		{"Deliveries", testDeliveries},
		{"DueDeliveries", testDueDeliveries},
		{"DueDeliveriesInObjectOrder", testDueDeliveriesInObjectOrder},
		{"DeliveryAttempts", testDeliveryAttempts},
		{"Idempotency", testIdempotency},
		{"CrashRecovery", testCrashRecovery},
		{"Audit", testAudit},
		{"Dashboard", testDashboard},
		{"DashboardTOTP", testDashboardTOTP},
		{"SimulatorLedger", testSimulatorLedger},
		{"SimulatorConcurrency", testSimulatorConcurrency},
		{"SimulatorJournalImports", testSimulatorJournalImports},
		{"ForeignKeys", testForeignKeys},
		{"Atomicity", testAtomicity},
		{"ConflictLeavesTxUsable", testConflictLeavesTxUsable},
		{"ConcurrentWrites", testConcurrentWrites},
		{"Panic", testPanic},
		{"Serializable", testSerializable},
		{"CheckThenInsert", testCheckThenInsert},
		{"ReadOnly", testReadOnly},
		{"CanceledContext", testCanceledContext},
		{"Durability", testDurability},
		{"Close", testClose},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

var errBoom = errors.New("storetest: boom")

func newName() string { return "db_" + hex.EncodeToString(randBytes(6)) }

func fresh(t *testing.T, open Opener) store.Store {
	t.Helper()
	s := open(t, newName())
	if s == nil {
		t.Fatal("open returned nil")
	}
	return s
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// now is a time as a store returns it: UTC, to the microsecond.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// write runs fn in a Write and fails the test on error. fn must not call
// t.Fatal: a backend may run it on another goroutine.
func write(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Write(t.Context(), fn); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func read(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Read(t.Context(), fn); err != nil {
		t.Fatalf("Read: %v", err)
	}
}

// same compares through JSON, which shows a difference readably and compares
// times by instant and zone.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got  %s\n want %s", what, g, w)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

func ids[T any](xs []T, f func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}
