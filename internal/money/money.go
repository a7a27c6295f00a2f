// Package money handles amounts as integers in a currency's minor units
// (cents, sen, fils), the only form Coffer stores or computes with, and
// converts them to and from the decimal strings some provider APIs use.
package money

import (
	"strconv"
	"strings"
)

// MaxAmount is the upper bound on any amount in minor units. It keeps
// every amount, and sums of a few of them, far from int64 overflow and
// within what acquirers accept (12-digit amount fields).
const MaxAmount int64 = 99_999_999_999

// Error is a validation failure of an amount or currency. Field names the
// request field ("amount" or "currency").
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string {
	return e.Field + ": " + e.Message
}

// Exponent returns the number of minor-unit digits of an ISO 4217 currency
// code. Only upper-case codes are known: normalising case is the caller's
// decision, so that "usd" can be rejected where the API demands "USD".
func Exponent(currency string) (int, bool) {
	e, ok := exponents[currency]
	return e, ok
}

// ValidateCurrency accepts active ISO 4217 codes in upper case.
func ValidateCurrency(code string) error {
	if code == "" {
		return &Error{Field: "currency", Message: "is required"}
	}
	if _, ok := exponents[code]; ok {
		return nil
	}
	if up := strings.ToUpper(code); up != code {
		if _, ok := exponents[up]; ok {
			return &Error{Field: "currency", Message: quote(code) + " must be upper case (" + up + ")"}
		}
	}
	if digits := len(code) - len(strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, code)); digits > 3 {
		// Do not echo a run of digits: a mistyped field could hold a card number.
		return &Error{Field: "currency", Message: "is not a supported ISO 4217 currency code"}
	}
	return &Error{Field: "currency", Message: quote(code) + " is not a supported ISO 4217 currency code"}
}

// quote renders caller input for a message, bounded so that a huge or
// hostile value cannot bloat the response or the log line that carries it.
func quote(s string) string {
	const max = 12
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

// ValidateAmount accepts a positive amount in minor units up to MaxAmount in
// a supported currency.
func ValidateAmount(amount int64, currency string) error {
	if err := ValidateCurrency(currency); err != nil {
		return err
	}
	if amount <= 0 {
		return &Error{Field: "amount", Message: "must be greater than 0"}
	}
	if amount > MaxAmount {
		return &Error{Field: "amount", Message: "must be at most " + strconv.FormatInt(MaxAmount, 10) + " minor units"}
	}
	return nil
}

// Parse converts a plain decimal string in major units into minor units:
// "19" USD → 1900, "86.000" KWD → 86000, "12.34" KWD → 12340. It accepts no
// sign, exponent, thousands separator or surrounding space, and rejects more
// decimals than the currency has, because rounding money silently is never
// right. Zero is allowed (a save-card-only session has amount 0); values
// above MaxAmount are rejected.
func Parse(s, currency string) (int64, error) {
	exp, ok := Exponent(currency)
	if !ok {
		return 0, ValidateCurrency(currency)
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if !allDigits(intPart) || (hasDot && !allDigits(frac)) {
		return 0, &Error{Field: "amount", Message: "must be a decimal number such as 12.34"}
	}
	if len(frac) > exp {
		msg := "must have no decimals in " + currency
		if exp > 0 {
			msg = "must have at most " + strconv.Itoa(exp) + " decimals in " + currency
		}
		return 0, &Error{Field: "amount", Message: msg}
	}
	var v int64
	for _, part := range [...]string{intPart, frac, strings.Repeat("0", exp-len(frac))} {
		for i := 0; i < len(part); i++ {
			v = v*10 + int64(part[i]-'0')
			// Checked at every digit, so v never gets near int64 overflow
			// however long the input; leading zeros still parse.
			if v > MaxAmount {
				return 0, &Error{Field: "amount", Message: "must be at most " + Format(MaxAmount, currency)}
			}
		}
	}
	return v, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Format renders minor units as a plain decimal string with exactly the
// currency's number of decimals: 12340 KWD → "12.340", 1000 JPY → "1000",
// 1000 MYR → "10.00". An unknown currency is formatted with 2 decimals, the
// most common exponent; callers should have validated it already.
func Format(amount int64, currency string) string {
	exp, ok := Exponent(currency)
	if !ok {
		exp = 2
	}
	neg := amount < 0
	// uint64 holds the magnitude of math.MinInt64, which int64 cannot.
	mag := uint64(amount)
	if neg {
		mag = -mag
	}
	s := strconv.FormatUint(mag, 10)
	if exp > 0 {
		if len(s) <= exp {
			s = strings.Repeat("0", exp-len(s)+1) + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
