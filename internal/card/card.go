// Package card holds the pure rules for payment card data: primary account
// numbers (normalisation, Luhn, brand, masking), expiry dates and CVCs.
//
// Nothing here does I/O or keeps state. Error messages never repeat a card
// number or CVC, not even in part, because they travel to API responses and
// log lines where a PAN must never appear.
package card

import "strconv"

// Brand is a card scheme, as reported in API responses.
type Brand string

const (
	Visa       Brand = "visa"
	Mastercard Brand = "mastercard"
	Amex       Brand = "amex"
	Discover   Brand = "discover"
	JCB        Brand = "jcb"
	Diners     Brand = "diners"
	UnionPay   Brand = "unionpay"
	Maestro    Brand = "maestro"
	Unknown    Brand = "unknown"
)

// Field error codes, matching the API's card error codes.
const (
	CodeIncorrectNumber = "incorrect_number"
	CodeInvalidExpiry   = "invalid_expiry"
	CodeExpiredCard     = "expired_card"
	CodeInvalidCVC      = "invalid_cvc"
)

// FieldError is a validation failure of one card field. Field is one of
// "number", "exp_month", "exp_year", "cvc"; Code is one of the Code*
// constants. Message is human text that never contains the card number or
// CVC, so callers may put it in responses and logs as it is.
type FieldError struct {
	Field   string
	Code    string
	Message string
}

func (e *FieldError) Error() string {
	return e.Field + ": " + e.Message
}

func numberError(msg string) *FieldError {
	return &FieldError{Field: "number", Code: CodeIncorrectNumber, Message: msg}
}

// Normalize strips the spaces and dashes people type between digit groups
// and returns the bare digits. Any other character is an error rather than
// being dropped, so that a mistyped number is rejected instead of silently
// becoming a different number.
func Normalize(raw string) (string, error) {
	// Copy only when a separator is present: most API clients send bare digits.
	clean := true
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case isDigit(c):
		case c == ' ' || c == '-':
			clean = false
		default:
			return "", numberError("must contain only digits, spaces or dashes")
		}
	}
	if clean {
		if raw == "" {
			return "", numberError("is required")
		}
		return raw, nil
	}
	buf := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if isDigit(raw[i]) {
			buf = append(buf, raw[i])
		}
	}
	if len(buf) == 0 {
		return "", numberError("is required")
	}
	return string(buf), nil
}

// Luhn reports whether digits passes the Luhn (mod 10) check. Anything that
// is not a non-empty string of ASCII digits fails.
func Luhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if !isDigit(c) {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// CompleteLuhn appends the check digit that makes payload pass Luhn. payload
// must be ASCII digits. Test-card generators (bench, tests) use it.
func CompleteLuhn(payload string) string {
	sum := 0
	double := true // payload's last digit is second from the right once the check digit is added
	for i := len(payload) - 1; i >= 0; i-- {
		d := int(payload[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return payload + string(rune('0'+(10-sum%10)%10))
}

// DetectBrand identifies the scheme from the leading digits alone; it does not
// check length or Luhn. Where ranges overlap the most specific prefix wins
// (6011 is Discover, 6304 Maestro, 62 UnionPay, any other 6 Maestro).
func DetectBrand(pan string) Brand {
	p1, ok1 := prefix(pan, 1)
	p2, ok2 := prefix(pan, 2)
	p3, ok3 := prefix(pan, 3)
	p4, ok4 := prefix(pan, 4)
	in := func(p, lo, hi int, ok bool) bool { return ok && p >= lo && p <= hi }

	switch {
	case in(p4, 6304, 6304, ok4), in(p4, 6759, 6759, ok4), in(p4, 6761, 6763, ok4):
		return Maestro
	case in(p4, 6011, 6011, ok4), in(p3, 644, 649, ok3), in(p2, 65, 65, ok2):
		return Discover
	case in(p2, 62, 62, ok2), in(p2, 81, 81, ok2):
		return UnionPay
	case in(p4, 3528, 3589, ok4):
		return JCB
	case in(p3, 300, 305, ok3), in(p4, 3095, 3095, ok4), in(p2, 36, 36, ok2), in(p2, 38, 39, ok2):
		return Diners
	case in(p2, 34, 34, ok2), in(p2, 37, 37, ok2):
		return Amex
	case in(p2, 51, 55, ok2), in(p4, 2221, 2720, ok4):
		return Mastercard
	case in(p1, 4, 4, ok1):
		return Visa
	case in(p2, 50, 50, ok2), in(p2, 56, 58, ok2), in(p1, 6, 6, ok1):
		// 5018, 5020, 5038 and 5893 fall inside 50 and 58.
		return Maestro
	}
	return Unknown
}

// prefix returns the first n characters of s as a number, if they are all
// digits.
func prefix(s string, n int) (int, bool) {
	if len(s) < n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}

// ValidLength reports whether a PAN of n digits is a length the brand issues.
func ValidLength(b Brand, n int) bool {
	switch b {
	case Visa:
		return n == 13 || n == 16 || n == 19
	case Mastercard:
		return n == 16
	case Amex:
		return n == 15
	case Discover, JCB, UnionPay:
		return n >= 16 && n <= 19
	case Diners:
		return n >= 14 && n <= 19
	case Maestro:
		return n >= 12 && n <= 19
	}
	return false
}

// ParseNumber normalises raw and accepts it only if its brand is known, its
// length is valid for that brand and it passes Luhn. Every failure is a
// *FieldError on "number" with code incorrect_number and a distinct message.
func ParseNumber(raw string) (pan string, brand Brand, err error) {
	pan, err = Normalize(raw)
	if err != nil {
		return "", Unknown, err
	}
	brand = DetectBrand(pan)
	if brand == Unknown {
		return "", Unknown, numberError("brand not recognised")
	}
	if !ValidLength(brand, len(pan)) {
		// Only the length is echoed, never digits of the number. Very long
		// input is not counted exactly so the message stays bounded.
		n := "more than 19"
		if len(pan) <= 19 {
			n = strconv.Itoa(len(pan))
		}
		return "", Unknown, numberError("length " + n + " is not valid for " + string(brand))
	}
	if !Luhn(pan) {
		return "", Unknown, numberError("must pass the Luhn check")
	}
	return pan, brand, nil
}

// minPAN is the shortest number any brand issues; BIN, Last4 and Mask reveal
// nothing of shorter strings, which cannot be card numbers and could be
// almost wholly revealed by "first 6 + last 4".
const minPAN = 12

// BIN returns the first 6 digits, never more. The schemes issue 8-digit
// BINs for 16-digit cards, but 8 digits and the last 4 leave only ~1,000
// Luhn-valid candidates for the 4 hidden ones: PCI DSS 3.4.1 allows BIN 6 +
// last 4 as the most any display shows, and so does Coffer.
func BIN(pan string) string {
	if len(pan) < minPAN {
		return ""
	}
	return pan[:6]
}

// Last4 returns the last four digits of pan.
func Last4(pan string) string {
	if len(pan) < minPAN {
		return ""
	}
	return pan[len(pan)-4:]
}

// Mask keeps the first 6 and last 4 digits, the most PCI DSS allows to be
// shown, and replaces each digit between with '*', so the masked form still
// shows the number's length: "4242424242424242" → "424242******4242".
func Mask(pan string) string {
	if len(pan) < minPAN {
		return stars(len(pan))
	}
	b := make([]byte, len(pan))
	copy(b, pan[:6])
	for i := 6; i < len(pan)-4; i++ {
		b[i] = '*'
	}
	copy(b[len(pan)-4:], pan[len(pan)-4:])
	return string(b)
}

func stars(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '*'
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Plausible reports whether digits (ASCII digits only) could be a card
// number in use today: it passes Luhn, its prefix belongs to a brand, and
// its length is one that brand issues. Text fields refuse what it accepts
// (see logging.HasCardNumber).
//
// It is narrower than ParseNumber, which also takes every length a brand
// ever allowed, because those lengths are also the lengths of phone
// numbers, and one phone number in ten passes Luhn: "+60 11-2345 6789" is
// 12 digits under DetectBrand's catch-all Maestro 6, a German one 13 digits
// under Visa's 4. So a 13-digit Visa (no longer issued) is not plausible,
// and Maestro is plausible at 12–15 digits only in its own ranges (5018,
// 5020, 5038, 5893, 6304, 6759, 6761–6763), at 16–19 anywhere DetectBrand
// calls Maestro. E.164 numbers have at most 15 digits, so only a 14- or
// 15-digit phone number under a Diners or Amex prefix can still be taken
// for a card.
func Plausible(digits string) bool {
	n := len(digits)
	if n < minPAN || n > 19 || !Luhn(digits) {
		return false
	}
	switch b := DetectBrand(digits); b {
	case Unknown:
		return false
	case Visa:
		return n == 16 || n == 19
	case Maestro:
		if n >= 16 {
			return true
		}
		p4, _ := prefix(digits, 4)
		return p4 == 5018 || p4 == 5020 || p4 == 5038 || p4 == 5893 || p4 == 6304 || p4 == 6759 || (p4 >= 6761 && p4 <= 6763)
	default:
		return ValidLength(b, n)
	}
}
