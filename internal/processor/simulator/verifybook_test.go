package simulator

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func verification(i int, merchant, reference string) *AuthRecord {
	now := time.Date(2026, 12, 7, 10, 0, 0, i, time.UTC)
	return &AuthRecord{ID: fmt.Sprintf("sim_auth_%04d", i), Merchant: merchant, Reference: reference, Amount: int64(i),
		Currency: "USD", AuthCode: "AB12CD", AVSResult: "pass", CVCResult: "pass", State: StateVoided, Created: now, Updated: now}
}

// TestVerifyBook stores verifications and finds each again, field for field,
// by id and by reference; a taken id or reference is refused; counts per
// reference are exact. It runs once with hashes as they are and once with
// every record chained under one hash, so lookups must compare what they find.
func TestVerifyBook(t *testing.T) {
	for _, chained := range []bool{false, true} {
		t.Run(fmt.Sprint("chained=", chained), func(t *testing.T) {
			b := newVerifyBook()
			if chained {
				b.mask = 0
			}
			var all []*AuthRecord
			for i := range 300 {
				merchant := fmt.Sprint("mer_", i%3)
				ref := fmt.Sprint("tok_", i)
				if i%5 == 0 {
					ref = "" // no reference: never a duplicate by reference
				}
				a := verification(i, merchant, ref)
				if i%7 == 0 {
					a.ID, a.State, a.AuthCode = fmt.Sprintf("sim_dcl_%04d", i), StateDeclined, ""
					a.Decline = &DeclineRecord{Code: "card_declined", DeclineCode: "insufficient_funds", Message: "The card has insufficient funds."}
				}
				if i == 1 {
					a.Created, a.Updated = time.Time{}, time.Time{}
				}
				if err := b.InsertAuth(a); err != nil {
					t.Fatalf("insert %d: %v", i, err)
				}
				all = append(all, a)
			}
			for _, a := range all {
				got, err := b.Authorization(a.ID)
				if err != nil || !reflect.DeepEqual(got, a) {
					t.Fatalf("Authorization(%s) = %+v, %v; want %+v", a.ID, got, err, a)
				}
				got, err = b.AuthByReference(a.Merchant, a.Reference)
				switch {
				case a.Reference == "" && !errors.Is(err, ErrNoRecord):
					t.Errorf("AuthByReference(%s, \"\") = %+v, %v; want no record", a.Merchant, got, err)
				case a.Reference != "" && (err != nil || !reflect.DeepEqual(got, a)):
					t.Errorf("AuthByReference(%s, %s) = %+v, %v; want %+v", a.Merchant, a.Reference, got, err, a)
				}
			}
			if _, err := b.Authorization("sim_auth_9999"); !errors.Is(err, ErrNoRecord) {
				t.Errorf("an unknown id: %v, want ErrNoRecord", err)
			}
			if _, err := b.AuthByReference("mer_1", "tok_0"); !errors.Is(err, ErrNoRecord) {
				t.Errorf("another merchant's reference: %v, want ErrNoRecord", err)
			}

			sameID := verification(999, "mer_0", "tok_new")
			sameID.ID = all[3].ID
			if err := b.InsertAuth(sameID); !errors.Is(err, ErrDuplicate) {
				t.Errorf("a taken id: %v, want ErrDuplicate", err)
			}
			sameRef := verification(1000, all[3].Merchant, all[3].Reference)
			if err := b.InsertAuth(sameRef); !errors.Is(err, ErrDuplicate) {
				t.Errorf("a taken reference: %v, want ErrDuplicate", err)
			}
			replay, again, err := findOrInsert(b, sameRef)
			if err != nil || !again || !reflect.DeepEqual(replay, all[3]) {
				t.Errorf("findOrInsert of a taken reference = %+v, %v; want the first record", replay, err)
			}
			otherMerchant := verification(1001, "mer_9", all[3].Reference)
			if _, _, err := findOrInsert(b, otherMerchant); err != nil {
				t.Errorf("another merchant's reference is its own: %v", err)
			}
			captured := verification(1002, "mer_0", "tok_cap")
			captured.CaptureID = "sim_cap_1"
			if err := b.InsertAuth(captured); err == nil {
				t.Error("a captured verification was stored")
			}

			if n := b.countReference("mer_0", ""); n != 20 {
				t.Errorf("mer_0's verifications without a reference: %d, want 20", n)
			}
			if n := b.countReference(all[3].Merchant, all[3].Reference); n != 1 {
				t.Errorf("count of a reference: %d, want 1", n)
			}
			if n := b.countReference("mer_0", "tok_none"); n != 0 {
				t.Errorf("count of an unused reference: %d, want 0", n)
			}
			st := b.counts()
			declined := (300 + 6) / 7
			if st.Authorizations != 301 || st.Voids != int64(301-declined) {
				t.Errorf("counts %+v, want 301 authorizations, %d voids", st, 301-declined)
			}
			n := 0
			b.each(func(a *AuthRecord) {
				if n < len(all) && !reflect.DeepEqual(a, all[n]) {
					t.Errorf("record %d in order: %+v, want %+v", n, a, all[n])
				}
				n++
			})
			if n != 301 {
				t.Errorf("each saw %d records, want 301", n)
			}
		})
	}
}

// TestVerifyBookHoldsNoObjectPerRecord: storing a verification allocates
// nothing of its own, only now and then a chunk or a bigger map. Records held
// as Go values (a copy and its map entries each) would make the collector
// mark tens of thousands of objects in every cycle of a busy server.
func TestVerifyBookHoldsNoObjectPerRecord(t *testing.T) {
	const n = 20_000
	recs := make([]*AuthRecord, n+1)
	for i := range recs {
		recs[i] = verification(i, "mer_1", fmt.Sprint("tok_", i))
	}
	b := newVerifyBook()
	i := 0
	allocs := testing.AllocsPerRun(n, func() {
		if err := b.InsertAuth(recs[i]); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs >= 0.01 {
		t.Errorf("%.3f allocations per stored verification, want none of its own", allocs)
	}
}
