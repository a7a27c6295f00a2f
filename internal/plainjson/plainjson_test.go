package plainjson

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// Each appender must write what json.Marshal writes whenever it says it
// could, and must say it could for the plain values it exists for.
func TestSameAsJSONMarshal(t *testing.T) {
	alphabet := []string{"", "a", "Z9", "-_.:/ ", "~", `"`, `\`, "<", ">", "&", "\t", "\x00", "\x7f", "é", "\xff", "\u2028"}
	rng := rand.New(rand.NewPCG(3, 4))
	word := func() string {
		s := ""
		for range rng.IntN(4) {
			s += alphabet[rng.IntN(len(alphabet))]
		}
		return s
	}
	plain := 0
	for range 20000 {
		s := word()
		want, _ := json.Marshal(s)
		got, ok := String([]byte("x"), s)
		if ok != Plain(s) {
			t.Fatalf("String(%q) ok=%v, Plain=%v", s, ok, Plain(s))
		}
		if ok {
			plain++
			if string(got) != "x"+string(want) {
				t.Fatalf("String(%q) = %s, want %s", s, got[1:], want)
			}
		} else if string(got) != "x" {
			t.Fatalf("String(%q) refused but wrote %q", s, got)
		}
		if got, ok := More([]byte("x"), true, `,"k":`, s); ok && string(got) != `x,"k":`+string(want) || !ok && string(got) != "x" {
			t.Fatalf("More(%q) = %q, %v", s, got, ok)
		}
		if got, ok := More([]byte("x"), false, `,"k":`, s); ok || string(got) != "x" {
			t.Fatalf("More after a failure wrote %q", got)
		}
		if got, _ := OptionalString(nil, &s); ok && string(got) != string(want) {
			t.Fatalf("OptionalString(%q) = %s", s, got)
		}

		m := map[string]string{}
		for range rng.IntN(5) {
			m[word()] = word()
		}
		want, _ = json.Marshal(m)
		if got, ok := StringMap(nil, m); ok && string(got) != string(want) {
			t.Fatalf("StringMap(%q) = %s, want %s", m, got, want)
		}
	}
	if plain < 2000 {
		t.Fatalf("only %d plain strings", plain)
	}
	if got, _ := OptionalString(nil, nil); string(got) != "null" {
		t.Fatalf("OptionalString(nil) = %s", got)
	}
	if got, _ := StringMap(nil, nil); string(got) != "null" {
		t.Fatalf("StringMap(nil) = %s", got)
	}
	if got, ok := StringMap(nil, map[string]string{"b": "2", "a": "1", "B": "3", "ab": ""}); !ok || string(got) != `{"B":"3","a":"1","ab":"","b":"2"}` {
		t.Fatalf("StringMap = %s, %v", got, ok)
	}
}

func TestTimeIsMarshalJSON(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("", 0), time.FixedZone("", -(3*3600 + 30*60)), time.FixedZone("", 14*3600),
		time.FixedZone("", 23*3600+59*60+59), time.FixedZone("", 24*3600), time.FixedZone("", -25*3600), time.FixedZone("", 61)}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 20000 {
		sec := rng.Int64N(400*365*86400) - 200*365*86400 + time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		switch i % 50 {
		case 0:
			sec = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - rng.Int64N(3*86400)
		case 1:
			sec = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + rng.Int64N(3*86400) - 86400
		}
		nsec := []int64{0, 1, 100, 456789000, 999999999, rng.Int64N(1e9)}[rng.IntN(6)]
		tm := time.Unix(sec, nsec).In(zones[rng.IntN(len(zones))])
		want, err := tm.MarshalJSON()
		got, ok := Time([]byte("x"), tm)
		if err != nil {
			if ok {
				t.Fatalf("%v: MarshalJSON refuses (%v) but Time wrote %s", tm, err, got)
			}
			continue
		}
		if ok && string(got) != "x"+string(want) {
			t.Fatalf("%v: Time = %s, want %s", tm, got[1:], want)
		}
		if !ok && tm.Year() >= 0 && tm.Year() <= 9999 {
			if _, off := tm.Zone(); off > -24*3600 && off < 24*3600 {
				t.Fatalf("%v: Time refused a time it can write", tm)
			}
		}
	}
	if got, _ := Int(nil, -42), 0; string(got) != "-42" {
		t.Fatalf("Int = %s", got)
	}
}
