package logging

import (
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/card"
)

func TestHasCardNumber(t *testing.T) {
	phone12 := card.CompleteLuhn("60193456789") // a Luhn-valid Malaysian mobile
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"4242424242424242", true},
		{"card 4242 4242 4242 4242 please", true},
		{"4242-4242-4242-4242", true},
		{"4242.4242.4242.4242", true},
		{"4242\u00a04242\u00a04242\u00a04242", true},
		{"4242\u20094242\u20094242\u20094242", true},  // thin spaces
		{"4242\u20144242\u20144242\u20144242", true},  // em dashes
		{"4242\u30004242\u30004242\u30004242", true},  // ideographic spaces
		{"4242\u20ac4242\u20ac4242\u20ac4242", false}, // euro signs join nothing
		{"order 2026-03-15 4242424242424242", true},   // next to a date
		{"https://4111111111111111.example/hook", true},
		{"378282246310005", true},
		{"4242424242424241", false}, // fails Luhn
		{"+60 12-345 6789", false},  // 11 digits
		{"+" + phone12[:2] + " " + phone12[2:4] + "-" + phone12[4:8] + " " + phone12[8:], false},
		{"000000000000", false}, // Luhn-valid, no brand
		{"ts=1773532800123456789", false},
		{"42424242424242424242", false}, // one group of 20: a big id
		{"", false},
	} {
		if got := HasCardNumber(tc.s); got != tc.want {
			t.Errorf("HasCardNumber(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
	if Redact(phone12) == phone12 {
		t.Errorf("the test's phone %s should be one Redact masks (Luhn-valid, 12 digits)", phone12)
	}
}

func TestMaskDigitRuns(t *testing.T) {
	for in, want := range map[string]string{
		`currency "000000000000" is not supported`: `currency "************" is not supported`,
		"4242 4242 4242 4241":                      "**** **** **** ****",
		"at most 99999999999 cents":                "at most 99999999999 cents",
		"byte 1048576 of 2026-03-15":               "byte 1048576 of 2026-03-15",
		"a1234567890123b":                          "a*************b",
		"none":                                     "none",
	} {
		if got := MaskDigitRuns(in, 12); got != want {
			t.Errorf("MaskDigitRuns(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzHasCardNumber: the detector of point 3 never panics, finds a card
// number in any of its written forms wherever it stands, refuses nothing
// the log guard would let through, and MaskDigitRuns leaves no run of 12
// digits while changing nothing but digits.
func FuzzHasCardNumber(f *testing.F) {
	f.Add("phone ", " ok", uint8(0), uint8(0))
	f.Add("+60 12-345 6789", "", uint8(1), uint8(1))
	f.Add("2026-03-15 ", "-12", uint8(2), uint8(2))
	f.Add("", "", uint8(3), uint8(0))
	f.Add("\u00a0", "_", uint8(4), uint8(1))
	pans := []string{"4242424242424242", "5555555555554444", "378282246310005", "6011111111111117",
		"30569309025904", "6759649826438453", "4111111111111111003", "501800000009", "3566002020360505"}
	f.Fuzz(func(t *testing.T, before, after string, which, form uint8) {
		if HasCardNumber(before+after) && Redact(before+after) == before+after {
			t.Fatalf("HasCardNumber(%q) but Redact masks nothing", before+after)
		}
		m := MaskDigitRuns(before+after, 12)
		if len(m) != len(before+after) {
			t.Fatalf("MaskDigitRuns changed the length: %q → %q", before+after, m)
		}
		for i := 0; i < len(m); i++ {
			if c := (before + after)[i]; m[i] != c && !(m[i] == '*' && isDigit(c)) {
				t.Fatalf("MaskDigitRuns changed a non-digit at %d: %q → %q", i, before+after, m)
			}
		}
		if hasDigits(m, 12) && MaskDigitRuns(m, 12) != m {
			t.Fatalf("MaskDigitRuns(%q) = %q still has a run of 12", before+after, m)
		}
		pan := pans[int(which)%len(pans)]
		shown := panForms[int(form)%len(panForms)](pan)
		if endsDigit(before) || startsDigit(after) || endsSep(before) || startsSep(after) {
			return // the number would join the digits around it
		}
		if !HasCardNumber(before + shown + after) {
			t.Fatalf("HasCardNumber(%q) = false", before+shown+after)
		}
		if strings.Contains(MaskDigitRuns(before+shown+after, 12), shown) {
			t.Fatalf("MaskDigitRuns kept %s", shown)
		}
	})
}

// endsSep and startsSep: a separator next to the number may join it to a
// digit beyond.
func endsSep(s string) bool {
	return s != "" && (sepLen(s, len(s)-1) > 0 || strings.HasSuffix(s, "\u00a0"))
}

func startsSep(s string) bool { return s != "" && sepLen(s, 0) > 0 }
