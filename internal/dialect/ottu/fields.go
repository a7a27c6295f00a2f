package ottu

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/wire"
)

// ParseAmount reads Ottu's decimal amount string in the currency's major
// units ("19", "86.000") into minor units. More decimals than the
// currency has is an error, never rounded.
func ParseAmount(s, currency string) (int64, error) {
	v, err := money.Parse(s, currency)
	if err != nil {
		var me *money.Error
		if errors.As(err, &me) {
			msg := me.Message
			if me.Field == "amount" && strings.HasPrefix(msg, "must be a decimal") {
				msg = "must be a positive decimal number such as 86.000"
			}
			return 0, errors.New(wire.Clean(msg)) // the money package may quote the input
		}
		return 0, err
	}
	return v, nil
}

// FormatAmount is an amount as Ottu answers it: at the currency's ISO 4217
// precision ("12.340" for KWD).
func FormatAmount(minor int64, currency string) string { return money.Format(minor, currency) }

// durationPattern is Django's DurationField text: "[D [day[s], ]][[HH:]MM:]SS[.ffffff]".
var durationPattern = regexp.MustCompile(`^(?:(\d{1,3}) (?:days?, )?)?(?:(?:(\d{1,2}):)?(\d{1,2}):)?(\d{1,6})(?:\.\d{1,6})?$`)

// ParseExpiration reads expiration_time as Django parses a DurationField
// ("1 00:00:00" is one day, "00:30:00" half an hour, "3600" an hour);
// fractions of a second are dropped.
func ParseExpiration(s string) (time.Duration, error) {
	m := durationPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, errors.New(`must be a duration like "1 00:00:00" (days hours:minutes:seconds)`)
	}
	n := func(i int) int64 {
		v, _ := strconv.ParseInt(m[i], 10, 64)
		return v
	}
	secs := n(1)*86400 + n(2)*3600 + n(3)*60 + n(4)
	if (m[2] != "" && n(3) > 59) || ((m[2] != "" || m[3] != "") && n(4) > 59) {
		return 0, errors.New("has minutes or seconds over 59")
	}
	return time.Duration(secs) * time.Second, nil
}

// FormatExpiration writes a duration as Django does: "1 00:00:00",
// "00:30:00".
func FormatExpiration(d time.Duration) string {
	secs := int64(d.Round(time.Second) / time.Second)
	days := secs / 86400
	secs %= 86400
	hms := fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs%3600/60, secs%60)
	if days > 0 {
		return strconv.FormatInt(days, 10) + " " + hms
	}
	return hms
}

// fields reads a decoded body into typed values, collecting DRF-style
// errors as it goes.
type fields struct {
	m    map[string]any
	errs fieldErrors
	path string // the enclosing object, for nested errors
}

func (f fields) name(k string) string {
	if f.path == "" {
		return k
	}
	return f.path + "." + k
}

func (f fields) has(k string) bool {
	v, ok := f.m[k]
	return ok && v != nil
}

// str reads a string field; absent or null is "". Numbers are taken as
// their text only where number is set (amount).
func (f fields) str(k string, required bool, number bool) string {
	v, ok := f.m[k]
	if !ok || v == nil {
		if required {
			f.errs.add(f.name(k), "This field is required.")
		}
		return ""
	}
	switch x := v.(type) {
	case string:
		if required && strings.TrimSpace(x) == "" {
			f.errs.add(f.name(k), "This field may not be blank.")
		}
		return x
	case json.Number:
		if number {
			return x.String()
		}
	}
	f.errs.add(f.name(k), "Not a valid string.")
	return ""
}

// strList reads a list of strings.
func (f fields) strList(k string, required bool) []string {
	v, ok := f.m[k]
	if !ok || v == nil {
		if required {
			f.errs.add(f.name(k), "This field is required.")
		}
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		f.errs.add(f.name(k), `Expected a list of items but got type %q.`, jsonType(v))
		return nil
	}
	if required && len(l) == 0 {
		f.errs.add(f.name(k), "This list may not be empty.")
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok || strings.TrimSpace(s) == "" || len(s) > 64 {
			f.errs.add(f.name(k), "Each item must be a code of 1 to 64 characters.")
			return nil
		}
		out = append(out, s)
	}
	return out
}

// object reads a nested object.
func (f fields) object(k string, required bool) (fields, bool) {
	v, ok := f.m[k]
	if !ok || v == nil {
		if required {
			f.errs.add(f.name(k), "This field is required.")
		}
		return fields{}, false
	}
	o, ok := v.(map[string]any)
	if !ok {
		f.errs.add(f.name(k), "Invalid data. Expected a dictionary, but got %s.", jsonType(v))
		return fields{}, false
	}
	return fields{m: o, errs: f.errs, path: f.name(k)}, true
}

// choice reads a string among allowed values.
func (f fields) choice(k string, required bool, def string, allowed ...string) string {
	s := f.str(k, required, false)
	if s == "" {
		return def
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	// A value with any digit is never echoed: "4111 1111 …" or a CVV
	// sent in the wrong field must not come back in an error.
	shown := s
	if len(shown) > 40 || strings.ContainsAny(shown, "0123456789") {
		shown = "this value"
	}
	f.errs.add(f.name(k), "%q is not a valid choice (%s).", shown, strings.Join(allowed, ", "))
	return def
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "str"
	case json.Number, float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return "null"
}
