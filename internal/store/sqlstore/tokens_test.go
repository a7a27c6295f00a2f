package sqlstore

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// verificationJSON must write exactly what json.Marshal writes, for every
// value: the fast path for plain ones, json.Marshal itself for the rest. Every
// string field is set by reflection, so a field added to store.Verification
// and not to Verification.AppendJSON fails here (so does one of
// Authentication's).
func TestVerificationJSONIsJSONMarshal(t *testing.T) {
	alphabet := []string{"", "verified", "pass", "unchecked", "A1B2C3", "ref_123-x.y", `q"uote`, `back\slash`,
		"<b>", "a&b", "tab\t", "é", "\x00", "\xff", "\u2028", " spaced out "}
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2026, 12, 8, 1, 2, 3, 456789000, time.UTC)
	zoned := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", -(3*3600+30*60)))
	fast := 0
	for i := range 5000 {
		var v store.Verification
		rv := reflect.ValueOf(&v).Elem()
		for f := range rv.NumField() {
			if rv.Field(f).Kind() == reflect.String {
				// Plain values most of the time, so the fast path is exercised.
				pick := alphabet[rng.IntN(6)]
				if rng.IntN(8) == 0 {
					pick = alphabet[rng.IntN(len(alphabet))]
				}
				rv.Field(f).SetString(pick)
			}
		}
		switch i % 4 {
		case 1:
			v.VerifiedAt = &at
		case 2:
			v.VerifiedAt = &zoned
		case 3:
			v.VerifiedAt = &at
			if rng.IntN(4) != 0 {
				a := &store.Authentication{}
				ra := reflect.ValueOf(a).Elem()
				for f := range ra.NumField() {
					if ra.Field(f).Kind() == reflect.String && rng.IntN(3) != 0 {
						ra.Field(f).SetString(alphabet[rng.IntN(len(alphabet))])
					}
				}
				v.Authentication = a
			}
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := verificationJSON(v); got != string(want) {
			t.Fatalf("%+v:\n got %s\nwant %s", v, got, want)
		}
		if _, ok := v.AppendJSON(nil); ok {
			fast++
		}
	}
	if fast < 1000 {
		t.Fatalf("only %d values took the fast path", fast)
	}
}

// metadataJSON is "{}" for no metadata and json.Marshal's bytes otherwise.
func TestMetadataJSON(t *testing.T) {
	for _, m := range []map[string]string{nil, {}, {"b": "2", "a": "1"}, {"x": `q"<&>`, "é": "\n"}} {
		want := "{}"
		if len(m) > 0 {
			b, _ := json.Marshal(m)
			want = string(b)
		}
		if got := metadataJSON(m); got != want {
			t.Fatalf("metadataJSON(%q) = %s, want %s", m, got, want)
		}
	}
}
