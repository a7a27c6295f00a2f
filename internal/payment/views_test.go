package payment

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// renderToken must write exactly what json.Marshal writes. The test fills
// every field of a TokenView by reflection, nested structs and pointers
// included, so a field added to the view (or to its card, verification or
// authentication) and not to its appender fails here.
func TestRenderTokenIsJSONMarshal(t *testing.T) {
	words := []string{"", "tok_abc", "active", "4242", "Abu Bin Ali", "x-y_z.1", `q"`, `b\`, "<", "&", "\n", "é", "\xff"}
	times := []time.Time{time.Date(2026, 12, 8, 1, 2, 3, 456789000, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 5*3600)),
		time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC), {}}
	rng := rand.New(rand.NewPCG(7, 8))
	pick := func() string {
		if rng.IntN(10) == 0 {
			return words[rng.IntN(len(words))]
		}
		return words[rng.IntN(6)] // plain most of the time, so the fast path runs
	}
	var fill func(v reflect.Value, depth int)
	fill = func(v reflect.Value, depth int) {
		switch v.Kind() {
		case reflect.String:
			v.SetString(pick())
		case reflect.Int, reflect.Int64:
			v.SetInt(rng.Int64N(20000) - 10)
		case reflect.Bool:
			v.SetBool(rng.IntN(2) == 0)
		case reflect.Pointer:
			if depth < 4 && rng.IntN(3) != 0 {
				v.Set(reflect.New(v.Type().Elem()))
				fill(v.Elem(), depth+1)
			}
		case reflect.Map:
			if rng.IntN(5) == 0 {
				return // nil
			}
			m := reflect.MakeMap(v.Type())
			for range rng.IntN(4) {
				m.SetMapIndex(reflect.ValueOf(pick()), reflect.ValueOf(pick()))
			}
			v.Set(m)
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[time.Time]() {
				v.Set(reflect.ValueOf(times[rng.IntN(len(times))]))
				return
			}
			for i := range v.NumField() {
				fill(v.Field(i), depth)
			}
		default:
			t.Fatalf("TokenView has a %s field: teach this test and appendJSON about it", v.Type())
		}
	}
	fast := 0
	for range 5000 {
		var v TokenView
		fill(reflect.ValueOf(&v).Elem(), 0)
		want, wantErr := json.Marshal(&v)
		got, err := renderToken(&v)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%+v: err %v, json.Marshal's %v", v, err, wantErr)
		}
		if string(got) != string(want) {
			t.Fatalf("%+v:\n got %s\nwant %s", v, got, want)
		}
		if _, ok := v.appendJSON(nil); ok {
			fast++
		}
	}
	if fast < 500 {
		t.Fatalf("only %d views took the fast path", fast)
	}
}

func BenchmarkRenderToken(b *testing.B) {
	at := time.Date(2026, 12, 8, 1, 2, 3, 456789000, time.UTC)
	v := TokenView{ID: "tok_0123456789abcdefghijklmnop", Object: "token", Status: "active",
		Card:    CardView{Brand: "visa", BIN: "424242", Last4: "4242", Mask: "424242******4242", ExpMonth: 12, ExpYear: 2034, HolderName: "Abu Bin Ali", Fingerprint: "fp_0123456789abcdef"},
		Created: at, Updated: at, Metadata: map[string]string{"order": "o-1"}}
	v.Verification.Status, v.Verification.ThreeDSecure, v.Verification.CVCCheck, v.Verification.AVSCheck = "verified", "not_required", "pass", "pass"
	v.Verification.VerifiedAt = &at
	b.ReportAllocs()
	for b.Loop() {
		if _, err := renderToken(&v); err != nil {
			b.Fatal(err)
		}
	}
}
