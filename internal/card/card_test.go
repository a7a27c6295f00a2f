package card

import (
	"errors"
	"strings"
	"testing"
)

func TestParseNumberValid(t *testing.T) {
	tests := []struct {
		raw   string
		pan   string
		brand Brand
	}{
		{"4242424242424242", "4242424242424242", Visa},
		{"4222222222222", "4222222222222", Visa},
		{"4111111111111111003", "4111111111111111003", Visa},
		{"5555555555554444", "5555555555554444", Mastercard},
		{"2223003122003222", "2223003122003222", Mastercard},
		{"378282246310005", "378282246310005", Amex},
		{"371449635398431", "371449635398431", Amex},
		{"6011111111111117", "6011111111111117", Discover},
		{"6445644564456445", "6445644564456445", Discover},
		{"3566002020360505", "3566002020360505", JCB},
		{"30569309025904", "30569309025904", Diners},
		{"36227206271667", "36227206271667", Diners},
		{"6200000000000005", "6200000000000005", UnionPay},
		{"6759649826438453", "6759649826438453", Maestro},
		{"6304000000000000", "6304000000000000", Maestro},
		{"5018000000000009", "5018000000000009", Maestro},
		{"4242 4242 4242 4242", "4242424242424242", Visa},
		{"4242-4242-4242-4242", "4242424242424242", Visa},
		{" 3782 822463 10005 ", "378282246310005", Amex},
		{"4242--4242  4242 4242", "4242424242424242", Visa},
	}
	for _, tt := range tests {
		pan, brand, err := ParseNumber(tt.raw)
		if err != nil {
			t.Errorf("ParseNumber(%q): %v", tt.raw, err)
			continue
		}
		if pan != tt.pan || brand != tt.brand {
			t.Errorf("ParseNumber(%q) = %q, %q; want %q, %q", tt.raw, pan, brand, tt.pan, tt.brand)
		}
	}
}

func TestParseNumberInvalid(t *testing.T) {
	tests := []struct {
		raw, msg string
	}{
		{"", "is required"},
		{" - ", "is required"},
		{"4242424242424241", "must pass the Luhn check"},
		{"5555555555554445", "must pass the Luhn check"},
		{"378282246310006", "must pass the Luhn check"},
		{"424242424242424", "length 15 is not valid for visa"},
		{"42424242424242424", "length 17 is not valid for visa"},
		{"55555555555544", "length 14 is not valid for mastercard"},
		{"3782822463100050", "length 16 is not valid for amex"},
		{"601111111111117", "length 15 is not valid for discover"},
		{"3056930902590", "length 13 is not valid for diners"},
		{"67596498264", "length 11 is not valid for maestro"},
		{strings.Repeat("4", 40), "length more than 19 is not valid for visa"},
		{"1234567812345670", "brand not recognised"},
		{"9999999999999995", "brand not recognised"},
		{"4242424242424242a", "must contain only digits, spaces or dashes"},
		{"4242.4242.4242.4242", "must contain only digits, spaces or dashes"},
		{"4242\t4242424242424", "must contain only digits, spaces or dashes"},
		{"４242424242424242", "must contain only digits, spaces or dashes"},
	}
	for _, tt := range tests {
		pan, brand, err := ParseNumber(tt.raw)
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("ParseNumber(%q) = %q, %q, %v; want *FieldError", tt.raw, pan, brand, err)
			continue
		}
		if fe.Field != "number" || fe.Code != CodeIncorrectNumber || fe.Message != tt.msg {
			t.Errorf("ParseNumber(%q) error = %+v; want number/incorrect_number/%q", tt.raw, *fe, tt.msg)
		}
		if pan != "" {
			t.Errorf("ParseNumber(%q) returned pan %q with an error", tt.raw, pan)
		}
	}
}

func TestNormalize(t *testing.T) {
	for raw, want := range map[string]string{
		"4242424242424242":    "4242424242424242",
		"4242 4242 4242 4242": "4242424242424242",
		"-4242-":              "4242",
	} {
		got, err := Normalize(raw)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"", "  ", "42a", "42_42", "42\n42", "+4242"} {
		if _, err := Normalize(raw); err == nil {
			t.Errorf("Normalize(%q) succeeded", raw)
		}
	}
}

func TestLuhn(t *testing.T) {
	for s, want := range map[string]bool{
		"4242424242424242": true,
		"4242424242424241": false,
		"79927398713":      true,
		"0":                true,
		"":                 false,
		"4242x":            false,
		"18":               true,
		"81":               false,
	} {
		if got := Luhn(s); got != want {
			t.Errorf("Luhn(%q) = %v; want %v", s, got, want)
		}
	}
}

func TestDetectBrand(t *testing.T) {
	tests := []struct {
		prefix string
		want   Brand
	}{
		{"4", Visa},
		{"51", Mastercard}, {"55", Mastercard},
		{"2221", Mastercard}, {"2720", Mastercard}, {"2220", Unknown}, {"2721", Unknown},
		{"34", Amex}, {"37", Amex}, {"35", Unknown},
		{"6011", Discover}, {"644", Discover}, {"649", Discover}, {"65", Discover},
		{"3528", JCB}, {"3589", JCB}, {"3527", Unknown}, {"3590", Unknown},
		{"300", Diners}, {"305", Diners}, {"306", Unknown}, {"3095", Diners},
		{"36", Diners}, {"38", Diners}, {"39", Diners},
		{"62", UnionPay}, {"81", UnionPay}, {"82", Unknown},
		{"5018", Maestro}, {"5020", Maestro}, {"5038", Maestro}, {"5893", Maestro},
		{"6304", Maestro}, {"6759", Maestro}, {"6761", Maestro}, {"6762", Maestro}, {"6763", Maestro},
		{"50", Maestro}, {"56", Maestro}, {"57", Maestro}, {"58", Maestro},
		{"60", Maestro}, {"6010", Maestro}, {"643", Maestro}, {"63", Maestro}, {"67", Maestro}, {"6", Maestro},
		{"59", Unknown}, {"1", Unknown}, {"7", Unknown}, {"9", Unknown}, {"0", Unknown},
		{"", Unknown}, {"x4", Unknown},
	}
	for _, tt := range tests {
		// Pad with digits that are no brand's prefix continuation on their own.
		pan := tt.prefix + strings.Repeat("0", 12)
		if tt.prefix == "" || tt.prefix == "x4" {
			pan = tt.prefix
		}
		if got := DetectBrand(pan); got != tt.want {
			t.Errorf("DetectBrand(%s…) = %q; want %q", tt.prefix, got, tt.want)
		}
	}
}

func TestValidLength(t *testing.T) {
	want := map[Brand][]int{
		Visa:       {13, 16, 19},
		Mastercard: {16},
		Amex:       {15},
		Discover:   {16, 17, 18, 19},
		JCB:        {16, 17, 18, 19},
		Diners:     {14, 15, 16, 17, 18, 19},
		UnionPay:   {16, 17, 18, 19},
		Maestro:    {12, 13, 14, 15, 16, 17, 18, 19},
		Unknown:    nil,
	}
	for b, lengths := range want {
		ok := map[int]bool{}
		for _, n := range lengths {
			ok[n] = true
		}
		for n := 0; n <= 25; n++ {
			if got := ValidLength(b, n); got != ok[n] {
				t.Errorf("ValidLength(%s, %d) = %v; want %v", b, n, got, ok[n])
			}
		}
	}
}

func TestBINLast4Mask(t *testing.T) {
	tests := []struct {
		pan, bin, last4, mask string
	}{
		{"4242424242424242", "424242", "4242", "424242******4242"},
		{"378282246310005", "378282", "0005", "378282*****0005"},
		{"30569309025904", "305693", "5904", "305693****5904"},
		{"4111111111111111003", "411111", "1003", "411111*********1003"},
		{"4222222222222", "422222", "2222", "422222***2222"},
		{"501800000009", "501800", "0009", "501800**0009"},
		{"12345678901", "", "", "***********"},
		{"", "", "", ""},
	}
	for _, tt := range tests {
		if got := BIN(tt.pan); got != tt.bin {
			t.Errorf("BIN(%q) = %q; want %q", tt.pan, got, tt.bin)
		}
		if got := Last4(tt.pan); got != tt.last4 {
			t.Errorf("Last4(%q) = %q; want %q", tt.pan, got, tt.last4)
		}
		if got := Mask(tt.pan); got != tt.mask {
			t.Errorf("Mask(%q) = %q; want %q", tt.pan, got, tt.mask)
		}
	}
}

// TestMessagesNeverEchoNumber guards the rule that card numbers never reach
// an error message: no run of 3 or more consecutive digits of the input may
// appear in the message or in Error().
func TestMessagesNeverEchoNumber(t *testing.T) {
	inputs := []string{
		"4242424242424241",
		"4242 4242 4242 4241",
		"424242424242424",
		"42424242424242424242424",
		"1234567812345670",
		"9999999999999995",
		"4242424242424242x",
		"x4242424242424242",
		"4242-4242-4242-424a",
		"378282246310006",
		"3782822463100050",
		"6759649826438",
		"5555555555554445",
		"1915191519151915",
		"1717171717171717171717",
	}
	for _, raw := range inputs {
		_, _, err := ParseNumber(raw)
		if err == nil {
			t.Fatalf("ParseNumber(%q) succeeded", raw)
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("ParseNumber(%q) error %T is not *FieldError", raw, err)
		}
		assertNoDigitRun(t, raw, fe.Message)
		assertNoDigitRun(t, raw, err.Error())
	}
}

func assertNoDigitRun(t *testing.T, raw, msg string) {
	t.Helper()
	digits := onlyDigits(raw)
	for i := 0; i+3 <= len(digits); i++ {
		if strings.Contains(msg, digits[i:i+3]) {
			t.Errorf("message %q for input %q contains digits %q of it", msg, raw, digits[i:i+3])
			return
		}
	}
}

func onlyDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func TestValidateCVC(t *testing.T) {
	tests := []struct {
		cvc   string
		brand Brand
		ok    bool
	}{
		{"123", Visa, true},
		{"000", Mastercard, true},
		{"123", Discover, true},
		{"123", JCB, true},
		{"123", Diners, true},
		{"123", UnionPay, true},
		{"123", Maestro, true},
		{"123", Unknown, true},
		{"1234", Amex, true},
		{"123", Amex, false},
		{"1234", Visa, false},
		{"12", Visa, false},
		{"", Visa, false},
		{"12a", Visa, false},
		{" 123", Visa, false},
		{"１２３", Visa, false},
		{"12345", Amex, false},
	}
	for _, tt := range tests {
		err := ValidateCVC(tt.cvc, tt.brand)
		if tt.ok {
			if err != nil {
				t.Errorf("ValidateCVC(%q, %s) = %v", tt.cvc, tt.brand, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "cvc" || fe.Code != CodeInvalidCVC {
			t.Errorf("ValidateCVC(%q, %s) = %v; want cvc/invalid_cvc", tt.cvc, tt.brand, err)
			continue
		}
		if len(tt.cvc) >= 2 && strings.Contains(err.Error(), tt.cvc) {
			t.Errorf("ValidateCVC(%q, %s) message %q echoes the CVC", tt.cvc, tt.brand, err)
		}
	}
}

func TestCompleteLuhn(t *testing.T) {
	for _, n := range []string{"4242424242424242", "5555555555554444", "378282246310005", "4000000000000002", "30569309025904"} {
		if got := CompleteLuhn(n[:len(n)-1]); got != n {
			t.Errorf("CompleteLuhn(%s) = %s", n[:len(n)-1], got)
		}
	}
}

func TestPlausible(t *testing.T) {
	for _, tc := range []struct {
		digits string
		want   bool
	}{
		{"4242424242424242", true},
		{"4111111111111111003", true},
		{"5555555555554444", true},
		{"378282246310005", true},
		{"30569309025904", true}, // Diners, 14
		{"6011111111111117", true},
		{"6759649826438453", true},
		{"501800000009", true},      // Maestro's own range, 12 digits
		{"4242424242424241", false}, // Luhn
		{"4222222222222", false},    // 13-digit Visa: no longer issued
		{"000000000000", false},     // passes Luhn, no brand
		{"1234567812345670", false}, // passes Luhn, no brand
		{"42424242", false},
		{"42424242424242424242", false}, // too long
		{"424242424242424a", false},
	} {
		if got := Plausible(tc.digits); got != tc.want {
			t.Errorf("Plausible(%q) = %v, want %v", tc.digits, got, tc.want)
		}
	}
	// Phone numbers of 12 and 13 digits with a card brand's prefix that
	// pass Luhn: ParseNumber takes them, Plausible does not.
	for _, national := range []string{"60193456789", "63912345678", "57301234567", "493012345678", "431234567890"} {
		phone := CompleteLuhn(national)
		if _, _, err := ParseNumber(phone); err != nil {
			t.Fatalf("%s: the test wants a number ParseNumber takes: %v", phone, err)
		}
		if Plausible(phone) {
			t.Errorf("Plausible(%q) = true: a phone number of this length is refused one time in ten", phone)
		}
	}
}
