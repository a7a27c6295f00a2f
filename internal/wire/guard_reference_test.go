package wire

// The guard as it was before it was made cheap (guard.go, json.go's
// DecodeJSON and CheckJSON, form.go's CheckForm at that time), kept
// verbatim but for names as the reference the differential tests hold the
// current guard to: the same bodies accepted, the same errors, byte for byte.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/logging"
)

func refDecodeJSON(body []byte, v any, rules Rules) *Error {
	if c, ok := v.(CardHolder); ok {
		rules.Card = append(slices.Clip(rules.Card), c.CardPaths()...)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if rules.Empty {
			return nil
		}
		return bodyError(CodeEmpty, "The request body must be a JSON object.")
	}
	s := refNewScanner(body, rules)
	if e := s.top(true); e != nil {
		return e
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if rules.Strict {
		dec.DisallowUnknownFields()
	}
	if rules.UseNumber {
		dec.UseNumber()
	}
	if err := dec.Decode(v); err != nil {
		return decodeError(err, body, reflect.TypeOf(v))
	}
	return s.found
}

func refCheckJSON(body []byte, rules Rules) *Error {
	s := refNewScanner(body, rules)
	if e := s.top(false); e != nil {
		return e
	}
	return s.found
}

func refCheckForm(f url.Values, rules Rules) *Error {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var seen refKeySet
	for _, k := range keys {
		switch {
		case !utf8.ValidString(k):
			return bodyError(CodeInvalid, "The form must not have a field name that is not valid UTF-8 text.")
		case strings.IndexByte(k, 0) >= 0:
			return bodyError(CodeInvalid, "The form must not have a field name that holds a NUL character.")
		case logging.HasCardNumber(k):
			return bodyError(CodeInvalid, "The form must not have a field name that holds a card number.")
		}
		if _, dup := seen.add(k); dup {
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

// The reference folds keys with fold (json.go), which this change left as
// it was.

// refStep is one level of a path: an object's key, or an array's index.
type refStep struct {
	key   string
	index int // -1 for a key
}

// refScanner is the guard's one pass over a JSON text. It checks the syntax
// as RFC 8259 gives it (what encoding/json accepts), decodes each string
// and key itself so that nothing is replaced behind its back, and keeps the
// path of the value it is in.
type refScanner struct {
	b     []byte
	i     int
	card  [][]string // Rules.Card, split into folded segments
	path  []refStep
	found *Error // the first card number found: reported after the type check
	buf   []byte
}

func refNewScanner(b []byte, r Rules) *refScanner {
	s := &refScanner{b: b}
	for _, p := range append(r.Card[:len(r.Card):len(r.Card)], r.Opaque...) {
		s.card = append(s.card, refPattern(p))
	}
	return s
}

// refPattern splits "cards[].number" into "CARDS", "[]", "NUMBER".
func refPattern(p string) []string {
	var segs []string
	for _, part := range strings.Split(p, ".") {
		n := 0
		for strings.HasSuffix(part, "[]") {
			part = strings.TrimSuffix(part, "[]")
			n++
		}
		if part != "" {
			segs = append(segs, fold(part))
		}
		for range n {
			segs = append(segs, "[]")
		}
	}
	return segs
}

// top checks one value and nothing after it; object requires an object.
func (s *refScanner) top(object bool) *Error {
	s.ws()
	if object && (s.i >= len(s.b) || s.b[s.i] != '{') {
		return bodyError(CodeSyntax, "The request body must be a JSON object.")
	}
	if e := s.value(0); e != nil {
		return e
	}
	s.ws()
	if s.i < len(s.b) {
		if object {
			return bodyError(CodeSyntax, "The request body must hold exactly one JSON object.")
		}
		return bodyError(CodeSyntax, "The JSON text must hold exactly one value.")
	}
	return nil
}

func (s *refScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *refScanner) syntax() *Error {
	if s.i >= len(s.b) {
		return bodyError(CodeSyntax, "The request body is truncated JSON.")
	}
	return bodyError(CodeSyntax, "The request body is not valid JSON (error at byte %d).", s.i)
}

func (s *refScanner) value(depth int) *Error {
	if depth > maxDepth {
		return bodyError(CodeSyntax, "The request body nests deeper than %d levels.", maxDepth)
	}
	s.ws()
	if s.i >= len(s.b) {
		return s.syntax()
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(depth)
	case c == '[':
		return s.array(depth)
	case c == '"':
		v, e := s.str(false)
		if e != nil {
			return e
		}
		if !s.atCard() && logging.HasCardNumber(v) {
			s.note(fieldError(CodeInvalid, s.at(), "must not contain a card number"))
		}
		return nil
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return s.syntax()
}

func (s *refScanner) literal(word string) *Error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		for k := 0; k < len(word) && s.i < len(s.b) && s.b[s.i] == word[k]; k++ {
			s.i++ // point at the byte that differs
		}
		return s.syntax()
	}
	s.i += len(word)
	return nil
}

// number checks a number's syntax; its text is checked like a string's.
func (s *refScanner) number() *Error {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return s.syntax()
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return s.syntax()
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return s.syntax()
		}
	}
	if !s.atCard() && logging.HasCardNumber(string(s.b[start:s.i])) {
		s.note(fieldError(CodeInvalid, s.at(), "must not contain a card number"))
	}
	return nil
}

func (s *refScanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

func (s *refScanner) object(depth int) *Error {
	s.i++ // {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	var seen refKeySet
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.syntax()
		}
		k, e := s.str(true)
		if e != nil {
			return e
		}
		if first, dup := seen.add(k); dup {
			s.path = append(s.path, refStep{key: k, index: -1})
			at := s.at()
			s.path = s.path[:len(s.path)-1]
			if first == k {
				return fieldError(CodeDuplicate, at, "is given more than once")
			}
			return fieldError(CodeDuplicate, at, "is given more than once (keys that differ only in case are the same key)")
		}
		if logging.HasCardNumber(k) {
			s.note(s.keyError("must not have a key that holds a card number"))
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.syntax()
		}
		s.i++
		s.path = append(s.path, refStep{key: k, index: -1})
		if e := s.value(depth + 1); e != nil {
			return e
		}
		s.path = s.path[:len(s.path)-1]
		if done, e := s.next('}'); done || e != nil {
			return e
		}
	}
}

func (s *refScanner) array(depth int) *Error {
	s.i++ // [
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		s.path = append(s.path, refStep{index: n})
		if e := s.value(depth + 1); e != nil {
			return e
		}
		s.path = s.path[:len(s.path)-1]
		if done, e := s.next(']'); done || e != nil {
			return e
		}
	}
}

// str decodes the string at s.i. A key's problems are named by the object
// that holds it: the key itself is not fit to echo.
func (s *refScanner) str(key bool) (string, *Error) {
	notUTF8 := func() *Error {
		if key {
			return s.keyError("must not have a key that is not valid UTF-8 text")
		}
		return fieldError(CodeInvalid, s.at(), "must be valid UTF-8 text")
	}
	nul := func() *Error {
		if key {
			return s.keyError("must not have a key that holds a NUL character")
		}
		return fieldError(CodeInvalid, s.at(), "must not contain a NUL character")
	}
	s.i++ // "
	buf := s.buf[:0]
	defer func() { s.buf = buf }()
	for {
		if s.i >= len(s.b) {
			return "", s.syntax()
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return string(buf), nil
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return "", s.syntax()
			}
			switch e := s.b[s.i]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := s.hex4(s.i + 1)
				if !ok {
					return "", s.syntax()
				}
				s.i += 4
				switch {
				case r == 0:
					return "", nul()
				case r >= 0xD800 && r < 0xDC00:
					lo, ok := rune(0), false
					if s.i+2 < len(s.b) && s.b[s.i+1] == '\\' && s.b[s.i+2] == 'u' {
						lo, ok = s.hex4(s.i + 3)
					}
					if !ok || lo < 0xDC00 || lo >= 0xE000 {
						return "", notUTF8()
					}
					s.i += 6
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				case r >= 0xDC00 && r < 0xE000:
					return "", notUTF8()
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", s.syntax()
			}
			s.i++
		case c == 0:
			return "", nul()
		case c < 0x20:
			return "", s.syntax()
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n == 1 {
				return "", notUTF8()
			}
			buf = append(buf, s.b[s.i:s.i+n]...)
			s.i += n
		}
	}
}

// hex4 reads the four hex digits of a \u escape at b[at:].
func (s *refScanner) hex4(at int) (rune, bool) {
	if at+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// keyError names the object holding a bad key ("metadata"), or the body.
func (s *refScanner) keyError(what string) *Error {
	if p := s.at(); p != "" {
		return fieldError(CodeInvalid, p, "%s", what)
	}
	return bodyError(CodeInvalid, "The request body %s.", what)
}

func (s *refScanner) note(e *Error) {
	if s.found == nil {
		s.found = e
	}
}

// at renders the current path: "cards[3].number".
func (s *refScanner) at() string {
	var b strings.Builder
	for _, st := range s.path {
		if st.index >= 0 {
			b.WriteString("[" + strconv.Itoa(st.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(st.key)
	}
	return b.String()
}

// atCard reports whether the current path is one Rules.Card declares.
func (s *refScanner) atCard() bool {
	for _, p := range s.card {
		if len(p) != len(s.path) {
			continue
		}
		match := true
		for k, seg := range p {
			st := s.path[k]
			if seg == "[]" {
				match = st.index >= 0
			} else {
				match = st.index < 0 && fold(st.key) == seg
			}
			if !match {
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// refKeySet remembers an object's keys by their fold: a slice while small, a
// map once an object has many keys.
type refKeySet struct {
	small []refFoldedKey
	big   map[string]string
}

type refFoldedKey struct{ refFold, key string }

// add records k; dup is set when a key of the same fold was seen, first
// being that key as sent.
func (ks *refKeySet) add(k string) (first string, dup bool) {
	f := fold(k)
	if ks.big != nil {
		if first, ok := ks.big[f]; ok {
			return first, true
		}
		ks.big[f] = k
		return "", false
	}
	for _, fk := range ks.small {
		if fk.refFold == f {
			return fk.key, true
		}
	}
	ks.small = append(ks.small, refFoldedKey{f, k})
	if len(ks.small) > 16 {
		ks.big = make(map[string]string, 2*len(ks.small))
		for _, fk := range ks.small {
			ks.big[fk.refFold] = fk.key
		}
		ks.small = nil
	}
	return "", false
}

// next reads what follows a member of an object or an array: a comma (more
// to come) or its closing byte (done).
func (s *refScanner) next(closing byte) (done bool, e *Error) {
	s.ws()
	switch {
	case s.i >= len(s.b):
		return false, s.syntax()
	case s.b[s.i] == ',':
		s.i++
		return false, nil
	case s.b[s.i] == closing:
		s.i++
		return true, nil
	}
	return false, s.syntax()
}

// The differential tests: the guard against the reference above, on
// generated bodies, on the fuzz seeds and on whatever the fuzzer finds.

// refRules are the rules the bodies are checked under: declared paths of
// every shape pattern reads, folds that are not ASCII, opaque paths.
var refRules = []Rules{
	{},
	cardRules,
	{Card: []string{"card.number", "cards[].number"}, Opaque: []string{"metadata.sig"}},
	{Card: []string{"[].n", "[][]", "a[]", "", "a..b", ".k."}},
	{Card: []string{"K.ſ", "\u212a", "ka[]y[].number"}, Opaque: []string{"x[]y", "ß.é"}},
	{Card: []string{"a\xffb", "CARDS[][].NUMBER", "Metadata.Key"}},
}

// refKeys are keys that collide by fold in every way encoding/json folds.
var refKeys = []string{
	"number", "Number", "NUMBER", `n\u0075mber`, `\u004eumber`, "card", "cards", "Card", "k", "K",
	`\u212a`, "\u212a", "s", "S", "ſ", `\u017f`, "ß", "ẞ", "é", "É", `\u00e9`, "a", "A", "b", "n",
	"metadata", "sig", "key", "Key", "kay", "y", "x", "x[]y", "", "ka", "é.", `a\"b`, `\/`, `\n`,
	"4242424242424242", `\u0034242424242424242`, "4242 4242 4242 4242", "a\u0000", `a\u0000`,
	`\ud83d\ude00`, "😀", `\ud800`, "\xff", "\xed\xa0\x80", "phone", "cvc", "CVC", "σ", "Σ", "ς",
}

// refStrings are values: card numbers (as sent and escaped), near misses,
// and what str must refuse.
var refStrings = []string{
	"", "x", "4242424242424242", "4242 4242 4242 4242", `4242\u0034242424242424`, "+60 12-345 6789",
	"4000 0566 5566 5556", "order 000000000000", "2026-12-08T03:03:43.123Z", "4242424242424241",
	`\u0000`, "\x00", `\ud800`, `\udc00`, `\ud800\u0041`, `\ud83d\ude00`, "\xff", "a\nb", `\x`, `\u12`,
	`\"\\\/\b\f\n\r\t`, "é\u00a0", "4242\u2009424242424242", "4111111111111111 and 5555555555554444",
	strings.Repeat("ab", 40) + "4242424242424242", `\u0034\u0032\u0034\u0032424242424242`,
}

var refNumbers = []string{
	"0", "-0", "12", "4242424242424242", "-4242424242424242", "4242424242424242.5", "1e700", "0.5e+10",
	"1.23456789012e5", "42424242424242424242", "01", "1.", "-", "1e", "2E-3", "4242424242424242e0",
}

// refGen writes a random JSON-ish value, mostly well formed: from all of
// refKeys, refStrings and refNumbers, or (shaped) from the keys of the
// declared paths, where card numbers are more often found.
func refGen(r *rand.Rand, b []byte, depth int, shaped bool) []byte {
	k := r.IntN(10)
	if depth > 6 {
		k = 5 + r.IntN(5)
	}
	switch {
	case depth > 0 && r.IntN(200) == 0:
		return append(b, strings.Repeat("[", 101)...) // too deep
	case k < 3:
		b = append(b, '{')
		n := r.IntN(5)
		big := r.IntN(12) == 0
		if big {
			n = 14 + r.IntN(10) // past smallObject
		}
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			b = refWS(r, b)
			b = append(b, '"')
			switch {
			case big && i == n-1 && r.IntN(2) == 0:
				// Most often the same key as an earlier one but for case.
				b = append(b, []string{"k", "K", `\u006b`, `\u212a`}[r.IntN(4)]...)
				j := r.IntN(n)
				if r.IntN(2) == 0 {
					j = max(0, n-2-r.IntN(4)) // among those indexed by hash
				}
				b = strconv.AppendInt(b, int64(j), 10)
			case big && r.IntN(4) > 0:
				b = append(b, "kK"[r.IntN(2)])
				b = strconv.AppendInt(b, int64(i), 10)
			case shaped:
				b = append(b, refShapeKeys[r.IntN(len(refShapeKeys))]...)
			case r.IntN(8) == 0:
				b = refPAN(r, b)
			default:
				b = append(b, refKeys[r.IntN(len(refKeys))]...)
			}
			b = append(b, '"')
			b = refWS(r, b)
			b = append(b, ':')
			if big && r.IntN(4) > 0 {
				b = append(b, '1') // for the keys after smallObject to be read
				continue
			}
			b = refGen(r, b, depth+1, shaped)
		}
		return append(refWS(r, b), '}')
	case k < 5:
		b = append(b, '[')
		for i := range r.IntN(4) {
			if i > 0 {
				b = append(b, ',')
			}
			b = refGen(r, b, depth+1, shaped)
		}
		return append(b, ']')
	case k < 8:
		b = append(b, '"')
		if shaped || r.IntN(3) == 0 {
			b = refPAN(r, b)
		} else {
			b = append(b, refStrings[r.IntN(len(refStrings))]...)
		}
		return append(b, '"')
	case k < 9:
		if r.IntN(2) == 0 {
			d := refPANDigits(r)
			if r.IntN(2) == 0 { // a fraction, an exponent
				i := 1 + r.IntN(len(d)-1)
				d = d[:i] + "." + d[i:] + []string{"", "e5", "E-1", "e+22"}[r.IntN(4)]
			}
			return append(b, d...)
		}
		return append(b, refNumbers[r.IntN(len(refNumbers))]...)
	}
	return append(b, []string{"true", "false", "null", "nul", "tru"}[r.IntN(5)]...)
}

// refPath writes a body that holds a card number at one of refRules'
// paths, its keys in other cases or escaped, or at a path one step longer
// or shorter, beside other members.
func refPath(r *rand.Rand) []byte {
	var paths []string
	for _, rules := range refRules {
		paths = append(paths, rules.Card...)
		paths = append(paths, rules.Opaque...)
	}
	var segs []string
	for part := range strings.SplitSeq(paths[r.IntN(len(paths))], ".") {
		n := 0
		for strings.HasSuffix(part, "[]") {
			part = strings.TrimSuffix(part, "[]")
			n++
		}
		if part != "" {
			segs = append(segs, part)
		}
		for range n {
			segs = append(segs, "[]")
		}
	}
	switch r.IntN(4) {
	case 0:
		segs = append(segs, []string{"[]", "x", "number"}[r.IntN(3)])
	case 1:
		if len(segs) > 0 {
			segs = segs[:len(segs)-1]
		}
	}
	var b []byte
	for _, seg := range segs {
		if seg == "[]" {
			b = append(b, '[')
			if r.IntN(2) == 0 {
				b = refGen(r, b, 5, true)
				b = append(b, ',')
			}
			continue
		}
		b = append(b, '{')
		if r.IntN(2) == 0 {
			b = append(b, `"z":`...)
			b = refGen(r, b, 5, true)
			b = append(b, ',')
		}
		b = append(b, '"')
		for _, c := range seg {
			switch {
			case r.IntN(4) == 0:
				b = fmt.Appendf(b, `\u%04x`, unicode.SimpleFold(c))
			case r.IntN(3) == 0:
				b = utf8.AppendRune(b, unicode.SimpleFold(c))
			case c == '"' || c == '\\' || c < 0x20:
				b = fmt.Appendf(b, `\u%04x`, c)
			default:
				b = utf8.AppendRune(b, c)
			}
		}
		b = append(b, `":`...)
	}
	if r.IntN(2) == 0 {
		b = append(b, '"')
		b = refPAN(r, b)
		b = append(b, '"')
	} else {
		b = append(b, refPANDigits(r)...)
	}
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i] == "[]" {
			b = append(b, ']')
		} else {
			b = append(b, '}')
		}
	}
	if len(segs) == 0 || segs[0] == "[]" {
		b = append([]byte(`{"a":`), append(b, '}')...)
	}
	return b
}

// refShapeKeys are the segments of refRules' paths, in other cases and
// escaped, and a few others.
var refShapeKeys = []string{"card", "Card", "cards", "CARDS", "number", "Number", `number`, `NUMBER`,
	"k", "K", "K", `K`, "ka", "y", "x", "ſ", "s", "S", "metadata", "Metadata", "sig", "key", "Key",
	"a", "b", "n", "N", "ß", "é", "É", "x[]y", "", "cvc", "z"}

// refPANDigits is a run of 11 to 19 digits, which passes Luhn most often,
// with a card brand's prefix most often.
func refPANDigits(r *rand.Rand) string {
	p := []string{"4", "51", "34", "37", "6011", "62", "5018", "60", "000", "1", "35"}[r.IntN(11)]
	n := 11 + r.IntN(9)
	if r.IntN(3) == 0 {
		n = 12 // the fewest digits that can be a card number
	}
	for len(p) < n-1 {
		p += string(rune('0' + r.IntN(10)))
	}
	if r.IntN(4) > 0 {
		return card.CompleteLuhn(p)
	}
	return p + string(rune('0'+r.IntN(10)))
}

// refPAN appends the text of a string that holds refPANDigits, maybe in
// groups, maybe with some digits escaped, maybe among other text.
func refPAN(r *rand.Rand, b []byte) []byte {
	seps := []string{" ", "-", ".", "_", "\t", "\u2009", "\u00a0", " ", " - ", "    ", ":", "/"}
	if r.IntN(4) == 0 {
		b = append(b, []string{"x ", "+", "é", "2026-12-08 ", `\n`}[r.IntN(5)]...)
	}
	sep := seps[r.IntN(len(seps))]
	for i, c := range []byte(refPANDigits(r)) {
		if i > 0 && i%4 == 0 && r.IntN(2) == 0 {
			b = append(b, sep...)
		}
		if r.IntN(6) == 0 {
			b = fmt.Appendf(b, `\u00%x`, c)
		} else {
			b = append(b, c)
		}
	}
	if r.IntN(4) == 0 {
		b = append(b, []string{" x", "0", "é", `\u0000`}[r.IntN(4)]...)
	}
	return b
}

func refWS(r *rand.Rand, b []byte) []byte {
	if r.IntN(4) == 0 {
		return append(b, " \t\n\r"[r.IntN(4)])
	}
	return b
}

// refMutate breaks a body a little: a byte dropped, replaced or added, or
// the body cut short.
func refMutate(r *rand.Rand, b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	const bytes = "{}[],:\"\\u0123456789abcdefAEKk \x00\x1f\x7f\x80\xc3\xa9\xe2\x84\xaa\xff"
	i := r.IntN(len(b))
	switch r.IntN(4) {
	case 0:
		return append(b[:i:i], b[i+1:]...)
	case 1:
		b[i] = bytes[r.IntN(len(bytes))]
		return b
	case 2:
		return append(b[:i:i], append([]byte{bytes[r.IntN(len(bytes))]}, b[i:]...)...)
	}
	return b[:i]
}

// refCard is a CardHolder, for the paths a type declares.
type refCard struct {
	body
	K string `json:"k"`
}

func (*refCard) CardPaths() []string { return []string{"k", "cards[].cvc"} }

// sameError compares two answers of DecodeJSON. An unknown field's path
// is not compared when the field's name is in the body more than once:
// unknownFieldPath walks a decoded map, in no fixed order, and names
// whichever it meets first, in the reference as now.
func sameError(got, want *Error) bool {
	if got != nil && want != nil && got.Code == CodeUnknown && want.Code == CodeUnknown && got.Param != want.Param {
		g, w := *got, *want
		g.Param, w.Param = "", ""
		return g == w
	}
	return reflect.DeepEqual(got, want)
}

// sameAsReference fails t when the guard and the reference answer b
// differently, under each of refRules and into several targets.
func sameAsReference(t *testing.T, b []byte) {
	t.Helper()
	for _, rules := range refRules {
		if got, want := CheckJSON(b, rules), refCheckJSON(b, rules); !reflect.DeepEqual(got, want) {
			t.Fatalf("CheckJSON(%q, %q):\n got %+v\nwant %+v", b, rules.Card, got, want)
		}
	}
	for _, rules := range refRules[:3] {
		var v1, v2 body
		if got, want := DecodeJSON(b, &v1, rules), refDecodeJSON(b, &v2, rules); !sameError(got, want) || !reflect.DeepEqual(v1, v2) {
			t.Fatalf("DecodeJSON(%q, %q):\n got %+v %+v\nwant %+v %+v", b, rules.Card, got, v1, want, v2)
		}
	}
	var h1, h2 refCard
	if got, want := DecodeJSON(b, &h1, Rules{Card: []string{"card.number"}}), refDecodeJSON(b, &h2, Rules{Card: []string{"card.number"}}); !sameError(got, want) || !reflect.DeepEqual(h1, h2) {
		t.Fatalf("DecodeJSON(%q) into a CardHolder:\n got %+v\nwant %+v", b, got, want)
	}
	var m1, m2 map[string]any
	if got, want := DecodeJSON(b, &m1, Rules{UseNumber: true}), refDecodeJSON(b, &m2, Rules{UseNumber: true}); !reflect.DeepEqual(got, want) || !reflect.DeepEqual(m1, m2) {
		t.Fatalf("DecodeJSON(%q) into a map:\n got %+v\nwant %+v", b, got, want)
	}
}

// TestGuardMatchesReference holds the guard to the reference on generated
// bodies, well formed and broken, and on the fuzz seeds.
func TestGuardMatchesReference(t *testing.T) {
	for _, s := range fuzzSeeds {
		sameAsReference(t, []byte(s))
	}
	r := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	refused := 0
	for range n {
		var b []byte
		if r.IntN(4) == 0 {
			b = refPath(r)
		} else {
			b = refGen(r, nil, 0, r.IntN(2) == 0)
		}
		if r.IntN(3) == 0 {
			b = refMutate(r, b)
		}
		if r.IntN(10) == 0 {
			b = append([]byte(`{"a":`), append(b, '}')...)
		}
		sameAsReference(t, b)
		if CheckJSON(b, Rules{}) != nil {
			refused++
		}
	}
	// Both kinds must be common for the comparison to mean anything.
	if refused < n/10 || refused > n*9/10 {
		t.Errorf("%d of %d bodies refused", refused, n)
	}
}

// FuzzGuardMatchesReference: the guard answers every body as the reference
// does.
func FuzzGuardMatchesReference(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		f.Add(refGen(r, nil, 0, r.IntN(2) == 0))
		f.Add(refPath(r))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sameAsReference(t, b)
	})
}

// TestCheckFormMatchesReference: the form guard's duplicate check, by
// hash, answers as the reference's, by fold, on forms with keys of one
// fold and with many keys.
func TestCheckFormMatchesReference(t *testing.T) {
	names := []string{"token", "Token", "TOKEN", "k", "K", "\u212a", "s", "ſ", "S", "ß", "ẞ", "é", "É",
		"σ", "Σ", "ς", "pg_codes", "cc_number", "a\xff", "a\x00", "4242424242424242", "x", "y"}
	r := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		f := url.Values{}
		for range r.IntN(6) {
			k := names[r.IntN(len(names))]
			f[k] = append(f[k], refStrings[r.IntN(3)])
		}
		if r.IntN(4) == 0 {
			for range 10 + r.IntN(20) {
				f.Set(fmt.Sprintf("f%d", r.IntN(40)), "v")
			}
		}
		for _, rules := range []Rules{{}, {Card: []string{"cc_number"}, Repeat: []string{"pg_codes"}}} {
			if got, want := CheckForm(f, rules), refCheckForm(f, rules); !reflect.DeepEqual(got, want) {
				t.Fatalf("CheckForm(%q):\n got %+v\nwant %+v", f, got, want)
			}
		}
	}
}

// TestFoldFunctions: the fold comparisons and hashes agree with fold on
// every pair of a set of texts that fold in all the ways there are.
func TestFoldFunctions(t *testing.T) {
	texts := []string{"", "a", "A", "k", "K", "\u212a", "s", "S", "ſ", "ß", "ẞ", "σ", "Σ", "ς", "é", "É",
		"number", "NUMBER", "nUmBeR", "ǅ", "ǆ", "Ǆ", "ı", "İ", "i", "I", "a\xffb", "a\ufffdb", "ΐ", "ΐ", "ꭰ", "Ꭰ"}
	for _, x := range texts {
		for _, y := range texts {
			want := fold(x) == fold(y)
			if got := foldEqualStrings(x, y); got != want {
				t.Errorf("foldEqualStrings(%q, %q) = %v", x, y, got)
			}
			if got := foldHashString(x) == foldHashString(y); got != want {
				t.Errorf("foldHashString(%q) == foldHashString(%q) is %v", x, y, got)
			}
			if !utf8.ValidString(x) {
				continue // not a key: str refuses it
			}
			bx, _ := json.Marshal(x)
			b := append(bx, ' ')
			by := []byte(strconv.QuoteToASCII(y)) // escapes all that is not ASCII
			b = append(b, by...)
			sx := span{start: 1, end: len(bx) - 1, esc: bytes.IndexByte(bx, '\\') >= 0}
			sy := span{start: len(bx) + 2, end: len(b) - 1, esc: bytes.IndexByte(by, '\\') >= 0}
			if !utf8.ValidString(y) {
				if got := foldEqualString(b, sx, y); got != want {
					t.Errorf("foldEqualString(%q, %q) = %v", x, y, got)
				}
				continue
			}
			if got := foldEqual(b, sx, sy); got != want {
				t.Errorf("foldEqual(%s, %s) = %v", bx, by, got)
			}
			if got := foldEqualString(b, sy, x); got != want {
				t.Errorf("foldEqualString(%s, %q) = %v", by, x, got)
			}
			if got := string(appendFold(nil, b, sy)); got != fold(y) {
				t.Errorf("appendFold(%s) = %q, want %q", by, got, fold(y))
			}
			if want && firstFold(b, sx) != firstFold(b, sy) {
				t.Errorf("firstFold(%s) != firstFold(%s)", bx, by)
			}
			if got := sameText(b, sx, sy); got != (x == y) {
				t.Errorf("sameText(%s, %s) = %v", bx, by, got)
			}
		}
	}
}

// TestGuardConcurrent: scanners come from a pool; calls at once on
// different bodies answer as the reference does (run with -race).
func TestGuardConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	bodies := make([][]byte, 200)
	for i := range bodies {
		bodies[i] = refGen(r, nil, 0, i%2 == 0)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range bodies {
				b := bodies[(i+w*50)%len(bodies)]
				rules := refRules[(i+w)%len(refRules)]
				if got, want := CheckJSON(b, rules), refCheckJSON(b, rules); !reflect.DeepEqual(got, want) {
					t.Errorf("CheckJSON(%q): got %+v, want %+v", b, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
