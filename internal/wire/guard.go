package wire

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/logging"
)

// step is one level of a path: an object's key, or an array's index.
type step struct {
	key   string
	index int // -1 for a key
}

// scanner is the guard's one pass over a JSON text. It checks the syntax
// as RFC 8259 gives it (what encoding/json accepts), decodes each string
// and key itself so that nothing is replaced behind its back, and keeps the
// path of the value it is in.
type scanner struct {
	b     []byte
	i     int
	card  [][]string // Rules.Card, split into folded segments
	path  []step
	found *Error // the first card number found: reported after the type check
	buf   []byte
}

func newScanner(b []byte, r Rules) *scanner {
	s := &scanner{b: b}
	for _, p := range append(r.Card[:len(r.Card):len(r.Card)], r.Opaque...) {
		s.card = append(s.card, pattern(p))
	}
	return s
}

// pattern splits "cards[].number" into "CARDS", "[]", "NUMBER".
func pattern(p string) []string {
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
func (s *scanner) top(object bool) *Error {
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

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) syntax() *Error {
	if s.i >= len(s.b) {
		return bodyError(CodeSyntax, "The request body is truncated JSON.")
	}
	return bodyError(CodeSyntax, "The request body is not valid JSON (error at byte %d).", s.i)
}

func (s *scanner) value(depth int) *Error {
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

func (s *scanner) literal(word string) *Error {
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
func (s *scanner) number() *Error {
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

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

func (s *scanner) object(depth int) *Error {
	s.i++ // {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	var seen keySet
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
			s.path = append(s.path, step{key: k, index: -1})
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
		s.path = append(s.path, step{key: k, index: -1})
		if e := s.value(depth + 1); e != nil {
			return e
		}
		s.path = s.path[:len(s.path)-1]
		if done, e := s.next('}'); done || e != nil {
			return e
		}
	}
}

func (s *scanner) array(depth int) *Error {
	s.i++ // [
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		s.path = append(s.path, step{index: n})
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
func (s *scanner) str(key bool) (string, *Error) {
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
func (s *scanner) hex4(at int) (rune, bool) {
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
func (s *scanner) keyError(what string) *Error {
	if p := s.at(); p != "" {
		return fieldError(CodeInvalid, p, "%s", what)
	}
	return bodyError(CodeInvalid, "The request body %s.", what)
}

func (s *scanner) note(e *Error) {
	if s.found == nil {
		s.found = e
	}
}

// at renders the current path: "cards[3].number".
func (s *scanner) at() string {
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
func (s *scanner) atCard() bool {
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

// keySet remembers an object's keys by their fold: a slice while small, a
// map once an object has many keys.
type keySet struct {
	small []foldedKey
	big   map[string]string
}

type foldedKey struct{ fold, key string }

// add records k; dup is set when a key of the same fold was seen, first
// being that key as sent.
func (ks *keySet) add(k string) (first string, dup bool) {
	f := fold(k)
	if ks.big != nil {
		if first, ok := ks.big[f]; ok {
			return first, true
		}
		ks.big[f] = k
		return "", false
	}
	for _, fk := range ks.small {
		if fk.fold == f {
			return fk.key, true
		}
	}
	ks.small = append(ks.small, foldedKey{f, k})
	if len(ks.small) > 16 {
		ks.big = make(map[string]string, 2*len(ks.small))
		for _, fk := range ks.small {
			ks.big[fk.fold] = fk.key
		}
		ks.small = nil
	}
	return "", false
}

// next reads what follows a member of an object or an array: a comma (more
// to come) or its closing byte (done).
func (s *scanner) next(closing byte) (done bool, e *Error) {
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
