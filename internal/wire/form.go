package wire

import (
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/logging"
)

// CheckForm applies the guard to a form body or a query string: every key
// and value must be UTF-8 text without a NUL; no key may be given twice,
// or in two cases ("token" and "Token"), unless rules.Repeat lists it; no
// key may hold a card number, nor any value except those of the fields
// rules.Card lists (exact names: a form's fields are read by them). Keys are checked in sorted order, so that the same
// form always gets the same answer.
func CheckForm(f url.Values, rules Rules) *Error {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var seen keySet
	for _, k := range keys {
		switch {
		case !utf8.ValidString(k):
			return bodyError(CodeInvalid, "The form must not have a field name that is not valid UTF-8 text.")
		case strings.IndexByte(k, 0) >= 0:
			return bodyError(CodeInvalid, "The form must not have a field name that holds a NUL character.")
		case logging.HasCardNumber(k):
			return bodyError(CodeInvalid, "The form must not have a field name that holds a card number.")
		}
		if _, dup := seen.add(k); dup { // distinct keys as sent: they differ in case
			return fieldError(CodeDuplicate, k, "is given more than once (field names that differ only in case are the same name)")
		}
		vs := f[k]
		if len(vs) > 1 && !listed(rules.Repeat, k) {
			return fieldError(CodeDuplicate, k, "is given more than once")
		}
		card := listed(rules.Card, k) || listed(rules.Opaque, k)
		for _, v := range vs {
			if e := checkText(k, v, card); e != nil {
				return e
			}
		}
	}
	return nil
}

// CheckText applies the guard to one value named path: a query parameter
// that is stored or echoed, say.
func CheckText(path, v string) *Error { return checkText(path, v, false) }

func checkText(path, v string, card bool) *Error {
	switch {
	case !utf8.ValidString(v):
		return fieldError(CodeInvalid, path, "must be valid UTF-8 text")
	case strings.IndexByte(v, 0) >= 0:
		return fieldError(CodeInvalid, path, "must not contain a NUL character")
	case !card && logging.HasCardNumber(v):
		return fieldError(CodeInvalid, path, "must not contain a card number")
	}
	return nil
}

// listed reports whether k is one of names, exactly: a form's fields are
// read by their exact names.
func listed(names []string, k string) bool { return slices.Contains(names, k) }
