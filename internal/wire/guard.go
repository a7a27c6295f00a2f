package wire

import (
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/logging"
)

// The guard runs on every JSON request body, so it is written not to
// allocate on a body it passes: keys stay where they are in the body
// (spans) and are decoded, folded or rendered only when compared or named
// in an error, and the scanner's state comes from a pool.

// span is a string of the body as sent: the bytes between its quotes,
// b[start:end]. esc is set when they hold an escape; without one they are
// the text itself. A span has passed str, so its escapes and UTF-8 are
// valid.
type span struct {
	start, end int
	esc        bool
}

// step is one level of a path: an object's key, or an array's index.
type step struct {
	key   span
	index int // -1 for a key
}

// keyEntry is a key of an object being scanned, with its sig; next chains
// the keys of one hash once the object has a hash index.
type keyEntry struct {
	sig  uint64
	key  span
	next int
}

// smallObject is how many keys an object's duplicate check compares one by
// one before it indexes them by hash.
const smallObject = 16

// sig packs what two keys of one fold have in common and a cheap test can
// compare: their length in runes (a fold maps each rune to one rune) and
// their first rune's fold.
func sig(runes int, first rune) uint64 { return uint64(runes)<<32 | uint64(first) }

// foldSeed seeds the hashes of the keys of large objects, so that no
// client can choose keys that all fall on one hash, as it seeds Go's maps.
var foldSeed = maphash.MakeSeed()

// scanner is the guard's one pass over a JSON text. It checks the syntax
// as RFC 8259 gives it (what encoding/json accepts), reads each string and
// key itself so that nothing is replaced behind its back, and keeps the
// path of the value it is in.
type scanner struct {
	b     []byte
	i     int
	paths [3][]string // Rules.Card, Rules.Opaque, a CardHolder's paths
	path  []step
	keys  []keyEntry // the keys of the open objects, the innermost last
	high  int        // the most keys held at once, to clear on release
	found *Error     // the first card number found: reported after the type check
}

var scanners = sync.Pool{New: func() any { return new(scanner) }}

// guard runs the scanner over b; object requires an object. more are card
// paths beside rules.Card (a CardHolder's). e is a refusal; found, a card
// number where none belongs, which DecodeJSON reports after the type check.
func guard(b []byte, object bool, rules Rules, more []string) (found, e *Error) {
	s := scanners.Get().(*scanner)
	s.b, s.i = b, 0
	s.paths = [3][]string{rules.Card, rules.Opaque, more}
	e = s.top(object)
	found = s.found
	s.release()
	return found, e
}

// release returns s to the pool holding nothing of the body: no reference
// to it, no trace of its keys. A key list grown by an unusual body is
// dropped rather than kept for every later one. (The path is bounded by
// maxDepth.)
func (s *scanner) release() {
	keys := s.keys[:0]
	if cap(keys) > maxPooledKeys {
		keys = nil
	} else {
		clear(s.keys[:s.high])
	}
	*s = scanner{path: s.path[:0], keys: keys}
	scanners.Put(s)
}

const maxPooledKeys = 1024

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
		v, digits, _, e := s.str(false)
		if e != nil {
			return e
		}
		// Too few digits is the common case, and no card number to
		// HasCardNumber, which looks for 12 at least.
		if digits >= minRun && s.found == nil && !s.atCard() && s.hasCardNumber(v) {
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
	n := 0 // digits
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
		n++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		n += s.digits()
	default:
		return s.syntax()
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		d := s.digits()
		if d == 0 {
			return s.syntax()
		}
		n += d
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		d := s.digits()
		if d == 0 {
			return s.syntax()
		}
		n += d
	}
	if n >= minRun && s.found == nil && !s.atCard() && logging.HasCardNumber(string(s.b[start:s.i])) {
		s.note(fieldError(CodeInvalid, s.at(), "must not contain a card number"))
	}
	return nil
}

// digits reads a run of digits and says how long it was.
func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

func (s *scanner) object(depth int) *Error {
	s.i++ // {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	base := len(s.keys) // this object's keys are s.keys[base:]
	// index maps the hash of a fold to the last of this object's keys with
	// it, once the object has more than smallObject keys.
	var index map[uint64]int
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.syntax()
		}
		k, digits, runes, e := s.str(true)
		if e != nil {
			return e
		}
		ks, h := sig(runes, firstFold(s.b, k)), uint64(0)
		if index != nil {
			h = s.foldHash(k)
		}
		if first := s.seen(base, index, ks, h, k); first >= 0 {
			s.path = append(s.path, step{key: k, index: -1})
			at := s.at()
			s.path = s.path[:len(s.path)-1]
			if sameText(s.b, s.keys[first].key, k) {
				return fieldError(CodeDuplicate, at, "is given more than once")
			}
			return fieldError(CodeDuplicate, at, "is given more than once (keys that differ only in case are the same key)")
		}
		// Field by field: a copy of the whole entry is slower, through the
		// stack.
		if len(s.keys) == cap(s.keys) {
			s.keys = append(s.keys, keyEntry{})[:len(s.keys)]
		}
		s.keys = s.keys[:len(s.keys)+1]
		ke := &s.keys[len(s.keys)-1]
		ke.sig, ke.key.start, ke.key.end, ke.key.esc, ke.next = ks, k.start, k.end, k.esc, -1
		s.high = max(s.high, len(s.keys))
		switch n := len(s.keys) - base; {
		case index != nil:
			s.indexKey(index, len(s.keys)-1, h)
		case n > smallObject:
			index = make(map[uint64]int, 2*n)
			for j := base; j < len(s.keys); j++ {
				s.indexKey(index, j, s.foldHash(s.keys[j].key))
			}
		}
		if digits >= minRun && s.found == nil && s.hasCardNumber(k) {
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
			s.keys = s.keys[:base]
			return e
		}
	}
}

// seen returns the index in s.keys of the key of the open object (its keys
// from base on) whose fold is k's, or -1. ks is k's sig; h, the hash of its
// fold once the object has an index.
func (s *scanner) seen(base int, index map[uint64]int, ks, h uint64, k span) int {
	if index != nil {
		j, ok := index[h]
		for ; ok && j >= 0; j = s.keys[j].next {
			if foldEqual(s.b, s.keys[j].key, k) {
				return j
			}
		}
		return -1
	}
	for j := base; j < len(s.keys); j++ {
		if s.keys[j].sig == ks && foldEqual(s.b, s.keys[j].key, k) {
			return j
		}
	}
	return -1
}

// indexKey adds s.keys[j], of hash h, to index, chained to the keys of
// that hash.
func (s *scanner) indexKey(index map[uint64]int, j int, h uint64) {
	if prev, ok := index[h]; ok {
		s.keys[j].next = prev
	}
	index[h] = j
}

// foldHash hashes the fold of a key.
func (s *scanner) foldHash(k span) uint64 {
	var buf [64]byte
	return maphash.Bytes(foldSeed, appendFold(buf[:0], s.b, k))
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

// str reads the string at s.i, checking what it decodes to, and returns
// where it is, and how many ASCII digits and runes it decodes to. A key's
// problems are named by the object that holds it: the key itself is not
// fit to echo.
func (s *scanner) str(key bool) (v span, digits, runes int, e *Error) {
	b := s.b
	i := s.i + 1 // "
	v.start = i
	extra := 0 // bytes beyond one a rune: of escapes and UTF-8 sequences
	for {
		// The common bytes: printable ASCII, no quote or escape.
		for i < len(b) {
			k := plain[b[i]]
			if k == stop {
				break
			}
			digits += int(k)
			i++
		}
		if i >= len(b) {
			s.i = i
			return v, 0, 0, s.syntax()
		}
		switch c := b[i]; {
		case c == '"':
			v.end = i
			s.i = i + 1
			return v, digits, i - v.start - extra, nil
		case c == '\\':
			v.esc = true
			i++
			if i >= len(b) {
				s.i = i
				return v, 0, 0, s.syntax()
			}
			extra++
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				s.i = i
				r, ok := s.hex4(i + 1)
				if !ok {
					return v, 0, 0, s.syntax()
				}
				i += 4
				extra += 4
				switch {
				case r == 0:
					return v, 0, 0, s.strError(key, false)
				case r >= '0' && r <= '9':
					digits++
				case r >= 0xD800 && r < 0xDC00:
					lo, ok := rune(0), false
					if i+2 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
						lo, ok = s.hex4(i + 3)
					}
					if !ok || lo < 0xDC00 || lo >= 0xE000 {
						return v, 0, 0, s.strError(key, true)
					}
					i += 6
					extra += 6
				case r >= 0xDC00 && r < 0xE000:
					return v, 0, 0, s.strError(key, true)
				}
			default:
				s.i = i
				return v, 0, 0, s.syntax()
			}
			i++
		case c == 0:
			s.i = i
			return v, 0, 0, s.strError(key, false)
		case c < 0x20:
			s.i = i
			return v, 0, 0, s.syntax()
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				s.i = i
				return v, 0, 0, s.strError(key, true)
			}
			i += n
			extra += n - 1
		}
	}
}

// plain classes the bytes of a string for str's fast loop: a digit (1),
// printable ASCII but a quote or backslash (0), or any other byte, which
// the loop stops at.
var plain = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf:
			t[c] = stop
		case c >= '0' && c <= '9':
			t[c] = 1
		}
	}
	return t
}()

const stop = 2

// strError is a string's invalid UTF-8 (notUTF8) or NUL.
func (s *scanner) strError(key, notUTF8 bool) *Error {
	switch {
	case key && notUTF8:
		return s.keyError("must not have a key that is not valid UTF-8 text")
	case key:
		return s.keyError("must not have a key that holds a NUL character")
	case notUTF8:
		return fieldError(CodeInvalid, s.at(), "must be valid UTF-8 text")
	}
	return fieldError(CodeInvalid, s.at(), "must not contain a NUL character")
}

// hex4 reads the four hex digits of a \u escape at b[at:].
func (s *scanner) hex4(at int) (rune, bool) {
	if at+4 > len(s.b) {
		return 0, false
	}
	return hex4(s.b[at : at+4])
}

func hex4(h []byte) (rune, bool) {
	var r rune
	for _, c := range h {
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

// hasCardNumber is logging.HasCardNumber of what v decodes to.
// HasCardNumber keeps nothing of its argument, so a short text converted
// in the call stays on the stack.
func (s *scanner) hasCardNumber(v span) bool {
	if !v.esc {
		return logging.HasCardNumber(string(s.b[v.start:v.end]))
	}
	var buf [64]byte
	return logging.HasCardNumber(string(appendText(buf[:0], s.b, v)))
}

// appendText appends what v decodes to.
func appendText(dst, b []byte, v span) []byte {
	if !v.esc {
		return append(dst, b[v.start:v.end]...)
	}
	for i := v.start; i < v.end; {
		var r rune
		r, i = textRune(b, i)
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// textRune decodes the rune at b[i] of a span, an escape included, and
// returns it with the index past it.
func textRune(b []byte, i int) (rune, int) {
	c := b[i]
	if c != '\\' {
		if c < utf8.RuneSelf {
			return rune(c), i + 1
		}
		r, n := utf8.DecodeRune(b[i:])
		return r, i + n
	}
	switch c := b[i+1]; c {
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u':
		r, _ := hex4(b[i+2 : i+6])
		if r >= 0xD800 && r < 0xDC00 {
			lo, _ := hex4(b[i+8 : i+12])
			return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), i + 12
		}
		return r, i + 6
	default: // '"', '\\', '/'
		return rune(c), i + 2
	}
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
	var b []byte
	for _, st := range s.path {
		if st.index >= 0 {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(st.index), 10)
			b = append(b, ']')
			continue
		}
		if len(b) > 0 {
			b = append(b, '.')
		}
		b = appendText(b, s.b, st.key)
	}
	return string(b)
}

// atCard reports whether the current path is one Rules.Card (or Opaque,
// or a CardHolder) declares.
func (s *scanner) atCard() bool {
	for _, paths := range s.paths {
		for _, p := range paths {
			if s.matches(p) {
				return true
			}
		}
	}
	return false
}

// matches reports whether the current path is p: "cards[].number" is a key
// that folds as "cards" does, any index, then a key that folds as
// "number" does. p is read as it comes, rather than split once per call:
// most values are never matched against it.
func (s *scanner) matches(p string) bool {
	k := 0 // the steps of s.path matched
	for {
		part, rest, more := strings.Cut(p, ".")
		n := 0 // its "[]"s
		for strings.HasSuffix(part, "[]") {
			part = part[:len(part)-2]
			n++
		}
		if part != "" {
			if k >= len(s.path) || s.path[k].index >= 0 || !foldEqualString(s.b, s.path[k].key, part) {
				return false
			}
			k++
		}
		for range n {
			if k >= len(s.path) || s.path[k].index < 0 {
				return false
			}
			k++
		}
		if !more {
			return k == len(s.path)
		}
		p = rest
	}
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

// Keys compare as encoding/json compares field names, by their fold (see
// fold): the functions below compare folds rune by rune, without building
// them (only a large object's keys, to be hashed, have theirs built, on
// the stack when short). Two texts have the same fold exactly when their
// runes fold one by one to the same runes, since a fold maps each rune on
// its own and UTF-8 encodes each rune one way.

// upper folds an ASCII byte.
func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// foldOf is the fold of one rune.
func foldOf(r rune) rune {
	if r < utf8.RuneSelf {
		return rune(upper(byte(r)))
	}
	return foldRune(r)
}

// appendFold appends the fold of a span of b.
func appendFold(dst, b []byte, v span) []byte {
	for i := v.start; i < v.end; {
		if c := b[i]; c < utf8.RuneSelf && c != '\\' {
			dst = append(dst, upper(c))
			i++
			continue
		}
		var r rune
		r, i = textRune(b, i)
		dst = utf8.AppendRune(dst, foldOf(r))
	}
	return dst
}

// firstFold is the fold of the first rune of a span of b, 0 for none.
func firstFold(b []byte, v span) rune {
	if v.start == v.end {
		return 0
	}
	if c := b[v.start]; c < utf8.RuneSelf && c != '\\' {
		return rune(upper(c))
	}
	r, _ := textRune(b, v.start)
	return foldOf(r)
}

// foldEqual reports whether two spans of b have the same fold.
func foldEqual(b []byte, x, y span) bool {
	i, j := x.start, y.start
	for i < x.end && j < y.end {
		if c, d := b[i], b[j]; c < utf8.RuneSelf && d < utf8.RuneSelf && c != '\\' && d != '\\' {
			if upper(c) != upper(d) {
				return false
			}
			i++
			j++
			continue
		}
		var r, q rune
		r, i = textRune(b, i)
		q, j = textRune(b, j)
		if foldOf(r) != foldOf(q) {
			return false
		}
	}
	return i == x.end && j == y.end
}

// foldEqualString reports whether a span of b has the fold of t, a Go
// string (a path of Rules), whose bytes that are not UTF-8 fold as
// U+FFFD, as fold has them.
func foldEqualString(b []byte, x span, t string) bool {
	i, j := x.start, 0
	for i < x.end && j < len(t) {
		if c, d := b[i], t[j]; c < utf8.RuneSelf && d < utf8.RuneSelf && c != '\\' {
			if upper(c) != upper(d) {
				return false
			}
			i++
			j++
			continue
		}
		var r rune
		r, i = textRune(b, i)
		q, n := utf8.DecodeRuneInString(t[j:])
		j += n
		if foldOf(r) != foldOf(q) {
			return false
		}
	}
	return i == x.end && j == len(t)
}

// foldEqualStrings reports whether two Go strings have the same fold.
func foldEqualStrings(s, t string) bool {
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		if c, d := s[i], t[j]; c < utf8.RuneSelf && d < utf8.RuneSelf {
			if upper(c) != upper(d) {
				return false
			}
			i++
			j++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		q, m := utf8.DecodeRuneInString(t[j:])
		j += m
		if foldOf(r) != foldOf(q) {
			return false
		}
	}
	return i == len(s) && j == len(t)
}

// sameText reports whether two spans of b decode to the same text.
func sameText(b []byte, x, y span) bool {
	if !x.esc && !y.esc {
		return string(b[x.start:x.end]) == string(b[y.start:y.end])
	}
	i, j := x.start, y.start
	for i < x.end && j < y.end {
		var r, q rune
		r, i = textRune(b, i)
		q, j = textRune(b, j)
		if r != q {
			return false
		}
	}
	return i == x.end && j == y.end
}

// keySet remembers a form's field names by their fold: compared one by one
// while few, through a map by the hash of their fold once many.
type keySet struct {
	small []sigKey
	big   map[uint64][]string
}

type sigKey struct {
	sig uint64
	key string
}

// add records k; dup is set when a key of the same fold was seen, first
// being that key as sent.
func (ks *keySet) add(k string) (first string, dup bool) {
	if ks.big != nil {
		h := foldHashString(k)
		for _, f := range ks.big[h] {
			if foldEqualStrings(f, k) {
				return f, true
			}
		}
		ks.big[h] = append(ks.big[h], k)
		return "", false
	}
	first0 := rune(0)
	if k != "" {
		r, _ := utf8.DecodeRuneInString(k)
		first0 = foldOf(r)
	}
	kSig := sig(utf8.RuneCountInString(k), first0)
	for _, sk := range ks.small {
		if sk.sig == kSig && foldEqualStrings(sk.key, k) {
			return sk.key, true
		}
	}
	ks.small = append(ks.small, sigKey{kSig, k})
	if len(ks.small) > smallObject {
		ks.big = make(map[uint64][]string, 2*len(ks.small))
		for _, sk := range ks.small {
			h := foldHashString(sk.key)
			ks.big[h] = append(ks.big[h], sk.key)
		}
		ks.small = nil
	}
	return "", false
}

// foldHashString hashes the fold of a Go string.
func foldHashString(k string) uint64 {
	var buf [64]byte
	f := buf[:0]
	for _, r := range k {
		f = utf8.AppendRune(f, foldOf(r))
	}
	return maphash.Bytes(foldSeed, f)
}
