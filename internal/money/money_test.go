package money

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestExponent(t *testing.T) {
	want := map[string]int{
		"MYR": 2, "USD": 2, "EUR": 2, "GBP": 2, "SGD": 2, "IDR": 2, "INR": 2, "AED": 2, "SAR": 2, "QAR": 2,
		"KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3, "LYD": 3, "IQD": 3,
		"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "XOF": 0, "XAF": 0, "XPF": 0,
		"PYG": 0, "RWF": 0, "BIF": 0, "DJF": 0, "GNF": 0, "KMF": 0, "VUV": 0, "UYI": 0,
		"CLF": 4, "UYW": 4,
		"XCG": 2, "ZWG": 2, "SLE": 2, "VED": 2,
	}
	for code, e := range want {
		got, ok := Exponent(code)
		if !ok || got != e {
			t.Errorf("Exponent(%q) = %d, %v; want %d", code, got, ok, e)
		}
	}
	for _, code := range []string{"", "usd", "Usd", "XXX", "XTS", "XAU", "XDR", "ABC", "USDX", "US", "HRK", "ZWL"} {
		if e, ok := Exponent(code); ok {
			t.Errorf("Exponent(%q) = %d, true; want unknown", code, e)
		}
	}
	for code, e := range exponents {
		if len(code) != 3 || strings.ToUpper(code) != code || e < 0 || e > 4 {
			t.Errorf("bad table entry %q: %d", code, e)
		}
	}
}

func TestValidateCurrency(t *testing.T) {
	if err := ValidateCurrency("MYR"); err != nil {
		t.Errorf("ValidateCurrency(MYR) = %v", err)
	}
	for code, contains := range map[string]string{
		"":                  "required",
		"usd":               `"usd" must be upper case (USD)`,
		"ABC":               `"ABC" is not`,
		"<script>alert(1)>": `"<script>aler"…`,
	} {
		err := ValidateCurrency(code)
		var me *Error
		if !errors.As(err, &me) || me.Field != "currency" || !strings.Contains(me.Message, contains) {
			t.Errorf("ValidateCurrency(%q) = %v; want currency error containing %q", code, err, contains)
		}
	}
}

func TestValidateAmount(t *testing.T) {
	for _, tt := range []struct {
		amount   int64
		currency string
		field    string
	}{
		{1, "USD", ""},
		{MaxAmount, "JPY", ""},
		{0, "USD", "amount"},
		{-1, "USD", "amount"},
		{math.MinInt64, "USD", "amount"},
		{MaxAmount + 1, "USD", "amount"},
		{math.MaxInt64, "USD", "amount"},
		{100, "usd", "currency"},
		{100, "", "currency"},
	} {
		err := ValidateAmount(tt.amount, tt.currency)
		if tt.field == "" {
			if err != nil {
				t.Errorf("ValidateAmount(%d, %q) = %v", tt.amount, tt.currency, err)
			}
			continue
		}
		var me *Error
		if !errors.As(err, &me) || me.Field != tt.field {
			t.Errorf("ValidateAmount(%d, %q) = %v; want %s error", tt.amount, tt.currency, err, tt.field)
		}
	}
}

func TestParse(t *testing.T) {
	good := []struct {
		s, currency string
		want        int64
	}{
		{"19", "USD", 1900},
		{"19.9", "USD", 1990},
		{"19.99", "USD", 1999},
		{"0.01", "USD", 1},
		{"0", "USD", 0},
		{"0.00", "MYR", 0},
		{"10.00", "MYR", 1000},
		{"007.50", "MYR", 750},
		{"86.000", "KWD", 86000},
		{"12.34", "KWD", 12340},
		{"12.345", "BHD", 12345},
		{"1000", "JPY", 1000},
		{"1.2345", "CLF", 12345},
		{"999999999.99", "USD", MaxAmount},
		{"99999999999", "JPY", MaxAmount},
		{"99999999.999", "KWD", MaxAmount},
		{"0000000000000000000000001", "JPY", 1},
	}
	for _, tt := range good {
		got, err := Parse(tt.s, tt.currency)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q, %s) = %d, %v; want %d", tt.s, tt.currency, got, err, tt.want)
		}
	}
	bad := []struct {
		s, currency, field string
	}{
		{"", "USD", "amount"},
		{".", "USD", "amount"},
		{".5", "USD", "amount"},
		{"5.", "USD", "amount"},
		{"1.234", "USD", "amount"},
		{"1.0", "JPY", "amount"},
		{"1.2345", "KWD", "amount"},
		{"-1", "USD", "amount"},
		{"+1", "USD", "amount"},
		{"1e3", "USD", "amount"},
		{"1,000", "USD", "amount"},
		{"1 000", "USD", "amount"},
		{" 1", "USD", "amount"},
		{"1.2.3", "KWD", "amount"},
		{"0x10", "USD", "amount"},
		{"１", "USD", "amount"},
		{"NaN", "USD", "amount"},
		{"1000000000.00", "USD", "amount"},
		{"100000000000", "JPY", "amount"},
		{"9223372036854775807", "JPY", "amount"},
		{"99999999999999999999999999999", "JPY", "amount"},
		{"999999999.999", "USD", "amount"},
		{"10", "usd", "currency"},
		{"10", "XXX", "currency"},
	}
	for _, tt := range bad {
		got, err := Parse(tt.s, tt.currency)
		var me *Error
		if !errors.As(err, &me) || me.Field != tt.field {
			t.Errorf("Parse(%q, %s) = %d, %v; want %s error", tt.s, tt.currency, got, err, tt.field)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{12340, "KWD", "12.340"},
		{1000, "JPY", "1000"},
		{1000, "MYR", "10.00"},
		{1, "USD", "0.01"},
		{0, "USD", "0.00"},
		{5, "KWD", "0.005"},
		{0, "JPY", "0"},
		{12345, "CLF", "1.2345"},
		{MaxAmount, "USD", "999999999.99"},
		{-150, "USD", "-1.50"},
		{-1, "KWD", "-0.001"},
		{math.MinInt64, "USD", "-92233720368547758.08"},
		{math.MaxInt64, "JPY", "9223372036854775807"},
		{1234, "???", "12.34"},
	} {
		if got := Format(tt.amount, tt.currency); got != tt.want {
			t.Errorf("Format(%d, %s) = %q; want %q", tt.amount, tt.currency, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"19", "19.99", "86.000", "0", "", ".", "1e3", "-1", "99999999999", "999999999999"} {
		for _, c := range []string{"USD", "KWD", "JPY", "CLF", "usd"} {
			f.Add(s, c, int64(1234))
		}
	}
	f.Fuzz(func(t *testing.T, s, currency string, x int64) {
		v, err := Parse(s, currency)
		if err == nil {
			if v < 0 || v > MaxAmount {
				t.Fatalf("Parse(%q, %q) = %d out of range", s, currency, v)
			}
			// Any accepted string must denote the same amount as its canonical form.
			if w, err := Parse(Format(v, currency), currency); err != nil || w != v {
				t.Fatalf("Parse(Format(%d)) = %d, %v after Parse(%q, %q)", v, w, err, s, currency)
			}
		} else {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("Parse(%q, %q) error %T", s, currency, err)
			}
		}
		if _, ok := Exponent(currency); !ok {
			return
		}
		if x < 0 {
			x = -(x + 1)
		}
		x %= MaxAmount + 1
		formatted := Format(x, currency)
		got, err := Parse(formatted, currency)
		if err != nil || got != x {
			t.Fatalf("Parse(Format(%d, %s) = %q) = %d, %v", x, currency, formatted, got, err)
		}
	})
}

func TestValidateCurrencyEchoesNoDigits(t *testing.T) {
	err := ValidateCurrency("4242424242424242")
	if err == nil || strings.Contains(err.Error(), "4242") {
		t.Fatalf("a currency with digits must be refused without echoing them: %v", err)
	}
}
