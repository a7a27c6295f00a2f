package harness

import (
	"strings"
	"testing"
	"time"
)

// Card is a valid card body; Amex gets the 4-digit CVC its brand requires.
func Card(number string) map[string]any {
	cvc := "123"
	if strings.HasPrefix(number, "34") || strings.HasPrefix(number, "37") {
		cvc = "1234"
	}
	return map[string]any{"number": number, "exp_month": 12, "exp_year": time.Now().Year() + 5, "cvc": cvc, "holder_name": "Abu Bin Ali"}
}

// With returns a copy of a body with fields overridden; a nil value deletes
// the field.
func With(base map[string]any, kv ...any) map[string]any {
	m := make(map[string]any, len(base))
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

// Tokenize posts a native tokenization.
func (s *Server) Tokenize(t testing.TB, key string, body map[string]any, hdr ...string) Resp {
	t.Helper()
	return s.Call("POST", "/v1/tokens", key, body, hdr...)
}

// Luhn reports whether a digit string passes the Luhn check.
func Luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return len(s) > 0 && sum%10 == 0
}
