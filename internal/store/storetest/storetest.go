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
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/vault"
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
// isolated and serializable (concurrent Writes behave as if run one after
// another, so read-modify-write loses nothing), and durable (a nil Write
// survives Close and Open). fn may run more than once (PostgreSQL runs it
// again after a serialization failure), so it must not keep state from an
// earlier attempt. Inside fn, store.ErrConflict does not spoil the
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
		{"Tokens", testTokens},
		{"ListTokens", testListTokens},
		{"EraseCustomerTokens", testEraseCustomerTokens},
		{"TokenAuthentication", testTokenAuthentication},
		{"PaymentAuthentication", testPaymentAuthentication},
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
		{"Deliveries", testDeliveries},
		{"DueDeliveries", testDueDeliveries},
		{"DueDeliveriesInObjectOrder", testDueDeliveriesInObjectOrder},
		{"DeliveryAttempts", testDeliveryAttempts},
		{"Idempotency", testIdempotency},
		{"CrashRecovery", testCrashRecovery},
		{"Audit", testAudit},
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

// ---- helpers

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

func newMerchant() *store.Merchant {
	return &store.Merchant{ID: id.New("mer"), Name: "Kedai Kopi", SecretKeyHash: randBytes(32),
		PublishableKey: id.New("pk_test"), HMACSecretCT: randBytes(60),
		Settings: store.Settings{DefaultCurrency: "MYR"}, Created: now()}
}

func addMerchant(t *testing.T, s store.Store) *store.Merchant {
	t.Helper()
	m := newMerchant()
	write(t, s, func(tx store.Tx) error { return tx.InsertMerchant(m) })
	return m
}

func newCustomer(merchantID, reference string) *store.Customer {
	return &store.Customer{ID: id.New("cus"), MerchantID: merchantID, Reference: reference, Name: "Siti",
		Email: "siti@example.com", Phone: "+60123456789", Metadata: map[string]string{"tier": "gold"}, Created: now()}
}

func addCustomer(t *testing.T, s store.Store, merchantID, reference string) *store.Customer {
	t.Helper()
	c := newCustomer(merchantID, reference)
	write(t, s, func(tx store.Tx) error { return tx.InsertCustomer(c) })
	return c
}

func newToken(merchantID, customerID, fingerprint string, created time.Time) *store.Token {
	va := created.Add(-time.Second)
	return &store.Token{ID: id.New("tok"), MerchantID: merchantID, CustomerID: customerID, Status: store.TokenActive,
		Brand: "visa", BIN: "424242", Last4: "4242", Mask: "424242******4242", ExpMonth: 12, ExpYear: 2034,
		HolderName: "SITI AMINAH", Fingerprint: fingerprint, CardCT: randBytes(72),
		Verification: store.Verification{Status: "verified", ThreeDSecure: "authenticated", CVCCheck: "pass",
			AVSCheck: "unavailable", AuthCode: "A1B2C3", NetworkRef: "sim_auth_1", VerifiedAt: &va},
		Metadata: map[string]string{"order": "1001"}, Created: created, Updated: created}
}

func addToken(t *testing.T, s store.Store, tok *store.Token) *store.Token {
	t.Helper()
	write(t, s, func(tx store.Tx) error { return tx.InsertToken(tok) })
	return tok
}

func ids[T any](xs []T, f func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func tokenID(k *store.Token) string { return k.ID }

// ---- merchants

func testMerchants(t *testing.T, open Opener) {
	s := fresh(t, open)
	var n int
	read(t, s, func(tx store.Tx) (err error) { n, err = tx.CountMerchants(); return })
	if n != 0 {
		t.Fatalf("CountMerchants on a new database = %d, want 0", n)
	}

	m := addMerchant(t, s)
	m2 := addMerchant(t, s)
	var got, bySecret *store.Merchant
	read(t, s, func(tx store.Tx) (err error) {
		if got, err = tx.GetMerchant(m.ID); err != nil {
			return err
		}
		if bySecret, err = tx.GetMerchantBySecretHash(m.SecretKeyHash); err != nil {
			return err
		}
		n, err = tx.CountMerchants()
		return err
	})
	same(t, "GetMerchant", got, m)
	same(t, "GetMerchantBySecretHash", bySecret, m)
	if n != 2 {
		t.Errorf("CountMerchants = %d, want 2", n)
	}
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetMerchant(id.New("mer"))
		wantErr(t, "GetMerchant(unknown)", err, store.ErrNotFound)
		_, err = tx.GetMerchantBySecretHash(randBytes(32))
		wantErr(t, "GetMerchantBySecretHash(unknown)", err, store.ErrNotFound)
		return nil
	})

	settings := store.Settings{DefaultCurrency: "SGD", RequireCVCForSavedCards: true, TokenizationRequires3DS: true,
		TokenizationReturnURL: "https://shop.example/return", TokenizationCallbackURL: "https://shop.example/cb",
		FrameAncestors: []string{"https://shop.example", "https://pay.shop.example"}}
	write(t, s, func(tx store.Tx) error { return tx.UpdateMerchantSettings(m.ID, settings) })
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateMerchantSettings(id.New("mer"), settings) })
	wantErr(t, "UpdateMerchantSettings(unknown)", err, store.ErrNotFound)
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.GetMerchant(m.ID); return })
	m.Settings = settings
	same(t, "merchant after UpdateMerchantSettings", got, m)
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.GetMerchant(m2.ID); return })
	same(t, "other merchant after UpdateMerchantSettings", got, m2)

	for _, c := range []struct {
		what string
		edit func(*store.Merchant)
	}{
		{"same id", func(d *store.Merchant) { d.ID = m.ID }},
		{"same secret key hash", func(d *store.Merchant) { d.SecretKeyHash = bytes.Clone(m.SecretKeyHash) }},
		{"same publishable key", func(d *store.Merchant) { d.PublishableKey = m.PublishableKey }},
	} {
		d := newMerchant()
		c.edit(d)
		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertMerchant(d) })
		wantErr(t, "InsertMerchant with "+c.what, err, store.ErrConflict)
	}
	read(t, s, func(tx store.Tx) (err error) { n, err = tx.CountMerchants(); return })
	if n != 2 {
		t.Errorf("CountMerchants after refused inserts = %d, want 2", n)
	}
}

// ---- data keys

func newDataKey(dkID, merchantID, purpose string, created time.Time) vault.DataKey {
	return vault.DataKey{ID: dkID, MerchantID: merchantID, Purpose: purpose, KEKVersion: 1, Wrapped: randBytes(60), Created: created}
}

func testDataKeys(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	card1 := newDataKey(id.New("dek"), m.ID, vault.PurposeCard, t0.Add(-time.Hour))
	card2 := newDataKey(id.New("dek"), m.ID, vault.PurposeCard, t0)
	card2.KEKVersion = 1<<32 - 1 // the whole uint32 range must survive
	fp := newDataKey(id.New("dek"), m.ID, vault.PurposeFingerprint, t0.Add(-2*time.Hour))
	other := newDataKey(id.New("dek"), m2.ID, vault.PurposeCard, t0.Add(time.Hour))
	all := []vault.DataKey{card1, card2, fp, other}
	write(t, s, func(tx store.Tx) error {
		for _, dk := range all {
			if err := tx.InsertDataKey(dk); err != nil {
				return err
			}
		}
		return nil
	})

	read(t, s, func(tx store.Tx) error {
		for _, dk := range all {
			got, err := tx.GetDataKey(dk.ID)
			if err != nil {
				return fmt.Errorf("GetDataKey(%s): %w", dk.ID, err)
			}
			same(t, "GetDataKey", got, dk)
		}
		_, err := tx.GetDataKey(id.New("dek"))
		wantErr(t, "GetDataKey(unknown)", err, store.ErrNotFound)

		got, err := tx.ActiveDataKey(m.ID, vault.PurposeCard)
		if err != nil {
			return fmt.Errorf("ActiveDataKey(card): %w", err)
		}
		same(t, "ActiveDataKey(card) is the newest", got, card2)
		got, err = tx.ActiveDataKey(m.ID, vault.PurposeFingerprint)
		if err != nil {
			return fmt.Errorf("ActiveDataKey(fingerprint): %w", err)
		}
		same(t, "ActiveDataKey(fingerprint)", got, fp)
		_, err = tx.ActiveDataKey(m.ID, "no-such-purpose")
		wantErr(t, "ActiveDataKey(unknown purpose)", err, store.ErrNotFound)
		_, err = tx.ActiveDataKey(id.New("mer"), vault.PurposeCard)
		wantErr(t, "ActiveDataKey(unknown merchant)", err, store.ErrNotFound)
		return nil
	})

	wrapped := randBytes(61)
	write(t, s, func(tx store.Tx) error { return tx.UpdateDataKeyWrap(card1.ID, 7, wrapped) })
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateDataKeyWrap(id.New("dek"), 7, wrapped) })
	wantErr(t, "UpdateDataKeyWrap(unknown)", err, store.ErrNotFound)
	card1.KEKVersion, card1.Wrapped = 7, wrapped
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetDataKey(card1.ID)
		same(t, "data key after UpdateDataKeyWrap", got, card1)
		if err != nil {
			return err
		}
		got, err = tx.GetDataKey(card2.ID)
		same(t, "other data key after UpdateDataKeyWrap", got, card2)
		return err
	})

	dup := newDataKey(card1.ID, m.ID, vault.PurposeCard, t0)
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertDataKey(dup) })
	wantErr(t, "InsertDataKey with an existing id", err, store.ErrConflict)

	// ListDataKeys walks every merchant's keys in id order, a page at a time.
	for i := range 5 {
		dk := newDataKey(id.New("dek"), m2.ID, vault.PurposeCard, t0.Add(time.Duration(i)*time.Second))
		write(t, s, func(tx store.Tx) error { return tx.InsertDataKey(dk) })
		all = append(all, dk)
	}
	all[0] = card1
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	for _, limit := range []int{1, 3, 4, 9, 100} {
		var got []vault.DataKey
		after := ""
		for pages := 0; ; pages++ {
			if pages > len(all)+1 {
				t.Fatalf("ListDataKeys(limit %d) does not end", limit)
			}
			var page []vault.DataKey
			read(t, s, func(tx store.Tx) (err error) { page, err = tx.ListDataKeys(after, limit); return })
			if len(page) > limit {
				t.Fatalf("ListDataKeys(%q, %d) returned %d keys", after, limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].ID
		}
		same(t, fmt.Sprintf("ListDataKeys pages of %d", limit), got, all)
	}
}

// Identifiers sort byte-wise on every backend (as Go's < on strings does),
// whatever the database's locale: ListDataKeys and ListTokens page by id.
func testDataKeysByteOrder(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	var want []string
	for _, prefix := range []string{"dek_", "DEK_", "dEK-", "Dek_", "dek-", "dek.", "dek_A", "dek_a", "dek_B", "dek_b", "dek__", "dek_~"} {
		dk := newDataKey(prefix+hex.EncodeToString(randBytes(4)), m.ID, vault.PurposeCard, now())
		write(t, s, func(tx store.Tx) error { return tx.InsertDataKey(dk) })
		want = append(want, dk.ID)
	}
	sort.Strings(want)
	var got []vault.DataKey
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.ListDataKeys("", 100); return })
	same(t, "ListDataKeys order", ids(got, func(dk vault.DataKey) string { return dk.ID }), want)
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.ListDataKeys(want[5], 100); return })
	same(t, "ListDataKeys after the 6th", ids(got, func(dk vault.DataKey) string { return dk.ID }), want[6:])
}

// ---- customers

func testCustomers(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	c := addCustomer(t, s, m.ID, "ref-1")
	bare := &store.Customer{ID: id.New("cus"), MerchantID: m.ID, Created: now()} // no reference, no metadata
	bare2 := &store.Customer{ID: id.New("cus"), MerchantID: m.ID, Created: now()}
	elsewhere := newCustomer(m2.ID, "ref-1") // references are per merchant
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertCustomer(bare), tx.InsertCustomer(bare2), tx.InsertCustomer(elsewhere))
	})

	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetCustomer(m.ID, c.ID)
		same(t, "GetCustomer", got, c)
		if err != nil {
			return err
		}
		got, err = tx.GetCustomerByReference(m.ID, "ref-1")
		same(t, "GetCustomerByReference", got, c)
		if err != nil {
			return err
		}
		got, err = tx.GetCustomerByReference(m2.ID, "ref-1")
		same(t, "GetCustomerByReference (other merchant, same reference)", got, elsewhere)
		if err != nil {
			return err
		}
		got, err = tx.GetCustomer(m.ID, bare.ID)
		if err != nil {
			return err
		}
		if got.Reference != "" || got.Metadata == nil || len(got.Metadata) != 0 {
			t.Errorf("customer without reference or metadata read back as reference %q, metadata %#v; want \"\" and an empty, non-nil map", got.Reference, got.Metadata)
		}
		_, err = tx.GetCustomer(m2.ID, c.ID)
		wantErr(t, "GetCustomer (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetCustomer(m.ID, id.New("cus"))
		wantErr(t, "GetCustomer(unknown)", err, store.ErrNotFound)
		_, err = tx.GetCustomerByReference(m.ID, "ref-unknown")
		wantErr(t, "GetCustomerByReference(unknown)", err, store.ErrNotFound)
		_, err = tx.GetCustomerByReference(m.ID, "")
		wantErr(t, "GetCustomerByReference(\"\")", err, store.ErrNotFound)
		return nil
	})

	dup := newCustomer(m.ID, "ref-1")
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertCustomer(dup) })
	wantErr(t, "InsertCustomer with a reference in use", err, store.ErrConflict)
	dupID := newCustomer(m.ID, "ref-2")
	dupID.ID = c.ID
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertCustomer(dupID) })
	wantErr(t, "InsertCustomer with an existing id", err, store.ErrConflict)

	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.MarkCustomerDeleted(m2.ID, c.ID, now()) })
	wantErr(t, "MarkCustomerDeleted (another merchant's)", err, store.ErrNotFound)
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.MarkCustomerDeleted(m.ID, id.New("cus"), now()) })
	wantErr(t, "MarkCustomerDeleted(unknown)", err, store.ErrNotFound)
	write(t, s, func(tx store.Tx) error { return tx.MarkCustomerDeleted(m.ID, c.ID, now()) })
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.MarkCustomerDeleted(m.ID, c.ID, now()) })
	wantErr(t, "MarkCustomerDeleted twice", err, store.ErrNotFound)
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetCustomer(m.ID, c.ID)
		wantErr(t, "GetCustomer (deleted)", err, store.ErrNotFound)
		_, err = tx.GetCustomerByReference(m.ID, "ref-1")
		wantErr(t, "GetCustomerByReference (deleted)", err, store.ErrNotFound)
		got, err := tx.GetCustomerByReference(m2.ID, "ref-1")
		same(t, "other merchant's customer with the same reference after the delete", got, elsewhere)
		return err
	})

	// A deleted customer's reference is free again.
	again := addCustomer(t, s, m.ID, "ref-1")
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetCustomerByReference(m.ID, "ref-1")
		same(t, "GetCustomerByReference (reference re-used)", got, again)
		return err
	})
}

// ---- tokens

func testTokens(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	a, b := addCustomer(t, s, m.ID, "a"), addCustomer(t, s, m.ID, "b")
	t0 := now()
	tok := addToken(t, s, newToken(m.ID, a.ID, "fp-1", t0))
	guest := addToken(t, s, newToken(m.ID, "", "fp-1", t0)) // no customer
	guest.Metadata = nil                                    // stored as {} and read back as an empty map
	write(t, s, func(tx store.Tx) error { return tx.UpdateToken(guest) })
	guest.Metadata = map[string]string{}

	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetToken(m.ID, tok.ID)
		same(t, "GetToken", got, tok)
		if err != nil {
			return err
		}
		got, err = tx.GetToken(m.ID, guest.ID)
		same(t, "GetToken (no customer)", got, guest)
		if err != nil {
			return err
		}
		got, err = tx.FindTokenByFingerprint(m.ID, a.ID, "fp-1")
		same(t, "FindTokenByFingerprint", got, tok)
		if err != nil {
			return err
		}
		_, err = tx.GetToken(m2.ID, tok.ID)
		wantErr(t, "GetToken (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetToken(m.ID, id.New("tok"))
		wantErr(t, "GetToken(unknown)", err, store.ErrNotFound)
		_, err = tx.FindTokenByFingerprint(m2.ID, a.ID, "fp-1")
		wantErr(t, "FindTokenByFingerprint (another merchant)", err, store.ErrNotFound)
		_, err = tx.FindTokenByFingerprint(m.ID, b.ID, "fp-1")
		wantErr(t, "FindTokenByFingerprint (another customer)", err, store.ErrNotFound)
		_, err = tx.FindTokenByFingerprint(m.ID, a.ID, "fp-2")
		wantErr(t, "FindTokenByFingerprint (another card)", err, store.ErrNotFound)
		return nil
	})

	// One live token per card per customer.
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertToken(newToken(m.ID, a.ID, "fp-1", now())) })
	wantErr(t, "InsertToken (same card, same customer)", err, store.ErrConflict)
	dupID := newToken(m.ID, b.ID, "fp-9", now())
	dupID.ID = tok.ID
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertToken(dupID) })
	wantErr(t, "InsertToken with an existing id", err, store.ErrConflict)
	failed := newToken(m.ID, a.ID, "fp-1", now())
	failed.Status, failed.CardCT = store.TokenFailed, nil
	addToken(t, s, failed) // a failed attempt does not hold the card
	addToken(t, s, newToken(m.ID, b.ID, "fp-1", now()))
	addToken(t, s, newToken(m.ID, "", "fp-1", now()))
	read(t, s, func(tx store.Tx) error {
		got, err := tx.FindTokenByFingerprint(m.ID, a.ID, "fp-1")
		same(t, "FindTokenByFingerprint skips failed tokens", got, tok)
		return err
	})

	// UpdateToken writes the mutable fields.
	tok.Status, tok.ExpMonth, tok.ExpYear, tok.HolderName = store.TokenDisabled, 1, 2035, "S AMINAH"
	tok.Verification.CVCCheck, tok.Metadata, tok.Updated = "unchecked", map[string]string{"order": "1002"}, t0.Add(time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.UpdateToken(tok) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetToken(m.ID, tok.ID)
		same(t, "token after UpdateToken", got, tok)
		return err
	})
	foreign := *tok
	foreign.MerchantID = m2.ID
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateToken(&foreign) })
	wantErr(t, "UpdateToken (another merchant's)", err, store.ErrNotFound)
	unknown := newToken(m.ID, a.ID, "fp-3", now())
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateToken(unknown) })
	wantErr(t, "UpdateToken(unknown)", err, store.ErrNotFound)

	// Deleting by UpdateToken: gone from lookups, and the card is free again.
	gone := t0.Add(2 * time.Minute)
	deleted := *tok
	deleted.Status, deleted.CardCT, deleted.Deleted, deleted.Updated = store.TokenDeleted, nil, &gone, gone
	write(t, s, func(tx store.Tx) error { return tx.UpdateToken(&deleted) })
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetToken(m.ID, tok.ID)
		wantErr(t, "GetToken (deleted)", err, store.ErrNotFound)
		_, err = tx.FindTokenByFingerprint(m.ID, a.ID, "fp-1")
		wantErr(t, "FindTokenByFingerprint (deleted)", err, store.ErrNotFound)
		return nil
	})
	var listed []*store.Token
	read(t, s, func(tx store.Tx) (err error) {
		listed, _, err = tx.ListTokens(m.ID, store.TokenFilter{CustomerID: a.ID, Limit: 10, IncludeGone: true})
		return
	})
	for _, k := range listed {
		if k.ID == tok.ID {
			same(t, "deleted token (ListTokens IncludeGone)", k, &deleted)
		}
	}
	renewed := addToken(t, s, newToken(m.ID, a.ID, "fp-1", now()))
	read(t, s, func(tx store.Tx) error {
		got, err := tx.FindTokenByFingerprint(m.ID, a.ID, "fp-1")
		same(t, "FindTokenByFingerprint (card added again)", got, renewed)
		return err
	})
	// Bringing the deleted token back to life would make two live tokens.
	revived := deleted
	revived.Status, revived.Deleted = store.TokenActive, nil
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateToken(&revived) })
	wantErr(t, "UpdateToken making a second live token for a card", err, store.ErrConflict)
}

func testListTokens(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	a, b := addCustomer(t, s, m.ID, "a"), addCustomer(t, s, m.ID, "b")
	t0 := now().Add(-time.Hour)
	var all []*store.Token // every token of m, live or not
	for i := range 9 {
		cust := a.ID
		switch i % 3 {
		case 1:
			cust = b.ID
		case 2:
			cust = ""
		}
		created := t0.Add(time.Duration(i) * time.Second)
		if i >= 6 {
			created = t0.Add(6 * time.Second) // ties: the id decides
		}
		all = append(all, addToken(t, s, newToken(m.ID, cust, fmt.Sprintf("fp-%d", i), created)))
	}
	gone := t0.Add(time.Minute)
	dead := newToken(m.ID, a.ID, "fp-dead", t0.Add(3*time.Second+time.Millisecond))
	dead.Status, dead.CardCT, dead.Deleted = store.TokenDeleted, nil, &gone
	all = append(all, addToken(t, s, dead))
	addToken(t, s, newToken(m2.ID, "", "fp-0", t0.Add(time.Hour))) // another merchant's, newest of all

	order := func(keep func(*store.Token) bool) []string {
		var out []*store.Token
		for _, k := range all {
			if keep(k) {
				out = append(out, k)
			}
		}
		sort.Slice(out, func(i, j int) bool {
			if !out[i].Created.Equal(out[j].Created) {
				return out[i].Created.After(out[j].Created)
			}
			return out[i].ID > out[j].ID
		})
		return ids(out, tokenID)
	}
	list := func(merchantID string, f store.TokenFilter) ([]*store.Token, bool, error) {
		var page []*store.Token
		var more bool
		err := s.Read(t.Context(), func(tx store.Tx) (err error) {
			page, more, err = tx.ListTokens(merchantID, f)
			return
		})
		return page, more, err
	}
	pages := func(what string, f store.TokenFilter, want []string) {
		t.Helper()
		var got []string
		f.StartingAfter = ""
		for n := 0; ; n++ {
			page, more, err := list(m.ID, f)
			if err != nil {
				t.Fatalf("%s: ListTokens(%+v): %v", what, f, err)
			}
			if len(page) > f.Limit {
				t.Fatalf("%s: ListTokens(%+v) returned %d tokens", what, f, len(page))
			}
			got = append(got, ids(page, tokenID)...)
			if wantMore := len(got) < len(want); more != wantMore {
				t.Errorf("%s: page %d: has_more = %v, want %v", what, n, more, wantMore)
			}
			if !more || len(page) == 0 || n > len(want) {
				break
			}
			f.StartingAfter = page[len(page)-1].ID
		}
		same(t, what, got, want)
	}
	live := func(k *store.Token) bool { return k.Deleted == nil }
	for _, limit := range []int{1, 2, 3, 9, 10, 50} {
		pages(fmt.Sprintf("live tokens, newest first, pages of %d", limit), store.TokenFilter{Limit: limit}, order(live))
		pages(fmt.Sprintf("all tokens, pages of %d", limit), store.TokenFilter{Limit: limit, IncludeGone: true}, order(func(*store.Token) bool { return true }))
		pages(fmt.Sprintf("customer a, pages of %d", limit), store.TokenFilter{Limit: limit, CustomerID: a.ID},
			order(func(k *store.Token) bool { return live(k) && k.CustomerID == a.ID }))
		pages(fmt.Sprintf("customer b with gone, pages of %d", limit), store.TokenFilter{Limit: limit, CustomerID: b.ID, IncludeGone: true},
			order(func(k *store.Token) bool { return k.CustomerID == b.ID }))
	}

	// The whole record comes back, not just the id.
	page, _, err := list(m.ID, store.TokenFilter{Limit: 100, IncludeGone: true})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*store.Token{}
	for _, k := range all {
		byID[k.ID] = k
	}
	for _, k := range page {
		same(t, "listed token "+k.ID, k, byID[k.ID])
	}

	// Scoping and cursors.
	if page, more, err := list(m2.ID, store.TokenFilter{Limit: 10, CustomerID: a.ID}); err != nil || len(page) != 0 || more {
		t.Errorf("ListTokens (another merchant's customer) = %d tokens, more %v, err %v; want none", len(page), more, err)
	}
	if page, _, err := list(m2.ID, store.TokenFilter{Limit: 10}); err != nil || len(page) != 1 {
		t.Errorf("ListTokens (other merchant) = %d tokens, err %v; want its 1", len(page), err)
	}
	_, _, err = list(m.ID, store.TokenFilter{Limit: 10, StartingAfter: id.New("tok")})
	wantErr(t, "ListTokens after an unknown token", err, store.ErrNotFound)
	_, _, err = list(m2.ID, store.TokenFilter{Limit: 10, StartingAfter: all[0].ID})
	wantErr(t, "ListTokens after another merchant's token", err, store.ErrNotFound)
}

func testEraseCustomerTokens(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	a, b := addCustomer(t, s, m.ID, "a"), addCustomer(t, s, m.ID, "b")
	t0 := now().Add(-time.Hour)
	live := []*store.Token{
		addToken(t, s, newToken(m.ID, a.ID, "fp-1", t0)),
		addToken(t, s, newToken(m.ID, a.ID, "fp-2", t0.Add(time.Second))),
	}
	disabled := newToken(m.ID, a.ID, "fp-3", t0.Add(2*time.Second))
	disabled.Status = store.TokenDisabled
	live = append(live, addToken(t, s, disabled))
	earlier := t0.Add(time.Minute)
	old := newToken(m.ID, a.ID, "fp-4", t0.Add(3*time.Second))
	old.Status, old.CardCT, old.Deleted = store.TokenDeleted, nil, &earlier
	addToken(t, s, old)
	bTok := addToken(t, s, newToken(m.ID, b.ID, "fp-1", t0))

	var n int
	write(t, s, func(tx store.Tx) (err error) { n, err = tx.EraseCustomerTokens(m2.ID, a.ID, now()); return })
	if n != 0 {
		t.Errorf("EraseCustomerTokens (another merchant) erased %d, want 0", n)
	}
	at := now()
	write(t, s, func(tx store.Tx) (err error) { n, err = tx.EraseCustomerTokens(m.ID, a.ID, at); return })
	if n != len(live) {
		t.Errorf("EraseCustomerTokens = %d, want %d (the live ones)", n, len(live))
	}
	var got []*store.Token
	read(t, s, func(tx store.Tx) (err error) {
		got, _, err = tx.ListTokens(m.ID, store.TokenFilter{CustomerID: a.ID, Limit: 10, IncludeGone: true})
		return
	})
	if len(got) != len(live)+1 {
		t.Fatalf("ListTokens(a, IncludeGone) = %d tokens, want %d", len(got), len(live)+1)
	}
	for _, k := range got {
		if k.ID == old.ID {
			same(t, "token deleted before the erase", k, old)
			continue
		}
		if k.CardCT != nil || k.Status != store.TokenDeleted || k.Deleted == nil || !k.Deleted.Equal(at) || !k.Updated.Equal(at) {
			t.Errorf("erased token %s: status %q, card_ct %d bytes (nil: %v), deleted %v, updated %v; want deleted, nil, %v, %v",
				k.ID, k.Status, len(k.CardCT), k.CardCT == nil, k.Deleted, k.Updated, at, at)
		}
	}
	read(t, s, func(tx store.Tx) error {
		for _, k := range live {
			_, err := tx.GetToken(m.ID, k.ID)
			wantErr(t, "GetToken (erased)", err, store.ErrNotFound)
		}
		got, err := tx.GetToken(m.ID, bTok.ID)
		same(t, "another customer's token after the erase", got, bTok)
		return err
	})
	write(t, s, func(tx store.Tx) (err error) { n, err = tx.EraseCustomerTokens(m.ID, a.ID, now()); return })
	if n != 0 {
		t.Errorf("EraseCustomerTokens again = %d, want 0", n)
	}
}

// ---- idempotency

// A token waiting for 3-D Secure names its challenge, and keeps naming it
// once the verification records the authentication result.
func testTokenAuthentication(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	t0 := now()
	tok := newToken(m.ID, "", "fp-3ds", t0)
	tok.Status, tok.ChallengeID = store.TokenRequiresAction, id.New("chl")
	tok.Verification = store.Verification{Status: "pending", ThreeDSecure: "required", CVCCheck: "unchecked", AVSCheck: "unchecked"}
	addToken(t, s, tok)
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetToken(m.ID, tok.ID)
		same(t, "GetToken (waiting for a challenge)", got, tok)
		if err == nil && got.Verification.Authentication != nil {
			t.Errorf("Verification.Authentication = %+v, want nil", got.Verification.Authentication)
		}
		return err
	})

	va := t0.Add(time.Minute)
	tok.Status, tok.Updated = store.TokenActive, va
	tok.Verification = store.Verification{Status: "verified", ThreeDSecure: "authenticated", CVCCheck: "pass", AVSCheck: "unavailable",
		AuthCode: "A1B2C3", NetworkRef: "sim_auth_2", VerifiedAt: &va,
		Authentication: &store.Authentication{Status: "authenticated", ECI: "05", Version: "2.2.0", TransactionID: "3ds_tx_1"}}
	write(t, s, func(tx store.Tx) error { return tx.UpdateToken(tok) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetToken(m.ID, tok.ID)
		same(t, "GetToken (authenticated)", got, tok)
		return err
	})

	// UpdateToken writes the challenge id too.
	plain := addToken(t, s, newToken(m.ID, "", "fp-plain", t0))
	plain.ChallengeID, plain.Updated = id.New("chl"), va
	write(t, s, func(tx store.Tx) error { return tx.UpdateToken(plain) })
	var listed []*store.Token
	read(t, s, func(tx store.Tx) (err error) {
		listed, _, err = tx.ListTokens(m.ID, store.TokenFilter{Limit: 10})
		return
	})
	sort.Slice(listed, func(i, j int) bool { return listed[i].Fingerprint < listed[j].Fingerprint })
	same(t, "ListTokens (challenge ids)", listed, []*store.Token{tok, plain})
}

// ---- payments

func newPayment(merchantID string, created time.Time) *store.Payment {
	return &store.Payment{ID: id.New("pay"), MerchantID: merchantID, Status: store.PaymentProcessing, Amount: 12550,
		Currency: "MYR", CaptureMethod: "automatic", OrderID: "order-1", Description: "Kopi",
		Metadata: map[string]string{"table": "7"},
		Card: store.PaymentCard{Brand: "visa", BIN: "424242", Last4: "4242", Mask: "424242******4242", ExpMonth: 12, ExpYear: 2034,
			Fingerprint: "fp-1"},
		Created: created, Updated: created}
}

// A payment records its 3-D Secure result (nil when none ran) and the
// challenge it waits for.
func testPaymentAuthentication(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	t0 := now()
	waiting := newPayment(m.ID, t0)
	waiting.Status, waiting.ChallengeID = store.PaymentRequiresAction, id.New("chl")
	plain := newPayment(m.ID, t0)
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.InsertPayment(waiting), tx.InsertPayment(plain)) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayment(m.ID, waiting.ID)
		same(t, "GetPayment (waiting for a challenge)", got, waiting)
		if err != nil {
			return err
		}
		if got.Authentication != nil {
			t.Errorf("Authentication = %+v, want nil", got.Authentication)
		}
		got, err = tx.GetPayment(m.ID, plain.ID)
		same(t, "GetPayment (no 3-D Secure)", got, plain)
		return err
	})

	// The challenge done: the result is recorded, the challenge id kept.
	waiting.Status, waiting.Updated = store.PaymentProcessing, t0.Add(time.Minute)
	waiting.Authentication = &store.Authentication{Status: "authenticated", ECI: "05", Version: "2.2.0", TransactionID: "3ds_tx_1"}
	write(t, s, func(tx store.Tx) error { return tx.UpdatePaymentIf(waiting, store.PaymentRequiresAction) })
	waiting.Status, waiting.AmountCaptured, waiting.Updated = store.PaymentSucceeded, waiting.Amount, t0.Add(2*time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.UpdatePayment(waiting) })
	// Frictionless: a result but no challenge, set by UpdatePayment.
	plain.Authentication = &store.Authentication{Status: "not_required"}
	plain.Updated = t0.Add(time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.UpdatePayment(plain) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayment(m.ID, waiting.ID)
		same(t, "GetPayment (authenticated)", got, waiting)
		if err != nil {
			return err
		}
		got, err = tx.GetPayment(m.ID, plain.ID)
		same(t, "GetPayment (frictionless)", got, plain)
		if err != nil {
			return err
		}
		listed, _, err := tx.ListPayments(m.ID, store.PaymentFilter{OrderID: "order-1", Limit: 10})
		want := []*store.Payment{waiting, plain}
		for _, ps := range [][]*store.Payment{listed, want} {
			sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
		}
		same(t, "ListPayments", listed, want)
		return err
	})

	// Clearing the result stores NULL, read back as nil, not as a zero value.
	plain.Authentication, plain.ChallengeID, plain.Updated = nil, "", t0.Add(3*time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.UpdatePayment(plain) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayment(m.ID, plain.ID)
		same(t, "GetPayment (result cleared)", got, plain)
		if err == nil && got.Authentication != nil {
			t.Errorf("Authentication = %+v, want nil", got.Authentication)
		}
		return err
	})
}

// ---- 3-D Secure challenges

func newChallenge(merchantID, status string, expires time.Time, secret []byte) *store.Challenge {
	created := expires.Add(-10 * time.Minute)
	return &store.Challenge{ID: id.New("chl"), MerchantID: merchantID, ObjectType: "payment", ObjectID: id.New("pay"),
		Status: status, Amount: 12550, Currency: "MYR", Brand: "visa", Mask: "424242******4242",
		TransactionID: id.New("3ds"), Version: "2.2.0", ReturnURL: "https://shop.example/return?order=1001",
		Fingerprint: "fp_" + hex.EncodeToString(randBytes(16)), SecretCT: secret, ExpiresAt: expires, Created: created, Updated: created}
}

func challengeID(c *store.Challenge) string { return c.ID }

func testChallenges(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	pay := newChallenge(m.ID, store.ChallengePending, t0.Add(10*time.Minute), randBytes(88))
	tok := newChallenge(m2.ID, store.ChallengeAuthenticated, t0.Add(5*time.Minute), nil)
	tok.ObjectType, tok.ObjectID, tok.Amount, tok.Attempts, tok.Verify = "token", id.New("tok"), 0, 2, true
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.InsertChallenge(pay), tx.InsertChallenge(tok)) })

	read(t, s, func(tx store.Tx) error {
		// By id alone, whichever merchant's it is.
		for _, want := range []*store.Challenge{pay, tok} {
			got, err := tx.GetChallenge(want.ID)
			if err != nil {
				return fmt.Errorf("GetChallenge(%s): %w", want.ID, err)
			}
			same(t, "GetChallenge", got, want)
			if (got.SecretCT == nil) != (want.SecretCT == nil) || got.Verify != want.Verify {
				t.Errorf("GetChallenge(%s): SecretCT nil %v, Verify %v; want nil %v, Verify %v",
					want.ID, got.SecretCT == nil, got.Verify, want.SecretCT == nil, want.Verify)
			}
		}
		_, err := tx.GetChallenge(id.New("chl"))
		wantErr(t, "GetChallenge(unknown)", err, store.ErrNotFound)
		return nil
	})

	dup := newChallenge(m.ID, store.ChallengePending, t0, nil)
	dup.ID = pay.ID
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertChallenge(dup) })
	wantErr(t, "InsertChallenge with an existing id", err, store.ErrConflict)

	// A wrong OTP, then the right one: the sealed card data is erased once
	// the authorization it was kept for has run.
	pay.Attempts, pay.Updated = 1, t0.Add(time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.UpdateChallenge(pay) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetChallenge(pay.ID)
		same(t, "challenge after a wrong OTP", got, pay)
		return err
	})
	pay.Attempts, pay.Status, pay.TransactionID, pay.Version = 2, store.ChallengeAuthenticated, "3ds_tx_final", "2.3.1"
	pay.SecretCT, pay.ExpiresAt, pay.Updated = nil, t0.Add(20*time.Minute), t0.Add(2*time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.UpdateChallenge(pay) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetChallenge(pay.ID)
		same(t, "challenge after UpdateChallenge", got, pay)
		if err == nil && got.SecretCT != nil {
			t.Errorf("SecretCT = %x after erasing, want nil", got.SecretCT)
		}
		return err
	})

	foreign := *pay
	foreign.MerchantID = m2.ID
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateChallenge(&foreign) })
	wantErr(t, "UpdateChallenge (another merchant's)", err, store.ErrNotFound)
	err = s.Write(t.Context(), func(tx store.Tx) error {
		return tx.UpdateChallenge(newChallenge(m.ID, store.ChallengeFailed, t0, nil))
	})
	wantErr(t, "UpdateChallenge(unknown)", err, store.ErrNotFound)
}

// The sweep finds, across merchants, challenges that expired and still need
// work (pending, or holding sealed card data), oldest first.
func testSweepableChallenges(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	secret := func() []byte { return randBytes(48) }
	var (
		pending             = newChallenge(m.ID, store.ChallengePending, t0.Add(-3*time.Minute), secret())
		pendingErased       = newChallenge(m.ID, store.ChallengePending, t0.Add(-2*time.Minute), nil)
		otherMerchant       = newChallenge(m2.ID, store.ChallengePending, t0.Add(-90*time.Second), secret())
		authenticated       = newChallenge(m.ID, store.ChallengeAuthenticated, t0.Add(-time.Minute), secret())
		notYet              = newChallenge(m.ID, store.ChallengePending, t0.Add(time.Minute), secret())
		atCutoff            = newChallenge(m.ID, store.ChallengePending, t0, secret())
		failedErased        = newChallenge(m.ID, store.ChallengeFailed, t0.Add(-4*time.Minute), nil)
		expiredErased       = newChallenge(m.ID, store.ChallengeExpired, t0.Add(-5*time.Minute), nil)
		authenticatedErased = newChallenge(m2.ID, store.ChallengeAuthenticated, t0.Add(-6*time.Minute), nil)
	)
	// Inserted out of order, so only the query's ORDER BY can sort them.
	write(t, s, func(tx store.Tx) error {
		var errs []error
		for _, c := range []*store.Challenge{authenticated, notYet, failedErased, pendingErased, otherMerchant,
			expiredErased, atCutoff, pending, authenticatedErased} {
			errs = append(errs, tx.InsertChallenge(c))
		}
		return errors.Join(errs...)
	})

	sweep := func(what string, before time.Time, limit int, want ...*store.Challenge) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.SweepableChallenges(before, limit)
			same(t, what, ids(got, challengeID), ids(want, challengeID))
			if err == nil && len(got) == len(want) {
				for i := range got {
					same(t, what+" (record)", got[i], want[i])
				}
			}
			return err
		})
	}
	sweep("SweepableChallenges", t0, 10, pending, pendingErased, otherMerchant, authenticated)
	sweep("SweepableChallenges (limit)", t0, 2, pending, pendingErased)
	sweep("SweepableChallenges (earlier cutoff)", t0.Add(-2*time.Minute), 10, pending)
	sweep("SweepableChallenges (later cutoff)", t0.Add(2*time.Minute), 10,
		pending, pendingErased, otherMerchant, authenticated, atCutoff, notYet)

	// Once expired and erased, a challenge needs no more work.
	pending.Status, pending.SecretCT, pending.Updated = store.ChallengeExpired, nil, t0
	authenticated.SecretCT, authenticated.Updated = nil, t0
	pendingErased.Status, pendingErased.Updated = store.ChallengeExpired, t0
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.UpdateChallenge(pending), tx.UpdateChallenge(authenticated), tx.UpdateChallenge(pendingErased))
	})
	sweep("SweepableChallenges (after sweeping)", t0, 10, otherMerchant)
	// Expired but still holding card data (the erase failed): swept again.
	otherMerchant.Status, otherMerchant.Updated = store.ChallengeExpired, t0
	write(t, s, func(tx store.Tx) error { return tx.UpdateChallenge(otherMerchant) })
	sweep("SweepableChallenges (expired, not erased)", t0, 10, otherMerchant)
}

// ---- payment sessions

// newSession is a session with every field set to something other than its
// zero value, so a round trip shows any column lost or swapped.
func testCardAuthFailures(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetCardAuthFailures(m.ID, "fp_a")
		wantErr(t, "GetCardAuthFailures(none yet)", err, store.ErrNotFound)
		return nil
	})
	a := &store.CardAuthFailures{MerchantID: m.ID, Fingerprint: "fp_a", Failures: 1, LastFailure: t0}
	other := &store.CardAuthFailures{MerchantID: m2.ID, Fingerprint: "fp_a", Failures: 4, LastFailure: t0.Add(-time.Hour)}
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.PutCardAuthFailures(a), tx.PutCardAuthFailures(other)) })
	a.Failures, a.LastFailure = 2, t0.Add(time.Minute) // replaces, per merchant
	write(t, s, func(tx store.Tx) error { return tx.PutCardAuthFailures(a) })
	read(t, s, func(tx store.Tx) error {
		for _, want := range []*store.CardAuthFailures{a, other} {
			got, err := tx.GetCardAuthFailures(want.MerchantID, want.Fingerprint)
			if err != nil {
				return err
			}
			same(t, "GetCardAuthFailures", got, want)
		}
		_, err := tx.GetCardAuthFailures(m.ID, "fp_b")
		wantErr(t, "GetCardAuthFailures(another card)", err, store.ErrNotFound)
		return nil
	})
}

func testKEKChecks(t *testing.T, open Opener) {
	s := fresh(t, open)
	read(t, s, func(tx store.Tx) error {
		checks, err := tx.KEKChecks()
		sample, err2 := tx.KEKSample()
		if len(checks) != 0 || len(sample) != 0 {
			t.Errorf("a new store has checks %v, sample %v", checks, sample)
		}
		return errors.Join(err, err2)
	})
	v1, v2 := randBytes(32), randBytes(32)
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertKEKCheck(1, v1, now()), tx.InsertKEKCheck(1<<32-1, v2, now()))
	})
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertKEKCheck(1, randBytes(32), now()) })
	wantErr(t, "InsertKEKCheck of a version that has one", err, store.ErrConflict)

	m := addMerchant(t, s)
	t0 := now()
	var keys []vault.DataKey
	for i, ver := range []uint32{2, 1, 2, 3, 1} {
		dk := newDataKey(id.New("dek"), m.ID, vault.PurposeCard, t0.Add(time.Duration(i)*time.Second))
		dk.KEKVersion = ver
		keys = append(keys, dk)
	}
	write(t, s, func(tx store.Tx) error {
		for _, dk := range keys {
			if err := tx.InsertDataKey(dk); err != nil {
				return err
			}
		}
		return nil
	})
	read(t, s, func(tx store.Tx) error {
		checks, err := tx.KEKChecks()
		if err != nil {
			return err
		}
		same(t, "KEKChecks", checks, map[uint32][]byte{1: v1, 1<<32 - 1: v2})
		sample, err := tx.KEKSample()
		if err != nil {
			return err
		}
		got := map[uint32]string{}
		for _, dk := range sample {
			if _, dup := got[dk.KEKVersion]; dup {
				t.Errorf("KEKSample: version %d twice", dk.KEKVersion)
			}
			got[dk.KEKVersion] = dk.ID
		}
		want := map[uint32]string{}
		for _, dk := range keys {
			if cur, ok := want[dk.KEKVersion]; !ok || dk.ID < cur {
				want[dk.KEKVersion] = dk.ID
			}
		}
		same(t, "KEKSample: the lowest data key id of each version", got, want)
		return nil
	})
}

func newSession(merchantID, status string, expires time.Time) *store.Session {
	created := expires.Add(-30 * time.Minute)
	return &store.Session{ID: id.New("ses"), MerchantID: merchantID, Mode: "redirect", Status: status,
		Amount: 12550, Currency: "MYR", CustomerID: id.New("cus"), SaveCard: "optional", ShowSavedCards: true,
		CaptureMethod: "manual", OrderID: "order-1001", Description: "Kopi and kaya toast",
		SuccessURL: "https://shop.example/ok?order=1001", FailureURL: "https://shop.example/failed",
		ExpiredURL: "https://shop.example/expired", CancelURL: "https://shop.example/cancel",
		CallbackURL: "https://shop.example/callback", CallbackFormat: "senangpay",
		ForwardURLs:      []string{"https://shop.example/return", "https://other.example/back"},
		ThreeDSecure:     "required",
		ClientSecretHash: randBytes(32), KeyID: id.New("sk"),
		PaymentID: id.New("pay"), TokenID: id.New("tok"), Attempts: 1,
		Failure:  &store.Failure{Code: "card_declined", DeclineCode: "insufficient_funds", Message: "The card was declined."},
		Metadata: map[string]string{"table": "7", "cart": "c-42"},
		// Microseconds apart from every other time, so a swapped column shows.
		ConfirmingUntil: created.Add(time.Minute + time.Microsecond), ExpiresAt: expires,
		Created: created, Updated: created.Add(2 * time.Microsecond)}
}

func sessionID(s *store.Session) string { return s.ID }

// stored is s as a store reads it back: metadata never nil.
func stored(s *store.Session) *store.Session {
	c := *s
	c.Metadata = orEmptyMap(s.Metadata)
	return &c
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func testSessions(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	full := newSession(m.ID, store.SessionOpen, t0.Add(30*time.Minute))
	// Every field that may be zero is: no amount (save the card only), no
	// customer, key, payment, token, failure, metadata, client secret, claim.
	bare := &store.Session{ID: id.New("ses"), MerchantID: m.ID, Mode: "api", Status: store.SessionOpen,
		ExpiresAt: t0.Add(time.Hour), Created: t0, Updated: t0}
	elsewhere := newSession(m2.ID, store.SessionRequiresAction, t0.Add(20*time.Minute))
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertSession(full), tx.InsertSession(bare), tx.InsertSession(elsewhere))
	})

	// check reads every session back both ways and compares it with want.
	check := func(what string, want ...*store.Session) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			for _, w := range want {
				got, err := tx.GetSession(w.MerchantID, w.ID)
				if err != nil {
					return fmt.Errorf("%s: GetSession(%s): %w", what, w.ID, err)
				}
				same(t, what+": GetSession", got, stored(w))
				if (got.Failure == nil) != (w.Failure == nil) || (got.ClientSecretHash == nil) != (w.ClientSecretHash == nil) ||
					got.ConfirmingUntil.IsZero() != w.ConfirmingUntil.IsZero() {
					t.Errorf("%s: GetSession(%s): Failure nil %v, ClientSecretHash nil %v, ConfirmingUntil zero %v; want %v, %v, %v",
						what, w.ID, got.Failure == nil, got.ClientSecretHash == nil, got.ConfirmingUntil.IsZero(),
						w.Failure == nil, w.ClientSecretHash == nil, w.ConfirmingUntil.IsZero())
				}
				if got.Metadata == nil {
					t.Errorf("%s: GetSession(%s): Metadata nil, want an empty, non-nil map", what, w.ID)
				}
				byID, err := tx.GetSessionByID(w.ID)
				if err != nil {
					return fmt.Errorf("%s: GetSessionByID(%s): %w", what, w.ID, err)
				}
				same(t, what+": GetSessionByID", byID, stored(w))
			}
			return nil
		})
	}
	check("after insert", full, bare, elsewhere)

	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetSession(m2.ID, full.ID)
		wantErr(t, "GetSession (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetSession(m.ID, elsewhere.ID)
		wantErr(t, "GetSession (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetSession(m.ID, id.New("ses"))
		wantErr(t, "GetSession(unknown)", err, store.ErrNotFound)
		_, err = tx.GetSessionByID(id.New("ses"))
		wantErr(t, "GetSessionByID(unknown)", err, store.ErrNotFound)
		return nil
	})

	for _, merchantID := range []string{m.ID, m2.ID} {
		dup := newSession(merchantID, store.SessionOpen, t0)
		dup.ID = full.ID
		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertSession(dup) })
		wantErr(t, "InsertSession with an existing id", err, store.ErrConflict)
	}
	check("after refused inserts", full)

	// UpdateSession writes each mutable field, one at a time (so a column
	// left out or swapped shows), to a new value and then back to its zero
	// value; the merchant's other session and the other merchant's stay as
	// they were.
	for _, c := range []struct {
		what string
		edit func(*store.Session)
	}{
		{"status", func(x *store.Session) { x.Status = store.SessionRequiresAction }},
		{"customer", func(x *store.Session) { x.CustomerID = id.New("cus") }},
		{"payment", func(x *store.Session) { x.PaymentID = id.New("pay") }},
		{"token", func(x *store.Session) { x.TokenID = id.New("tok") }},
		{"attempts", func(x *store.Session) { x.Attempts = 3 }},
		{"failure", func(x *store.Session) {
			x.Failure = &store.Failure{Code: "authentication_failed", Message: "3-D Secure failed."}
		}},
		{"confirming until", func(x *store.Session) { x.ConfirmingUntil = t0.Add(45 * time.Second) }},
		{"key", func(x *store.Session) { x.KeyID = id.New("sk") }},
		{"metadata", func(x *store.Session) { x.Metadata = map[string]string{"table": "8"} }},
		{"updated", func(x *store.Session) { x.Updated = t0.Add(time.Hour + 3*time.Microsecond) }},
		{"expires at", func(x *store.Session) { x.ExpiresAt = t0.Add(2*time.Hour + 5*time.Microsecond) }},
		{"status (final)", func(x *store.Session) { x.Status = store.SessionSucceeded }},
		{"customer (none)", func(x *store.Session) { x.CustomerID = "" }},
		{"payment (none)", func(x *store.Session) { x.PaymentID = "" }},
		{"token (none)", func(x *store.Session) { x.TokenID = "" }},
		{"attempts (none)", func(x *store.Session) { x.Attempts = 0 }},
		{"failure (none)", func(x *store.Session) { x.Failure = nil }},
		{"confirming until (none)", func(x *store.Session) { x.ConfirmingUntil = time.Time{} }},
		{"key (none)", func(x *store.Session) { x.KeyID = "" }},
		{"metadata (none)", func(x *store.Session) { x.Metadata = nil }},
	} {
		c.edit(full)
		write(t, s, func(tx store.Tx) error { return tx.UpdateSession(full) })
		check("UpdateSession ("+c.what+")", full, bare, elsewhere)
	}

	// And from zero values to set ones, all at once.
	bare.Status, bare.CustomerID, bare.Attempts = store.SessionFailed, id.New("cus"), 5
	bare.Failure, bare.Metadata = &store.Failure{Code: "processing_error", Message: "Try again."}, map[string]string{}
	write(t, s, func(tx store.Tx) error { return tx.UpdateSession(bare) })
	check("UpdateSession (bare)", full, bare, elsewhere)

	foreign := *full
	foreign.MerchantID, foreign.Status, foreign.Updated = m2.ID, store.SessionCanceled, t0.Add(3*time.Hour)
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateSession(&foreign) })
	wantErr(t, "UpdateSession (another merchant's)", err, store.ErrNotFound)
	err = s.Write(t.Context(), func(tx store.Tx) error {
		return tx.UpdateSession(newSession(m.ID, store.SessionCanceled, t0))
	})
	wantErr(t, "UpdateSession(unknown)", err, store.ErrNotFound)
	check("after refused updates", full, bare, elsewhere)
}

// The sweep finds, across merchants, sessions still open or waiting for the
// card holder whose expiry has passed, oldest expiry first (then by id).
func testSweepableSessions(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	var (
		open1          = newSession(m.ID, store.SessionOpen, t0.Add(-3*time.Minute))
		requiresAction = newSession(m.ID, store.SessionRequiresAction, t0.Add(-2*time.Minute))
		otherMerchant  = newSession(m2.ID, store.SessionOpen, t0.Add(-90*time.Second))
		// Two at the same expiry, ids in byte order (upper case first,
		// whatever the database's locale): the id breaks the tie.
		tie1 = newSession(m.ID, store.SessionOpen, t0.Add(-time.Minute))
		tie2 = newSession(m2.ID, store.SessionRequiresAction, t0.Add(-time.Minute))

		succeeded = newSession(m.ID, store.SessionSucceeded, t0.Add(-4*time.Minute))
		failed    = newSession(m.ID, store.SessionFailed, t0.Add(-5*time.Minute))
		expired   = newSession(m2.ID, store.SessionExpired, t0.Add(-6*time.Minute))
		canceled  = newSession(m.ID, store.SessionCanceled, t0.Add(-7*time.Minute))
		notYet    = newSession(m.ID, store.SessionOpen, t0.Add(time.Minute))
		atCutoff  = newSession(m.ID, store.SessionRequiresAction, t0)
	)
	suffix := hex.EncodeToString(randBytes(8))
	tie1.ID, tie2.ID = "ses_B"+suffix, "ses_a"+suffix
	// Inserted out of order, so only the query's ORDER BY can sort them.
	write(t, s, func(tx store.Tx) error {
		var errs []error
		for _, x := range []*store.Session{succeeded, tie2, notYet, requiresAction, canceled, otherMerchant,
			failed, atCutoff, tie1, expired, open1} {
			errs = append(errs, tx.InsertSession(x))
		}
		return errors.Join(errs...)
	})

	sweep := func(what string, before time.Time, limit int, want ...*store.Session) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.SweepableSessions(before, limit)
			same(t, what, ids(got, sessionID), ids(want, sessionID))
			if err == nil && len(got) == len(want) {
				for i := range got {
					same(t, what+" (record)", got[i], stored(want[i]))
				}
			}
			return err
		})
	}
	sweep("SweepableSessions", t0, 10, open1, requiresAction, otherMerchant, tie1, tie2)
	sweep("SweepableSessions (limit)", t0, 2, open1, requiresAction)
	sweep("SweepableSessions (limit within a tie)", t0, 4, open1, requiresAction, otherMerchant, tie1)
	sweep("SweepableSessions (earlier cutoff)", t0.Add(-2*time.Minute), 10, open1)
	sweep("SweepableSessions (later cutoff)", t0.Add(2*time.Minute), 10,
		open1, requiresAction, otherMerchant, tie1, tie2, atCutoff, notYet)
	sweep("SweepableSessions (nothing expired yet)", t0.Add(-10*time.Minute), 10)

	// Once finished a session needs no sweeping; one extended is not due.
	open1.Status, open1.Updated = store.SessionExpired, t0
	requiresAction.Status, requiresAction.Updated = store.SessionSucceeded, t0
	otherMerchant.ExpiresAt, otherMerchant.Updated = t0.Add(5*time.Minute), t0
	tie1.Status, tie1.Updated = store.SessionRequiresAction, t0
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.UpdateSession(open1), tx.UpdateSession(requiresAction), tx.UpdateSession(otherMerchant),
			tx.UpdateSession(tie1))
	})
	sweep("SweepableSessions (after updates)", t0, 10, tie1, tie2)
	// A finished session brought back (a retry after a failure) is due again.
	failed.Status, failed.Updated = store.SessionOpen, t0
	write(t, s, func(tx store.Tx) error { return tx.UpdateSession(failed) })
	sweep("SweepableSessions (reopened)", t0, 10, failed, tie1, tie2)
}

// ---- session keys

func testSessionKeys(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	suffix := hex.EncodeToString(randBytes(8))
	mk := func(keyID, merchantID string, created time.Time) *store.SessionKey {
		return &store.SessionKey{ID: keyID, MerchantID: merchantID, PrivateCT: randBytes(1250), Public: randBytes(294), Created: created}
	}
	// Ids run against creation order, so only created can pick the newest.
	var (
		oldest = mk("sk_c"+suffix, m.ID, t0.Add(-2*time.Hour))
		middle = mk("sk_b"+suffix, m.ID, t0.Add(-time.Hour))
		newest = mk("sk_a"+suffix, m.ID, t0.Add(-30*time.Minute))
		other  = mk(id.New("sk"), m2.ID, t0) // newer than all of m's
	)
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertSessionKey(middle), tx.InsertSessionKey(other), tx.InsertSessionKey(newest), tx.InsertSessionKey(oldest))
	})

	read(t, s, func(tx store.Tx) error {
		for _, k := range []*store.SessionKey{oldest, middle, newest, other} {
			got, err := tx.GetSessionKey(k.MerchantID, k.ID)
			if err != nil {
				return fmt.Errorf("GetSessionKey(%s): %w", k.ID, err)
			}
			same(t, "GetSessionKey", got, k)
		}
		_, err := tx.GetSessionKey(m2.ID, oldest.ID)
		wantErr(t, "GetSessionKey (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetSessionKey(m.ID, other.ID)
		wantErr(t, "GetSessionKey (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetSessionKey(m.ID, id.New("sk"))
		wantErr(t, "GetSessionKey(unknown)", err, store.ErrNotFound)
		return nil
	})

	current := func(what, merchantID string, since time.Time, want *store.SessionKey) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.CurrentSessionKey(merchantID, since)
			if want == nil {
				wantErr(t, what, err, store.ErrNotFound)
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			same(t, what, got, want)
			return nil
		})
	}
	current("CurrentSessionKey (all in the window)", m.ID, t0.Add(-3*time.Hour), newest)
	current("CurrentSessionKey (two in the window)", m.ID, t0.Add(-90*time.Minute), newest)
	current("CurrentSessionKey (window starts at the newest)", m.ID, newest.Created, newest)
	current("CurrentSessionKey (window after the newest)", m.ID, newest.Created.Add(time.Microsecond), nil)
	current("CurrentSessionKey (other merchant)", m2.ID, t0.Add(-3*time.Hour), other)
	current("CurrentSessionKey (other merchant, window after its key)", m2.ID, t0.Add(time.Second), nil)
	current("CurrentSessionKey (unknown merchant)", id.New("mer"), t0.Add(-3*time.Hour), nil)

	// Rotation: a new key is current from then on.
	rotated := mk(id.New("sk"), m.ID, t0.Add(-time.Minute))
	write(t, s, func(tx store.Tx) error { return tx.InsertSessionKey(rotated) })
	current("CurrentSessionKey (after rotation)", m.ID, t0.Add(-time.Hour), rotated)

	dup := mk(newest.ID, m2.ID, t0)
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertSessionKey(dup) })
	wantErr(t, "InsertSessionKey with an existing id", err, store.ErrConflict)
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetSessionKey(m.ID, newest.ID)
		same(t, "session key after a refused insert", got, newest)
		return err
	})
}

func testIdempotency(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	r := &store.Idempotency{MerchantID: m.ID, Key: "order-1001", RequestHash: randBytes(32), State: store.IdemStarted,
		Created: t0, LockedUntil: t0.Add(time.Minute)}
	r2 := &store.Idempotency{MerchantID: m2.ID, Key: "order-1001", RequestHash: randBytes(32), State: store.IdemStarted,
		Created: t0, LockedUntil: t0.Add(time.Minute)}
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.InsertIdempotency(r), tx.InsertIdempotency(r2)) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency(m.ID, r.Key)
		same(t, "GetIdempotency", got, r)
		if err != nil {
			return err
		}
		got, err = tx.GetIdempotency(m2.ID, r.Key)
		same(t, "GetIdempotency (same key, other merchant)", got, r2)
		if err != nil {
			return err
		}
		_, err = tx.GetIdempotency(m.ID, "order-unknown")
		wantErr(t, "GetIdempotency(unknown)", err, store.ErrNotFound)
		_, err = tx.GetIdempotency(id.New("mer"), r.Key)
		wantErr(t, "GetIdempotency (another merchant)", err, store.ErrNotFound)
		return nil
	})
	dup := *r
	dup.RequestHash = randBytes(32)
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertIdempotency(&dup) })
	wantErr(t, "InsertIdempotency (key in use)", err, store.ErrConflict)

	r.State, r.StatusCode, r.Response, r.LockedUntil = store.IdemDone, 201, []byte(`{"id":"tok_x"}`), t0
	write(t, s, func(tx store.Tx) error { return tx.UpdateIdempotency(r) })
	missing := *r
	missing.Key = "order-unknown"
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateIdempotency(&missing) })
	wantErr(t, "UpdateIdempotency(unknown)", err, store.ErrNotFound)
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency(m.ID, r.Key)
		same(t, "idempotency record after UpdateIdempotency", got, r)
		if err != nil {
			return err
		}
		got, err = tx.GetIdempotency(m2.ID, r.Key)
		same(t, "other merchant's record after UpdateIdempotency", got, r2)
		return err
	})

	write(t, s, func(tx store.Tx) error { return tx.DeleteIdempotency(m.ID, r.Key) })
	write(t, s, func(tx store.Tx) error { return tx.DeleteIdempotency(m.ID, r.Key) }) // deleting nothing is fine
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetIdempotency(m.ID, r.Key)
		wantErr(t, "GetIdempotency (deleted)", err, store.ErrNotFound)
		got, err := tx.GetIdempotency(m2.ID, r.Key)
		same(t, "other merchant's record after DeleteIdempotency", got, r2)
		return err
	})

	var old []*store.Idempotency
	for i := range 3 {
		old = append(old, &store.Idempotency{MerchantID: m.ID, Key: fmt.Sprintf("old-%d", i), RequestHash: randBytes(32),
			State: store.IdemDone, StatusCode: 200, Response: []byte("{}"), Created: t0.Add(-48 * time.Hour), LockedUntil: t0})
	}
	write(t, s, func(tx store.Tx) error {
		for _, o := range old {
			if err := tx.InsertIdempotency(o); err != nil {
				return err
			}
		}
		return nil
	})
	var n int
	write(t, s, func(tx store.Tx) (err error) { n, err = tx.DeleteIdempotencyBefore(t0.Add(-24 * time.Hour)); return })
	if n != len(old) {
		t.Errorf("DeleteIdempotencyBefore = %d, want %d", n, len(old))
	}
	read(t, s, func(tx store.Tx) error {
		for _, o := range old {
			_, err := tx.GetIdempotency(m.ID, o.Key)
			wantErr(t, "GetIdempotency (expired)", err, store.ErrNotFound)
		}
		_, err := tx.GetIdempotency(m2.ID, r2.Key)
		return err
	})
}

// What recovery from a crash mid-request keeps: a claim's owner instance,
// the instances' heartbeats, the end of every lease left started, and the
// key of a payment's capture or cancel.
func testCrashRecovery(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	t0 := now()
	held := &store.Idempotency{MerchantID: m.ID, Key: "held", RequestHash: randBytes(32), State: store.IdemStarted,
		Created: t0, LockedUntil: t0.Add(time.Minute), Owner: "ins_a"}
	released := &store.Idempotency{MerchantID: m.ID, Key: "released", RequestHash: randBytes(32), State: store.IdemStarted,
		Created: t0, LockedUntil: time.Time{}}
	done := &store.Idempotency{MerchantID: m.ID, Key: "done", RequestHash: randBytes(32), State: store.IdemDone,
		StatusCode: 201, Response: []byte("{}"), Created: t0, LockedUntil: t0.Add(time.Minute)}
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertIdempotency(held), tx.InsertIdempotency(released), tx.InsertIdempotency(done))
	})
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency(m.ID, "held")
		same(t, "GetIdempotency (owner kept)", got, held)
		return err
	})
	held.Owner = "ins_b"
	write(t, s, func(tx store.Tx) error { return tx.UpdateIdempotency(held) })
	var n int
	write(t, s, func(tx store.Tx) (err error) { n, err = tx.EndIdempotencyLeases(); return })
	if n != 1 {
		t.Errorf("EndIdempotencyLeases = %d, want 1 (only the held key)", n)
	}
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetIdempotency(m.ID, "held")
		if err != nil {
			return err
		}
		if got.Owner != "ins_b" || got.LockedUntil.After(t0) {
			t.Errorf("held key after EndIdempotencyLeases: owner %q, locked until %v", got.Owner, got.LockedUntil)
		}
		got, err = tx.GetIdempotency(m.ID, "done")
		same(t, "a finished key is left alone", got, done)
		return err
	})

	a := &store.Instance{ID: "ins_a", Started: t0, Beat: t0}
	old := &store.Instance{ID: "ins_old", Started: t0.Add(-48 * time.Hour), Beat: t0.Add(-47 * time.Hour)}
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.BeatInstance(a), tx.BeatInstance(old)) })
	a2 := &store.Instance{ID: "ins_a", Started: t0.Add(time.Hour), Beat: t0.Add(3 * time.Second)}
	write(t, s, func(tx store.Tx) error { return tx.BeatInstance(a2) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetInstance("ins_a")
		same(t, "GetInstance after a second beat (start kept)", got, &store.Instance{ID: "ins_a", Started: t0, Beat: a2.Beat})
		_, err2 := tx.GetInstance("ins_unknown")
		wantErr(t, "GetInstance(unknown)", err2, store.ErrNotFound)
		return err
	})
	write(t, s, func(tx store.Tx) (err error) { n, err = tx.DeleteInstancesBefore(t0.Add(-24 * time.Hour)); return })
	if n != 1 {
		t.Errorf("DeleteInstancesBefore = %d, want 1", n)
	}
	write(t, s, func(tx store.Tx) error { return tx.DeleteInstance("ins_a") })
	read(t, s, func(tx store.Tx) error {
		for _, id := range []string{"ins_a", "ins_old"} {
			_, err := tx.GetInstance(id)
			wantErr(t, "GetInstance (deleted)", err, store.ErrNotFound)
		}
		return nil
	})

	p := newPayment(m.ID, t0)
	p.OpKey = "op-1"
	write(t, s, func(tx store.Tx) error { return tx.InsertPayment(p) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayment(m.ID, p.ID)
		same(t, "GetPayment (op key)", got, p)
		return err
	})
	p.OpKey, p.PendingOp, p.PendingUntil = "op-2", "capture", t0.Add(time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.UpdatePayment(p) })
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetPayment(m.ID, p.ID)
		same(t, "GetPayment after UpdatePayment (op key)", got, p)
		return err
	})
}

// ---- audit

func testAudit(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	object := id.New("tok")
	mk := func(merchantID, objectID string, at time.Time) *store.Audit {
		return &store.Audit{ID: id.New("aud"), MerchantID: merchantID, Action: "token.detokenize", ObjectID: objectID,
			Purpose: "charge", RequestID: id.New("req"), Created: at}
	}
	first, second, third := mk(m.ID, object, t0), mk(m.ID, object, t0.Add(time.Second)), mk(m.ID, object, t0.Add(time.Second))
	if second.ID > third.ID {
		second, third = third, second // same time: id order
	}
	others := []*store.Audit{mk(m.ID, id.New("tok"), t0), mk(m2.ID, object, t0)}
	write(t, s, func(tx store.Tx) error {
		// Inserted out of order: the list is ordered by time, then id.
		for _, a := range append([]*store.Audit{third, first, second}, others...) {
			if err := tx.InsertAudit(a); err != nil {
				return err
			}
		}
		return nil
	})
	var got []*store.Audit
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.ListAudit(m.ID, object); return })
	same(t, "ListAudit", got, []*store.Audit{first, second, third})
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.ListAudit(m2.ID, object); return })
	same(t, "ListAudit (other merchant)", got, others[1:])
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.ListAudit(m.ID, id.New("tok")); return })
	if len(got) != 0 {
		t.Errorf("ListAudit (unknown object) = %d records, want 0", len(got))
	}
	dup := mk(m.ID, object, t0)
	dup.ID = first.ID
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertAudit(dup) })
	wantErr(t, "InsertAudit with an existing id", err, store.ErrConflict)
}

// ---- events API

func eventID(e *store.Event) string { return e.ID }

func testEvents(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	objA, objB, objC := id.New("pay"), id.New("pay"), id.New("tok")
	suffix := hex.EncodeToString(randBytes(8))
	type spec struct{ merchant, typ, object string }
	specs := []spec{
		{m.ID, "payment.processing", objA},
		{m.ID, "payment.processing", objB},
		{m2.ID, "payment.processing", objA}, // another merchant's, same object id
		{m.ID, "payment.succeeded", objA},
		{m.ID, "token.created", objC},
		{m.ID, "payment.failed", objB},
		{m2.ID, "payment.succeeded", objA},
		{m.ID, "payment.refunded", objA},
		{m.ID, "payment.processing", objC},
		{m.ID, "payment.succeeded", objB},
		{m.ID, "token.created", objA},
	}
	// Ids and creation times both run against insertion (seq) order, so
	// only seq can order the lists.
	var mine, theirs []*store.Event
	write(t, s, func(tx store.Tx) error {
		mine, theirs = nil, nil
		for i, sp := range specs {
			e := &store.Event{ID: fmt.Sprintf("evt_%02d%s", 99-i, suffix), MerchantID: sp.merchant, Type: sp.typ,
				ObjectType: "payment", ObjectID: sp.object, Data: []byte(fmt.Sprintf(`{"id":%q,"n":%d}`, sp.object, i)),
				Created: t0.Add(-time.Duration(i) * time.Second)}
			if err := tx.InsertEvent(e); err != nil {
				return err
			}
			if sp.merchant == m.ID {
				mine = append(mine, e)
			} else {
				theirs = append(theirs, e)
			}
		}
		return nil
	})
	// Sequence numbers increase per merchant; they need not be contiguous
	// (PostgreSQL takes them from a sequence to avoid write conflicts).
	for i, e := range mine {
		if e.Seq <= 0 || i > 0 && e.Seq <= mine[i-1].Seq {
			t.Fatalf("event %d of the merchant has seq %d after %v", i, e.Seq, mine[:i])
		}
	}

	read(t, s, func(tx store.Tx) error {
		for _, e := range append(slices.Clone(mine), theirs...) {
			got, err := tx.GetEvent(e.MerchantID, e.ID)
			if err != nil {
				return fmt.Errorf("GetEvent(%s): %w", e.ID, err)
			}
			same(t, "GetEvent", got, e)
		}
		_, err := tx.GetEvent(m2.ID, mine[0].ID)
		wantErr(t, "GetEvent (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetEvent(m.ID, theirs[0].ID)
		wantErr(t, "GetEvent (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetEvent(m.ID, id.New("evt"))
		wantErr(t, "GetEvent(unknown)", err, store.ErrNotFound)
		return nil
	})

	newestFirst := func(evs []*store.Event, keep func(*store.Event) bool) []*store.Event {
		var out []*store.Event
		for i := len(evs) - 1; i >= 0; i-- {
			if keep(evs[i]) {
				out = append(out, evs[i])
			}
		}
		return out
	}
	list := func(merchantID string, f store.EventFilter) ([]*store.Event, bool, error) {
		var page []*store.Event
		var more bool
		err := s.Read(t.Context(), func(tx store.Tx) (err error) { page, more, err = tx.ListEvents(merchantID, f); return })
		return page, more, err
	}
	pages := func(what, merchantID string, f store.EventFilter, want []*store.Event) {
		t.Helper()
		var got []*store.Event
		f.StartingAfter = ""
		for n := 0; ; n++ {
			page, more, err := list(merchantID, f)
			if err != nil {
				t.Fatalf("%s: ListEvents(%+v): %v", what, f, err)
			}
			if len(page) > f.Limit {
				t.Fatalf("%s: ListEvents(%+v) returned %d events", what, f, len(page))
			}
			got = append(got, page...)
			if wantMore := len(got) < len(want); more != wantMore {
				t.Errorf("%s: page %d: has_more = %v, want %v", what, n, more, wantMore)
			}
			if !more || len(page) == 0 || n > len(want) {
				break
			}
			f.StartingAfter = page[len(page)-1].ID
		}
		same(t, what+" (ids)", ids(got, eventID), ids(want, eventID))
		same(t, what, got, want)
	}
	all := func(*store.Event) bool { return true }
	for _, limit := range []int{1, 2, 3, 9, 10, 50} {
		pages(fmt.Sprintf("ListEvents, pages of %d", limit), m.ID, store.EventFilter{Limit: limit}, newestFirst(mine, all))
		pages(fmt.Sprintf("ListEvents (type), pages of %d", limit), m.ID,
			store.EventFilter{Limit: limit, Type: "payment.processing"},
			newestFirst(mine, func(e *store.Event) bool { return e.Type == "payment.processing" }))
		pages(fmt.Sprintf("ListEvents (object), pages of %d", limit), m.ID,
			store.EventFilter{Limit: limit, ObjectID: objA},
			newestFirst(mine, func(e *store.Event) bool { return e.ObjectID == objA }))
		pages(fmt.Sprintf("ListEvents (type and object), pages of %d", limit), m.ID,
			store.EventFilter{Limit: limit, Type: "token.created", ObjectID: objA},
			newestFirst(mine, func(e *store.Event) bool { return e.Type == "token.created" && e.ObjectID == objA }))
		pages(fmt.Sprintf("ListEvents (other merchant), pages of %d", limit), m2.ID, store.EventFilter{Limit: limit},
			newestFirst(theirs, all))
	}
	pages("ListEvents (no such type)", m.ID, store.EventFilter{Limit: 10, Type: "payment.captured"}, nil)
	pages("ListEvents (unknown merchant)", id.New("mer"), store.EventFilter{Limit: 10}, nil)

	// The cursor need not match the filter: the page continues below its seq.
	page, more, err := list(m.ID, store.EventFilter{Limit: 10, Type: "payment.processing", StartingAfter: mine[4].ID})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "ListEvents (type, after an event of another type)", ids(page, eventID), ids([]*store.Event{mine[1], mine[0]}, eventID))
	if more {
		t.Error("ListEvents (type, after an event of another type): has_more = true, want false")
	}
	_, _, err = list(m.ID, store.EventFilter{Limit: 10, StartingAfter: id.New("evt")})
	wantErr(t, "ListEvents after an unknown event", err, store.ErrNotFound)
	_, _, err = list(m2.ID, store.EventFilter{Limit: 10, StartingAfter: mine[3].ID})
	wantErr(t, "ListEvents after another merchant's event", err, store.ErrNotFound)

	// EventsAfter: one object's events above a seq, oldest first.
	after := func(what, merchantID, objectID string, afterSeq int64, limit int, want ...*store.Event) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.EventsAfter(merchantID, objectID, afterSeq, limit)
			same(t, what+" (ids)", ids(got, eventID), ids(want, eventID))
			same(t, what, got, want)
			return err
		})
	}
	onA := []*store.Event{mine[0], mine[2], mine[5], mine[8]} // m's events about objA, by seq
	after("EventsAfter", m.ID, objA, 0, 10, onA...)
	after("EventsAfter (limit)", m.ID, objA, 0, 2, onA[:2]...)
	after("EventsAfter (after the second)", m.ID, objA, onA[1].Seq, 10, onA[2:]...)
	after("EventsAfter (between two)", m.ID, objA, onA[1].Seq+1, 10, onA[2:]...)
	after("EventsAfter (after the second, limit)", m.ID, objA, onA[1].Seq, 1, onA[2])
	after("EventsAfter (after the last)", m.ID, objA, onA[3].Seq, 10)
	after("EventsAfter (other object)", m.ID, objC, 0, 10, mine[3], mine[6])
	after("EventsAfter (other merchant)", m2.ID, objA, 0, 10, theirs...)
	after("EventsAfter (other merchant, after its first)", m2.ID, objA, theirs[0].Seq, 10, theirs[1])
	after("EventsAfter (unknown object)", m.ID, id.New("pay"), 0, 10)
}

// ---- webhook endpoints

func newWebhookEndpoint(merchantID string, created time.Time) *store.WebhookEndpoint {
	return &store.WebhookEndpoint{ID: id.New("we"), MerchantID: merchantID, URL: "https://shop.example/webhooks?src=coffer",
		Events: []string{"payment.succeeded", "payment.failed"}, SecretCT: randBytes(72), PreviousCT: randBytes(72),
		// Microseconds apart from every other time, so a swapped column shows.
		PreviousUntil: created.Add(24*time.Hour + time.Microsecond), Description: "Orders service",
		Created: created, Updated: created.Add(2 * time.Microsecond)}
}

func webhookEndpointID(e *store.WebhookEndpoint) string { return e.ID }

// storedEndpoint is e as a store reads it back: Events never nil.
func storedEndpoint(e *store.WebhookEndpoint) *store.WebhookEndpoint {
	c := *e
	if c.Events == nil {
		c.Events = []string{}
	}
	return &c
}

func testWebhookEndpoints(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	full := newWebhookEndpoint(m.ID, t0.Add(-time.Hour))
	// Every field that may be zero is: no previous secret (never rotated),
	// no description; and no events, read back as an empty list.
	bare := &store.WebhookEndpoint{ID: id.New("we"), MerchantID: m.ID, URL: "https://shop.example/hook",
		SecretCT: randBytes(72), Created: t0.Add(-30 * time.Minute), Updated: t0.Add(-30 * time.Minute)}
	elsewhere := newWebhookEndpoint(m2.ID, t0.Add(-2*time.Hour))
	elsewhere.Events = []string{"*"}
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertWebhookEndpoint(full), tx.InsertWebhookEndpoint(bare), tx.InsertWebhookEndpoint(elsewhere))
	})

	check := func(what string, want ...*store.WebhookEndpoint) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			for _, w := range want {
				got, err := tx.GetWebhookEndpoint(w.MerchantID, w.ID)
				if err != nil {
					return fmt.Errorf("%s: GetWebhookEndpoint(%s): %w", what, w.ID, err)
				}
				same(t, what+": GetWebhookEndpoint", got, storedEndpoint(w))
				if (got.PreviousCT == nil) != (w.PreviousCT == nil) || (got.Deleted == nil) != (w.Deleted == nil) ||
					got.PreviousUntil.IsZero() != w.PreviousUntil.IsZero() || got.Events == nil {
					t.Errorf("%s: GetWebhookEndpoint(%s): PreviousCT nil %v, Deleted nil %v, PreviousUntil zero %v, Events nil %v; want %v, %v, %v, false",
						what, w.ID, got.PreviousCT == nil, got.Deleted == nil, got.PreviousUntil.IsZero(), got.Events == nil,
						w.PreviousCT == nil, w.Deleted == nil, w.PreviousUntil.IsZero())
				}
			}
			return nil
		})
	}
	check("after insert", full, bare, elsewhere)

	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetWebhookEndpoint(m2.ID, full.ID)
		wantErr(t, "GetWebhookEndpoint (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetWebhookEndpoint(m.ID, elsewhere.ID)
		wantErr(t, "GetWebhookEndpoint (another merchant's)", err, store.ErrNotFound)
		_, err = tx.GetWebhookEndpoint(m.ID, id.New("we"))
		wantErr(t, "GetWebhookEndpoint(unknown)", err, store.ErrNotFound)
		return nil
	})
	for _, merchantID := range []string{m.ID, m2.ID} {
		dup := newWebhookEndpoint(merchantID, t0)
		dup.ID = full.ID
		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertWebhookEndpoint(dup) })
		wantErr(t, "InsertWebhookEndpoint with an existing id", err, store.ErrConflict)
	}
	check("after refused inserts", full)

	// UpdateWebhookEndpoint writes each mutable field, one at a time, to a
	// new value and back to its zero value; the others stay as they were.
	oldSecret := full.SecretCT
	for _, c := range []struct {
		what string
		edit func(*store.WebhookEndpoint)
	}{
		{"url", func(e *store.WebhookEndpoint) { e.URL = "https://shop.example/v2/webhooks" }},
		{"events", func(e *store.WebhookEndpoint) { e.Events = []string{"*"} }},
		{"secret", func(e *store.WebhookEndpoint) { e.SecretCT = randBytes(72) }},
		{"previous secret", func(e *store.WebhookEndpoint) { e.PreviousCT = oldSecret }},
		{"previous until", func(e *store.WebhookEndpoint) { e.PreviousUntil = t0.Add(48*time.Hour + 3*time.Microsecond) }},
		{"description", func(e *store.WebhookEndpoint) { e.Description = "Orders service (v2)" }},
		{"updated", func(e *store.WebhookEndpoint) { e.Updated = t0.Add(5 * time.Microsecond) }},
		{"events (none)", func(e *store.WebhookEndpoint) { e.Events = nil }},
		{"previous secret (none)", func(e *store.WebhookEndpoint) { e.PreviousCT = nil }},
		{"previous until (none)", func(e *store.WebhookEndpoint) { e.PreviousUntil = time.Time{} }},
		{"description (none)", func(e *store.WebhookEndpoint) { e.Description = "" }},
	} {
		c.edit(full)
		write(t, s, func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(full) })
		check("UpdateWebhookEndpoint ("+c.what+")", full, bare, elsewhere)
	}
	// A rotation from never rotated, all at once.
	bare.PreviousCT, bare.SecretCT = bare.SecretCT, randBytes(72)
	bare.PreviousUntil, bare.Updated = t0.Add(24*time.Hour), t0
	write(t, s, func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(bare) })
	check("UpdateWebhookEndpoint (rotation)", full, bare, elsewhere)

	foreign := *full
	foreign.MerchantID, foreign.URL = m2.ID, "https://evil.example/"
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(&foreign) })
	wantErr(t, "UpdateWebhookEndpoint (another merchant's)", err, store.ErrNotFound)
	err = s.Write(t.Context(), func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(newWebhookEndpoint(m.ID, t0)) })
	wantErr(t, "UpdateWebhookEndpoint(unknown)", err, store.ErrNotFound)
	check("after refused updates", full, bare, elsewhere)

	// Listing: live endpoints only, oldest first, then by id (byte order).
	suffix := hex.EncodeToString(randBytes(8))
	tie1, tie2 := newWebhookEndpoint(m.ID, t0.Add(-45*time.Minute)), newWebhookEndpoint(m.ID, t0.Add(-45*time.Minute))
	tie1.ID, tie2.ID = "we_B"+suffix, "we_a"+suffix
	newest := newWebhookEndpoint(m.ID, t0.Add(-time.Minute))
	newest.PreviousCT, newest.PreviousUntil = nil, time.Time{}
	gone := t0.Add(-10 * time.Minute)
	deleted := newWebhookEndpoint(m.ID, t0.Add(-50*time.Minute))
	deleted.Deleted = &gone
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertWebhookEndpoint(newest), tx.InsertWebhookEndpoint(tie2), tx.InsertWebhookEndpoint(deleted),
			tx.InsertWebhookEndpoint(tie1))
	})
	listed := func(what, merchantID string, want ...*store.WebhookEndpoint) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.ListWebhookEndpoints(merchantID)
			same(t, what+" (ids)", ids(got, webhookEndpointID), ids(want, webhookEndpointID))
			if err == nil && len(got) == len(want) {
				for i := range got {
					same(t, what+" (record)", got[i], storedEndpoint(want[i]))
				}
			}
			return err
		})
	}
	listed("ListWebhookEndpoints", m.ID, full, tie1, tie2, bare, newest)
	listed("ListWebhookEndpoints (other merchant)", m2.ID, elsewhere)
	listed("ListWebhookEndpoints (unknown merchant)", id.New("mer"))
	check("deleted endpoint", deleted)

	// Deleting is an update that sets Deleted: the endpoint leaves the list
	// but can still be read (a delivery under way may name it).
	at := t0.Add(-time.Second)
	tie1.Deleted, tie1.Updated = &at, at
	write(t, s, func(tx store.Tx) error { return tx.UpdateWebhookEndpoint(tie1) })
	listed("ListWebhookEndpoints (after a delete)", m.ID, full, tie2, bare, newest)
	check("after a delete", tie1, tie2, full)
}

// ---- webhook deliveries

// newDelivery is a delivery with every field set to something other than
// its zero value, all its times apart, so a round trip shows any column
// lost or swapped.
func newDelivery(merchantID, eventID, status string, next, locked time.Time) *store.Delivery {
	created := next.Add(-time.Hour)
	return &store.Delivery{ID: id.New("dlv"), MerchantID: merchantID, EventID: eventID, EndpointID: id.New("we"),
		URL: "https://shop.example/webhooks", Format: "sensepass", Status: status, Attempts: 2, NextAttempt: next, LockedUntil: locked,
		LastStatus: 503, Created: created, Updated: created.Add(3 * time.Microsecond)}
}

func deliveryID(d *store.Delivery) string { return d.ID }

func addEvent(t *testing.T, s store.Store, merchantID string) *store.Event {
	t.Helper()
	e := &store.Event{ID: id.New("evt"), MerchantID: merchantID, Type: "payment.succeeded", ObjectType: "payment",
		ObjectID: id.New("pay"), Data: []byte(`{}`), Created: now()}
	write(t, s, func(tx store.Tx) error { return tx.InsertEvent(e) })
	return e
}

func testDeliveries(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	ev, ev2, evElsewhere := addEvent(t, s, m.ID), addEvent(t, s, m.ID), addEvent(t, s, m2.ID)
	t0 := now()
	endpoint := newWebhookEndpoint(m.ID, t0)
	write(t, s, func(tx store.Tx) error { return tx.InsertWebhookEndpoint(endpoint) })

	full := newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(time.Minute), t0.Add(90*time.Second))
	full.EndpointID = endpoint.ID
	// A session's callback: no endpoint; nothing tried yet, no lease.
	callback := &store.Delivery{ID: id.New("dlv"), MerchantID: m.ID, EventID: ev.ID, URL: "https://shop.example/callback",
		Status: store.DeliveryPending, NextAttempt: t0, Created: t0.Add(-time.Minute), Updated: t0.Add(-time.Minute)}
	elsewhere := newDelivery(m2.ID, evElsewhere.ID, store.DeliverySucceeded, t0.Add(-time.Minute), t0)
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertDelivery(full), tx.InsertDelivery(callback), tx.InsertDelivery(elsewhere))
	})

	check := func(what string, want ...*store.Delivery) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			for _, w := range want {
				got, err := tx.GetDelivery(w.ID)
				if err != nil {
					return fmt.Errorf("%s: GetDelivery(%s): %w", what, w.ID, err)
				}
				same(t, what+": GetDelivery", got, w)
			}
			return nil
		})
	}
	check("after insert", full, callback, elsewhere)
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetDelivery(id.New("dlv"))
		wantErr(t, "GetDelivery(unknown)", err, store.ErrNotFound)
		return nil
	})
	for _, merchantID := range []string{m.ID, m2.ID} {
		eventID := ev.ID
		if merchantID == m2.ID {
			eventID = evElsewhere.ID
		}
		dup := newDelivery(merchantID, eventID, store.DeliveryPending, t0, t0)
		dup.ID = full.ID
		err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertDelivery(dup) })
		wantErr(t, "InsertDelivery with an existing id", err, store.ErrConflict)
	}
	check("after refused inserts", full)

	// UpdateDelivery writes each mutable field, one at a time, to a new
	// value and back to its zero value; the others stay as they were.
	for _, c := range []struct {
		what string
		edit func(*store.Delivery)
	}{
		{"status", func(d *store.Delivery) { d.Status = store.DeliverySucceeded }},
		{"attempts", func(d *store.Delivery) { d.Attempts = 7 }},
		{"next attempt", func(d *store.Delivery) { d.NextAttempt = t0.Add(time.Hour + 5*time.Microsecond) }},
		{"locked until", func(d *store.Delivery) { d.LockedUntil = t0.Add(30*time.Second + 7*time.Microsecond) }},
		{"last status", func(d *store.Delivery) { d.LastStatus = 200 }},
		{"updated", func(d *store.Delivery) { d.Updated = t0.Add(9 * time.Microsecond) }},
		{"status (failed)", func(d *store.Delivery) { d.Status = store.DeliveryFailed }},
		{"attempts (none)", func(d *store.Delivery) { d.Attempts = 0 }},
		{"next attempt (none)", func(d *store.Delivery) { d.NextAttempt = time.Time{} }},
		{"locked until (none)", func(d *store.Delivery) { d.LockedUntil = time.Time{} }},
		{"last status (none)", func(d *store.Delivery) { d.LastStatus = 0 }},
	} {
		c.edit(full)
		write(t, s, func(tx store.Tx) error { return tx.UpdateDelivery(full) })
		check("UpdateDelivery ("+c.what+")", full, callback, elsewhere)
	}
	err := s.Write(t.Context(), func(tx store.Tx) error {
		return tx.UpdateDelivery(newDelivery(m.ID, ev.ID, store.DeliveryFailed, t0, t0))
	})
	wantErr(t, "UpdateDelivery(unknown)", err, store.ErrNotFound)
	check("after a refused update", full, callback, elsewhere)

	// ListDeliveries: an event's deliveries, oldest first, then by id (byte
	// order); inserted out of order so only the query can sort them.
	suffix := hex.EncodeToString(randBytes(8))
	tie1 := newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(-30*time.Minute), t0)
	tie2 := newDelivery(m.ID, ev.ID, store.DeliveryFailed, t0.Add(-30*time.Minute), t0)
	tie1.ID, tie2.ID = "dlv_B"+suffix, "dlv_a"+suffix
	oldest := newDelivery(m.ID, ev.ID, store.DeliverySucceeded, t0.Add(-2*time.Hour), t0)
	other := newDelivery(m.ID, ev2.ID, store.DeliveryPending, t0.Add(-3*time.Hour), t0)
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertDelivery(tie2), tx.InsertDelivery(other), tx.InsertDelivery(tie1), tx.InsertDelivery(oldest))
	})
	listed := func(what, merchantID, eventID string, want ...*store.Delivery) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.ListDeliveries(merchantID, eventID)
			same(t, what+" (ids)", ids(got, deliveryID), ids(want, deliveryID))
			same(t, what, got, want)
			return err
		})
	}
	// Created: oldest 3h ago, the ties 90 minutes ago, full 59 minutes ago,
	// callback a minute ago.
	listed("ListDeliveries", m.ID, ev.ID, oldest, tie1, tie2, full, callback)
	listed("ListDeliveries (other event)", m.ID, ev2.ID, other)
	listed("ListDeliveries (other merchant)", m2.ID, evElsewhere.ID, elsewhere)
	listed("ListDeliveries (another merchant's event)", m2.ID, ev.ID)
	listed("ListDeliveries (another merchant's event)", m.ID, evElsewhere.ID)
	listed("ListDeliveries (unknown event)", m.ID, id.New("evt"))
}

// The dispatcher finds, across merchants, deliveries pending, due and not
// leased, oldest next attempt first (then by id).
func testDueDeliveries(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	ev, ev2 := addEvent(t, s, m.ID), addEvent(t, s, m2.ID)
	t0 := now()
	var never time.Time
	var (
		neverLeased   = newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(-3*time.Minute), never)
		leaseLapsed   = newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(-2*time.Minute), t0.Add(-time.Minute))
		otherMerchant = newDelivery(m2.ID, ev2.ID, store.DeliveryPending, t0.Add(-90*time.Second), never)
		// Two at the same time, ids in byte order (upper case first,
		// whatever the database's locale): the id breaks the tie.
		tie1 = newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(-time.Minute), never)
		tie2 = newDelivery(m2.ID, ev2.ID, store.DeliveryPending, t0.Add(-time.Minute), t0.Add(-time.Hour))
		// Due and lease ending exactly now: due.
		atNow = newDelivery(m.ID, ev.ID, store.DeliveryPending, t0, t0)

		notYet    = newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(time.Minute), never)
		leased    = newDelivery(m.ID, ev.ID, store.DeliveryPending, t0.Add(-5*time.Minute), t0.Add(30*time.Second))
		succeeded = newDelivery(m.ID, ev.ID, store.DeliverySucceeded, t0.Add(-4*time.Minute), never)
		failed    = newDelivery(m2.ID, ev2.ID, store.DeliveryFailed, t0.Add(-6*time.Minute), never)
	)
	suffix := hex.EncodeToString(randBytes(8))
	tie1.ID, tie2.ID = "dlv_B"+suffix, "dlv_a"+suffix
	// Inserted out of order, so only the query's ORDER BY can sort them.
	write(t, s, func(tx store.Tx) error {
		var errs []error
		for _, d := range []*store.Delivery{succeeded, tie2, notYet, leaseLapsed, failed, otherMerchant, atNow,
			leased, tie1, neverLeased} {
			errs = append(errs, tx.InsertDelivery(d))
		}
		return errors.Join(errs...)
	})

	due := func(what string, at time.Time, limit int, want ...*store.Delivery) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.DueDeliveries(at, limit)
			same(t, what+" (ids)", ids(got, deliveryID), ids(want, deliveryID))
			same(t, what, got, want)
			return err
		})
	}
	due("DueDeliveries", t0, 10, neverLeased, leaseLapsed, otherMerchant, tie1, tie2, atNow)
	due("DueDeliveries (limit)", t0, 2, neverLeased, leaseLapsed)
	due("DueDeliveries (limit within a tie)", t0, 4, neverLeased, leaseLapsed, otherMerchant, tie1)
	// Two minutes earlier leaseLapsed is due but still leased.
	due("DueDeliveries (earlier)", t0.Add(-2*time.Minute), 10, neverLeased)
	due("DueDeliveries (later)", t0.Add(time.Minute), 10,
		leased, neverLeased, leaseLapsed, otherMerchant, tie1, tie2, atNow, notYet)
	due("DueDeliveries (nothing due yet)", t0.Add(-10*time.Minute), 10)

	// A dispatcher leases what it takes; what it finishes is no longer due;
	// a retry is due again when its next attempt comes.
	neverLeased.LockedUntil, neverLeased.Updated = t0.Add(time.Minute), t0
	leaseLapsed.Status, leaseLapsed.Attempts, leaseLapsed.LastStatus, leaseLapsed.Updated = store.DeliverySucceeded, 3, 204, t0
	otherMerchant.Status, otherMerchant.Updated = store.DeliveryFailed, t0
	tie1.NextAttempt, tie1.Updated = t0.Add(-4*time.Minute), t0
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.UpdateDelivery(neverLeased), tx.UpdateDelivery(leaseLapsed), tx.UpdateDelivery(otherMerchant),
			tx.UpdateDelivery(tie1))
	})
	due("DueDeliveries (after updates)", t0, 10, tie1, tie2, atNow)
	// A failed delivery sent again (by hand) is pending again.
	failed.Status, failed.NextAttempt, failed.Updated = store.DeliveryPending, t0.Add(-30*time.Second), t0
	write(t, s, func(tx store.Tx) error { return tx.UpdateDelivery(failed) })
	due("DueDeliveries (resent)", t0, 10, tie1, tie2, failed, atNow)
}

// DueDeliveries marks a delivery Held while another pending delivery to
// the same target (endpoint; for a callback, URL and format) carries an
// earlier event about the same object — HeldUntil being that one's retry
// time when it waits for one — so that one object's deliveries go in event
// order. Other objects, other targets and other merchants are independent,
// and the mark goes once the earlier delivery is no longer pending.
func testDueDeliveriesInObjectOrder(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	event := func(merchantID, objectID string) *store.Event {
		e := &store.Event{ID: id.New("evt"), MerchantID: merchantID, Type: "session.updated", ObjectType: "session",
			ObjectID: objectID, Data: []byte(`{}`), Created: now()}
		write(t, s, func(tx store.Tx) error { return tx.InsertEvent(e) })
		return e
	}
	obj, other := id.New("ps"), id.New("ps")
	e1, e2, e3 := event(m.ID, obj), event(m.ID, obj), event(m.ID, obj) // seq order
	eOther := event(m.ID, other)
	eElsewhere := event(m2.ID, obj) // the same object id under another merchant
	t0 := now()
	var never time.Time
	at := func(ev *store.Event, endpointID, url, format string, next, locked time.Time) *store.Delivery {
		d := newDelivery(ev.MerchantID, ev.ID, store.DeliveryPending, next, locked)
		d.EndpointID, d.URL, d.Format = endpointID, url, format
		return d
	}
	epA, epB := id.New("we"), id.New("we")
	const cb, cb2 = "https://shop.example/callback", "https://shop.example/other"
	retry := t0.Add(time.Minute)
	var (
		// Endpoint A: e1 waits for its retry, so e2 and e3 are held until then.
		we1 = at(e1, epA, "https://shop.example/webhooks", "", retry, never)
		we2 = at(e2, epA, "https://shop.example/webhooks", "", t0.Add(-2*time.Minute), never)
		// The endpoint's URL changed between events: still the same target.
		we3 = at(e3, epA, "https://shop.example/new", "", t0.Add(-3*time.Minute), never)
		// Endpoint B has e2 only: nothing of it comes earlier.
		weOther = at(e2, epB, "https://shop.example/webhooks", "", t0.Add(-time.Minute), never)
		// The session's callback: e1 under way (leased), so e2's is held
		// with no retry time; e2's callback in another format or to
		// another URL is another target.
		cb1  = at(e1, "", cb, "sensepass", t0.Add(-5*time.Minute), t0.Add(time.Minute))
		cb2a = at(e2, "", cb, "sensepass", t0.Add(-4*time.Minute), never)
		cb2b = at(e2, "", cb, "sensepass_get", t0.Add(-4*time.Minute), never)
		cb2c = at(e2, "", cb2, "sensepass", t0.Add(-4*time.Minute), never)
		// Another object, another merchant: independent of e1's.
		cbObj       = at(eOther, "", cb, "sensepass", t0.Add(-30*time.Second), never)
		cbElsewhere = at(eElsewhere, "", cb, "sensepass", t0.Add(-20*time.Second), never)
	)
	write(t, s, func(tx store.Tx) error {
		var errs []error
		for _, d := range []*store.Delivery{cb2a, we3, cb1, weOther, we2, cb2b, cbObj, we1, cb2c, cbElsewhere} {
			errs = append(errs, tx.InsertDelivery(d))
		}
		return errors.Join(errs...)
	})
	// due checks which deliveries are due, and how each is held: "" free,
	// "held" with no retry time, or the retry time it is held until.
	due := func(what string, at time.Time, want map[*store.Delivery]string) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.DueDeliveries(at, 100)
			g, w := map[string]string{}, map[string]string{}
			for _, d := range got {
				switch {
				case !d.Held && d.HeldUntil.IsZero():
					g[d.ID] = ""
				case d.Held && d.HeldUntil.IsZero():
					g[d.ID] = "held"
				default:
					g[d.ID] = d.HeldUntil.UTC().Format(time.RFC3339Nano)
				}
			}
			for d, h := range want {
				w[d.ID] = h
			}
			same(t, what, g, w)
			return err
		})
	}
	until := retry.UTC().Format(time.RFC3339Nano)
	due("in object order", t0, map[*store.Delivery]string{we2: until, we3: until, cb2a: "held", cb2b: "", cb2c: "",
		weOther: "", cbObj: "", cbElsewhere: ""})
	// When e1's retry comes (and its callback's lease lapses) they are due
	// and free; what comes after them is held, with no retry time to wait
	// for.
	due("in object order (e1 due)", t0.Add(2*time.Minute), map[*store.Delivery]string{we1: "", we2: "held", we3: "held",
		cb1: "", cb2a: "held", cb2b: "", cb2c: "", weOther: "", cbObj: "", cbElsewhere: ""})

	// e1's webhook succeeds: e2's is free and e3's held by it (due now).
	// e1's callback fails for good: e2's is free.
	we1.Status, we1.Updated = store.DeliverySucceeded, t0
	cb1.Status, cb1.Updated = store.DeliveryFailed, t0
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.UpdateDelivery(we1), tx.UpdateDelivery(cb1)) })
	due("after e1", t0, map[*store.Delivery]string{we2: "", we3: "held", cb2a: "", cb2b: "", cb2c: "",
		weOther: "", cbObj: "", cbElsewhere: ""})
	// e2's webhook is skipped by its format: e3's is free.
	we2.Status, we2.Updated = store.DeliverySkipped, t0
	write(t, s, func(tx store.Tx) error { return tx.UpdateDelivery(we2) })
	due("after e2", t0, map[*store.Delivery]string{we3: "", cb2a: "", cb2b: "", cb2c: "", weOther: "", cbObj: "", cbElsewhere: ""})
}

func testDeliveryAttempts(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	ev := addEvent(t, s, m.ID)
	t0 := now()
	d := newDelivery(m.ID, ev.ID, store.DeliveryPending, t0, t0)
	d2 := newDelivery(m.ID, ev.ID, store.DeliveryPending, t0, t0)
	write(t, s, func(tx store.Tx) error { return errors.Join(tx.InsertDelivery(d), tx.InsertDelivery(d2)) })

	// Ids run against attempt order, so only the attempt number orders them.
	suffix := hex.EncodeToString(randBytes(8))
	mk := func(deliveryID string, n int, status int, errText string) *store.DeliveryAttempt {
		return &store.DeliveryAttempt{ID: fmt.Sprintf("dla_%02d%s", 99-n, suffix) + deliveryID[len(deliveryID)-4:],
			DeliveryID: deliveryID, Attempt: n, At: t0.Add(time.Duration(n)*time.Minute + time.Duration(n)*time.Microsecond),
			StatusCode: status, LatencyMS: int64(n) * 1_000_003, Error: errText}
	}
	var (
		timeout   = mk(d.ID, 1, 0, "timeout after 10s")
		declined  = mk(d.ID, 2, 503, "status 503")
		succeeded = mk(d.ID, 3, 200, "")
		other     = mk(d2.ID, 1, 500, "status 500")
	)
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertDeliveryAttempt(succeeded), tx.InsertDeliveryAttempt(other), tx.InsertDeliveryAttempt(timeout),
			tx.InsertDeliveryAttempt(declined))
	})
	attempts := func(what, deliveryID string, want ...*store.DeliveryAttempt) {
		t.Helper()
		read(t, s, func(tx store.Tx) error {
			got, err := tx.ListDeliveryAttempts(deliveryID)
			same(t, what+" (ids)", ids(got, func(a *store.DeliveryAttempt) string { return a.ID }),
				ids(want, func(a *store.DeliveryAttempt) string { return a.ID }))
			same(t, what, got, want)
			return err
		})
	}
	attempts("ListDeliveryAttempts", d.ID, timeout, declined, succeeded)
	attempts("ListDeliveryAttempts (other delivery)", d2.ID, other)
	attempts("ListDeliveryAttempts (unknown delivery)", id.New("dlv"))

	dup := mk(d2.ID, 2, 200, "")
	dup.ID = timeout.ID
	err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertDeliveryAttempt(dup) })
	wantErr(t, "InsertDeliveryAttempt with an existing id", err, store.ErrConflict)
	attempts("ListDeliveryAttempts (after a refused insert)", d2.ID, other)
}

// ---- transactions

// Records that name a merchant or customer must name one that exists.
func testForeignKeys(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	ev := addEvent(t, s, m.ID)
	for _, c := range []struct {
		what string
		fn   func(store.Tx) error
	}{
		{"InsertDataKey (unknown merchant)", func(tx store.Tx) error {
			return tx.InsertDataKey(newDataKey(id.New("dek"), id.New("mer"), vault.PurposeCard, now()))
		}},
		{"InsertCustomer (unknown merchant)", func(tx store.Tx) error { return tx.InsertCustomer(newCustomer(id.New("mer"), "")) }},
		{"InsertToken (unknown merchant)", func(tx store.Tx) error { return tx.InsertToken(newToken(id.New("mer"), "", "fp", now())) }},
		{"InsertToken (unknown customer)", func(tx store.Tx) error { return tx.InsertToken(newToken(m.ID, id.New("cus"), "fp", now())) }},
		{"InsertChallenge (unknown merchant)", func(tx store.Tx) error {
			return tx.InsertChallenge(newChallenge(id.New("mer"), store.ChallengePending, now(), randBytes(40)))
		}},
		{"InsertSession (unknown merchant)", func(tx store.Tx) error {
			return tx.InsertSession(newSession(id.New("mer"), store.SessionOpen, now()))
		}},
		{"InsertSessionKey (unknown merchant)", func(tx store.Tx) error {
			return tx.InsertSessionKey(&store.SessionKey{ID: id.New("sk"), MerchantID: id.New("mer"),
				PrivateCT: randBytes(64), Public: randBytes(64), Created: now()})
		}},
		{"InsertWebhookEndpoint (unknown merchant)", func(tx store.Tx) error {
			return tx.InsertWebhookEndpoint(newWebhookEndpoint(id.New("mer"), now()))
		}},
		{"InsertDelivery (unknown merchant)", func(tx store.Tx) error {
			return tx.InsertDelivery(newDelivery(id.New("mer"), ev.ID, store.DeliveryPending, now(), now()))
		}},
		{"InsertDelivery (unknown event)", func(tx store.Tx) error {
			return tx.InsertDelivery(newDelivery(m.ID, id.New("evt"), store.DeliveryPending, now(), now()))
		}},
		{"InsertDeliveryAttempt (unknown delivery)", func(tx store.Tx) error {
			return tx.InsertDeliveryAttempt(&store.DeliveryAttempt{ID: id.New("dla"), DeliveryID: id.New("dlv"), Attempt: 1, At: now()})
		}},
	} {
		if err := s.Write(t.Context(), c.fn); err == nil {
			t.Errorf("%s: succeeded, want an error", c.what)
		}
	}
}

func testAtomicity(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := newMerchant()
	c := newCustomer(m.ID, "ref")
	tok := newToken(m.ID, c.ID, "fp", now())
	dk := newDataKey(id.New("dek"), m.ID, vault.PurposeCard, now())
	idem := &store.Idempotency{MerchantID: m.ID, Key: "k", RequestHash: randBytes(32), State: store.IdemStarted, Created: now(), LockedUntil: now()}
	aud := &store.Audit{ID: id.New("aud"), MerchantID: m.ID, Action: "a", ObjectID: tok.ID, Purpose: "p", RequestID: "r", Created: now()}
	err := s.Write(t.Context(), func(tx store.Tx) error {
		if err := errors.Join(tx.InsertMerchant(m), tx.InsertDataKey(dk), tx.InsertCustomer(c), tx.InsertToken(tok),
			tx.InsertIdempotency(idem), tx.InsertAudit(aud)); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		return fmt.Errorf("after writing: %w", errBoom)
	})
	wantErr(t, "Write whose fn fails", err, errBoom)
	read(t, s, func(tx store.Tx) error {
		if n, err := tx.CountMerchants(); err != nil || n != 0 {
			t.Errorf("CountMerchants after a failed Write = %d, %v; want 0", n, err)
		}
		_, err := tx.GetMerchant(m.ID)
		wantErr(t, "GetMerchant", err, store.ErrNotFound)
		_, err = tx.GetDataKey(dk.ID)
		wantErr(t, "GetDataKey", err, store.ErrNotFound)
		_, err = tx.GetCustomer(m.ID, c.ID)
		wantErr(t, "GetCustomer", err, store.ErrNotFound)
		_, err = tx.GetToken(m.ID, tok.ID)
		wantErr(t, "GetToken", err, store.ErrNotFound)
		_, err = tx.GetIdempotency(m.ID, "k")
		wantErr(t, "GetIdempotency", err, store.ErrNotFound)
		if as, err := tx.ListAudit(m.ID, tok.ID); err != nil || len(as) != 0 {
			t.Errorf("ListAudit after a failed Write = %d, %v; want none", len(as), err)
		}
		return nil
	})

	// A conflict that fn returns undoes fn's earlier writes too.
	write(t, s, func(tx store.Tx) error { return tx.InsertMerchant(m) })
	taken := addCustomer(t, s, m.ID, "taken")
	first := newCustomer(m.ID, "first")
	err = s.Write(t.Context(), func(tx store.Tx) error {
		if err := tx.InsertCustomer(first); err != nil {
			return fmt.Errorf("first insert: %v", err) // not %w: must not look like the conflict
		}
		return tx.InsertCustomer(newCustomer(m.ID, taken.Reference))
	})
	wantErr(t, "Write returning a conflict", err, store.ErrConflict)
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetCustomer(m.ID, first.ID)
		wantErr(t, "customer inserted before the conflict", err, store.ErrNotFound)
		return nil
	})
}

// After store.ErrConflict inside fn, fn may go on (for example to fetch the
// record it collided with); what it writes before and after persists.
func testConflictLeavesTxUsable(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	taken := addCustomer(t, s, m.ID, "taken")
	before, loser, after := newCustomer(m.ID, "before"), newCustomer(m.ID, taken.Reference), newCustomer(m.ID, "after")
	var found *store.Customer
	write(t, s, func(tx store.Tx) error {
		if err := tx.InsertCustomer(before); err != nil {
			return err
		}
		if err := tx.InsertCustomer(loser); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("InsertCustomer with a reference in use: err = %v, want store.ErrConflict", err)
		}
		var err error
		if found, err = tx.GetCustomerByReference(m.ID, taken.Reference); err != nil {
			return fmt.Errorf("GetCustomerByReference after a conflict: %w", err)
		}
		return tx.InsertCustomer(after)
	})
	same(t, "customer found after the conflict", found, taken)
	read(t, s, func(tx store.Tx) error {
		for _, c := range []*store.Customer{before, after} {
			if _, err := tx.GetCustomer(m.ID, c.ID); err != nil {
				t.Errorf("customer %q written around the conflict: %v", c.Reference, err)
			}
		}
		_, err := tx.GetCustomer(m.ID, loser.ID)
		wantErr(t, "customer whose insert conflicted", err, store.ErrNotFound)
		return nil
	})
}

// Concurrent Writes are isolated: each fails or succeeds on its own, whether or
// not a backend commits them together.
func testConcurrentWrites(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	const n = 200
	cs := make([]*store.Customer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cs[i] = newCustomer(m.ID, fmt.Sprintf("ref-%03d", i))
		wg.Go(func() {
			errs[i] = s.Write(t.Context(), func(tx store.Tx) error {
				if err := tx.InsertCustomer(cs[i]); err != nil {
					return err
				}
				if i%10 == 0 {
					return errBoom
				}
				return nil
			})
		})
	}
	wg.Wait()
	exist := 0
	read(t, s, func(tx store.Tx) error {
		for i, c := range cs {
			_, err := tx.GetCustomer(m.ID, c.ID)
			switch {
			case i%10 == 0:
				wantErr(t, fmt.Sprintf("Write %d", i), errs[i], errBoom)
				wantErr(t, fmt.Sprintf("customer of failed Write %d", i), err, store.ErrNotFound)
			case errs[i] != nil:
				t.Errorf("Write %d: %v", i, errs[i])
			case err != nil:
				t.Errorf("customer of successful Write %d: %v", i, err)
			}
			if err == nil {
				exist++
			}
		}
		return nil
	})
	if exist != n-n/10 {
		t.Errorf("%d customers exist, want %d", exist, n-n/10)
	}
}

// A panic in fn fails that Write alone; the store carries on.
func testPanic(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	const n = 20
	cs := make([]*store.Customer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cs[i] = newCustomer(m.ID, fmt.Sprintf("ref-%02d", i))
		wg.Go(func() {
			errs[i] = s.Write(t.Context(), func(tx store.Tx) error {
				if err := tx.InsertCustomer(cs[i]); err != nil {
					return err
				}
				if i == 7 {
					panic("storetest: deliberate panic")
				}
				return nil
			})
		})
	}
	wg.Wait()
	read(t, s, func(tx store.Tx) error {
		for i, c := range cs {
			_, err := tx.GetCustomer(m.ID, c.ID)
			if i == 7 {
				if errs[i] == nil {
					t.Error("panicking Write returned nil")
				}
				wantErr(t, "customer of the panicking Write", err, store.ErrNotFound)
				continue
			}
			if errs[i] != nil || err != nil {
				t.Errorf("Write %d beside a panicking one: %v; customer: %v", i, errs[i], err)
			}
		}
		return nil
	})
	addCustomer(t, s, m.ID, "after-panic")
}

// Concurrent read-modify-write of one record loses nothing: Writes are
// serializable. (On PostgreSQL this takes retries, so fn runs again.)
func testSerializable(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	const n = 8
	var wg sync.WaitGroup
	var runs atomic.Int64
	errs := make([]error, n)
	var want []string
	for i := range n {
		origin := fmt.Sprintf("https://shop-%d.example", i)
		want = append(want, origin)
		wg.Go(func() {
			errs[i] = s.Write(t.Context(), func(tx store.Tx) error {
				runs.Add(1)
				got, err := tx.GetMerchant(m.ID)
				if err != nil {
					return err
				}
				st := got.Settings
				st.FrameAncestors = append(st.FrameAncestors, origin)
				return tx.UpdateMerchantSettings(m.ID, st)
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Write %d: %v", i, err)
		}
	}
	var got *store.Merchant
	read(t, s, func(tx store.Tx) (err error) { got, err = tx.GetMerchant(m.ID); return })
	have := slices.Clone(got.Settings.FrameAncestors)
	sort.Strings(have)
	same(t, "every concurrent read-modify-write kept", have, want)
	t.Logf("%d Writes ran fn %d times", n, runs.Load())
}

// Look-up-then-insert inside one Write (how an idempotency key is claimed)
// is race-free: of concurrent Writes claiming one key, exactly one inserts
// and the others see its row, none fails with a conflict.
func testCheckThenInsert(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	const n = 8
	var wg sync.WaitGroup
	claimed := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Write(t.Context(), func(tx store.Tx) error {
				claimed[i] = false // fn may run again: no state from an earlier attempt
				_, err := tx.GetIdempotency(m.ID, "claim")
				if !errors.Is(err, store.ErrNotFound) {
					return err
				}
				claimed[i] = true
				return tx.InsertIdempotency(&store.Idempotency{MerchantID: m.ID, Key: "claim", RequestHash: randBytes(32),
					State: store.IdemStarted, Created: now(), LockedUntil: now().Add(time.Minute)})
			})
		})
	}
	wg.Wait()
	winners := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Write %d: %v", i, errs[i])
		}
		if claimed[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d Writes claimed the key, want exactly 1", winners)
	}
}

func testReadOnly(t *testing.T, open Opener) {
	s := fresh(t, open)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	m := newMerchant()
	if err := s.Read(t.Context(), func(tx store.Tx) error { return tx.InsertMerchant(m) }); err == nil {
		t.Error("InsertMerchant inside Read succeeded")
	}
	err := s.Read(t.Context(), func(tx store.Tx) error { return errBoom })
	wantErr(t, "Read whose fn fails", err, errBoom)
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetMerchant(m.ID)
		wantErr(t, "merchant inserted inside Read", err, store.ErrNotFound)
		return nil
	})
	// What a Write commits, the next Read sees.
	m = addMerchant(t, s)
	read(t, s, func(tx store.Tx) error { _, err := tx.GetMerchant(m.ID); return err })
}

// A Write whose context has already ended does not run.
func testCanceledContext(t *testing.T, open Opener) {
	s := fresh(t, open)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var ran atomic.Bool
	m := newMerchant()
	err := s.Write(ctx, func(tx store.Tx) error { ran.Store(true); return tx.InsertMerchant(m) })
	wantErr(t, "Write with a canceled context", err, context.Canceled)
	if ran.Load() {
		t.Error("fn ran although the context had ended")
	}
	read(t, s, func(tx store.Tx) error {
		_, err := tx.GetMerchant(m.ID)
		wantErr(t, "merchant of the canceled Write", err, store.ErrNotFound)
		return nil
	})
}

// What a Write commits survives Close and Open.
func testDurability(t *testing.T, open Opener) {
	name := newName()
	s := open(t, name)
	m := addMerchant(t, s)
	c := addCustomer(t, s, m.ID, "ref")
	tok := addToken(t, s, newToken(m.ID, c.ID, "fp", now()))
	dk := newDataKey(id.New("dek"), m.ID, vault.PurposeCard, now())
	write(t, s, func(tx store.Tx) error { return tx.InsertDataKey(dk) })
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, name)
	read(t, s, func(tx store.Tx) error {
		gm, err := tx.GetMerchant(m.ID)
		if err != nil {
			return fmt.Errorf("merchant after reopening: %w", err)
		}
		same(t, "merchant after reopening", gm, m)
		gc, err := tx.GetCustomer(m.ID, c.ID)
		if err != nil {
			return fmt.Errorf("customer after reopening: %w", err)
		}
		same(t, "customer after reopening", gc, c)
		gt, err := tx.GetToken(m.ID, tok.ID)
		if err != nil {
			return fmt.Errorf("token after reopening: %w", err)
		}
		same(t, "token after reopening", gt, tok)
		gd, err := tx.GetDataKey(dk.ID)
		same(t, "data key after reopening", gd, dk)
		return err
	})
	// The reopened store writes too (its migrations found the schema in place).
	c2 := addCustomer(t, s, m.ID, "ref-2")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = open(t, name)
	read(t, s, func(tx store.Tx) error { _, err := tx.GetCustomer(m.ID, c2.ID); return err })
}

func testClose(t *testing.T, open Opener) {
	s := fresh(t, open)
	m := addMerchant(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Write(t.Context(), func(tx store.Tx) error { return tx.InsertMerchant(newMerchant()) }); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := s.Read(t.Context(), func(tx store.Tx) error { _, err := tx.GetMerchant(m.ID); return err }); err == nil {
		t.Error("Read after Close succeeded")
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close succeeded")
	}
}

func testDeviceKeys(t *testing.T, open Opener) {
	s := fresh(t, open)
	m, m2 := addMerchant(t, s), addMerchant(t, s)
	t0 := now()
	first := &store.DeviceKey{ID: id.New("dk"), MerchantID: m.ID, Name: "till 1", KeyHash: randBytes(32), Last4: "a1b2", Created: t0}
	second := &store.DeviceKey{ID: id.New("dk"), MerchantID: m.ID, KeyHash: randBytes(32), Last4: "c3d4", Created: t0.Add(time.Microsecond)}
	other := &store.DeviceKey{ID: id.New("dk"), MerchantID: m2.ID, Name: "kiosk", KeyHash: randBytes(32), Last4: "e5f6", Created: t0}
	write(t, s, func(tx store.Tx) error {
		return errors.Join(tx.InsertDeviceKey(second), tx.InsertDeviceKey(first), tx.InsertDeviceKey(other))
	})
	// The same digest twice is refused: a key must name one device.
	err := s.Write(context.Background(), func(tx store.Tx) error {
		return tx.InsertDeviceKey(&store.DeviceKey{ID: id.New("dk"), MerchantID: m2.ID, KeyHash: first.KeyHash, Created: t0})
	})
	if err == nil {
		t.Error("InsertDeviceKey with a digest already stored: no error")
	}
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetDeviceKeyByHash(first.KeyHash)
		if err != nil {
			return err
		}
		same(t, "GetDeviceKeyByHash", got, first)
		got, err = tx.GetDeviceKey(m.ID, second.ID)
		if err != nil {
			return err
		}
		same(t, "GetDeviceKey", got, second)
		_, err = tx.GetDeviceKey(m2.ID, first.ID)
		wantErr(t, "GetDeviceKey(other merchant)", err, store.ErrNotFound)
		_, err = tx.GetDeviceKeyByHash(randBytes(32))
		wantErr(t, "GetDeviceKeyByHash(unknown)", err, store.ErrNotFound)
		list, err := tx.ListDeviceKeys(m.ID)
		if err != nil {
			return err
		}
		if len(list) != 2 || list[0].ID != first.ID || list[1].ID != second.ID {
			t.Errorf("ListDeviceKeys: %d keys, want first then second", len(list))
		}
		return nil
	})
	at := t0.Add(time.Minute)
	write(t, s, func(tx store.Tx) error { return tx.RevokeDeviceKey(m.ID, first.ID, at) })
	err = s.Write(context.Background(), func(tx store.Tx) error { return tx.RevokeDeviceKey(m.ID, first.ID, at) })
	wantErr(t, "RevokeDeviceKey twice", err, store.ErrNotFound)
	err = s.Write(context.Background(), func(tx store.Tx) error { return tx.RevokeDeviceKey(m2.ID, second.ID, at) })
	wantErr(t, "RevokeDeviceKey(other merchant)", err, store.ErrNotFound)
	read(t, s, func(tx store.Tx) error {
		got, err := tx.GetDeviceKeyByHash(first.KeyHash)
		if err != nil {
			return err
		}
		if got.Revoked == nil || !got.Revoked.Equal(at) {
			t.Errorf("revoked key: Revoked %v, want %v", got.Revoked, at)
		}
		return nil
	})
}
