package storetest

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

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

func tokenID(k *store.Token) string { return k.ID }

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
