package card

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{
		"4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242",
		"378282246310005", "6759649826438453", "501800000009", "4111111111111111003",
		"4242424242424241", "", " ", "-", "abc", "1234567812345670", strings.Repeat("9", 30),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		pan, brand, err := ParseNumber(raw)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "number" || fe.Code != CodeIncorrectNumber {
				t.Fatalf("ParseNumber(%q) error %#v", raw, err)
			}
			if pan != "" {
				t.Fatalf("ParseNumber(%q) returned a pan with an error", raw)
			}
			assertNoDigitRun(t, raw, err.Error())
			return
		}
		if !Luhn(pan) {
			t.Fatalf("ParseNumber(%q) = %q fails Luhn", raw, pan)
		}
		if brand == Unknown || !ValidLength(brand, len(pan)) || DetectBrand(pan) != brand {
			t.Fatalf("ParseNumber(%q) = %q, %q: bad brand or length", raw, pan, brand)
		}
		m := Mask(pan)
		if len(m) != len(pan) || m[:6] != pan[:6] || m[len(m)-4:] != pan[len(pan)-4:] {
			t.Fatalf("Mask(%q) = %q", pan, m)
		}
		if n := strings.Count(m, "*"); n != len(pan)-10 {
			t.Fatalf("Mask(%q) = %q reveals %d digits", pan, m, len(pan)-n)
		}
		if strings.Trim(m[6:len(m)-4], "*") != "" {
			t.Fatalf("Mask(%q) = %q reveals middle digits", pan, m)
		}
		if b := BIN(pan); !strings.HasPrefix(pan, b) || len(b) != 6 {
			t.Fatalf("BIN(%q) = %q", pan, b)
		}
	})
}

func FuzzParseExpiry(f *testing.F) {
	for _, s := range []string{"12/30", "12/2030", "1230", "12-30", "1/30", "12 / 30", "", "00/00", "99/9999", "12/0030"} {
		f.Add(s, int64(1773532800)) // 2026-03-15
	}
	f.Fuzz(func(t *testing.T, s string, unix int64) {
		now := time.Unix(unix, 0)
		m, y, err := ParseExpiry(s, now)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || (fe.Code != CodeInvalidExpiry && fe.Code != CodeExpiredCard) {
				t.Fatalf("ParseExpiry(%q) error %#v", s, err)
			}
			return
		}
		if m < 1 || m > 12 || y < 2000 || y > 2099 {
			t.Fatalf("ParseExpiry(%q) = %d, %d", s, m, y)
		}
		if Expired(m, y, now) {
			t.Fatalf("ParseExpiry(%q) accepted %d/%d but Expired says it is past at %s", s, m, y, now)
		}
		if m2, y2, err := ValidateExpiry(m, y, now); err != nil || m2 != m || y2 != y {
			t.Fatalf("ValidateExpiry(%d, %d) = %d, %d, %v after ParseExpiry(%q)", m, y, m2, y2, err, s)
		}
	})
}

func FuzzValidateCVC(f *testing.F) {
	for _, s := range []string{"123", "1234", "", "12a", "00000"} {
		f.Add(s, "visa")
		f.Add(s, "amex")
	}
	f.Fuzz(func(t *testing.T, cvc, brand string) {
		b := Brand(brand)
		err := ValidateCVC(cvc, b)
		want := 3
		if b == Amex {
			want = 4
		}
		ok := len(cvc) == want && strings.Trim(cvc, "0123456789") == ""
		if ok != (err == nil) {
			t.Fatalf("ValidateCVC(%q, %q) = %v", cvc, brand, err)
		}
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "cvc" || fe.Code != CodeInvalidCVC {
				t.Fatalf("ValidateCVC(%q) error %#v", cvc, err)
			}
			// Letters could coincide with words of the message; digits cannot.
			if len(cvc) >= 2 && strings.Trim(cvc, "0123456789") == "" && strings.Contains(err.Error(), cvc) {
				t.Fatalf("ValidateCVC(%q) message %q echoes the value", cvc, err)
			}
		}
	})
}
