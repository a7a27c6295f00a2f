// Package logging is the last line of defence for the rule that no card
// number ever reaches a log line: a slog handler that masks anything in a
// record that looks like a PAN before it is written.
//
// The vault is what keeps PANs out of logs; this package exists for the day
// some code path forgets, so it errs towards masking.
package logging

import "github.com/coffer-vault/coffer/internal/card"

const (
	minPAN = 12
	maxPAN = 19
)

// group is one unbroken stretch of digits, as byte offsets into the string.
type group struct{ start, end int }

// Redact masks, with card.Mask, every run of 12 to 19 digits that passes the
// Luhn check, where the digits may be split by short runs of separators
// ("4242 4242 4242 4242", "4242-4242-4242-4242", "4242.4242.4242.4242",
// tabs, no-break spaces; see scanRun). Other digit runs —
// timestamps, ids, amounts — are left as they are unless they happen to pass
// Luhn: a false positive costs a log reader a digit or two, a false negative
// leaks a card.
//
// Within a longer run of separated groups (a date, then a card number) every
// span of whole groups holding 12–19 digits is tried, so a card number next to
// other numbers is still found. A single unbroken stretch of more than 19
// digits is taken to be something else (a hash, a big id) and left alone.
func Redact(s string) string {
	if !hasDigits(s, minPAN) {
		return s
	}
	var out []byte // allocated on the first change only
	copied := 0
	var buf [16]group
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		groups, digits, end := scanRun(s, i, buf[:0])
		if digits >= minPAN {
			out, copied = maskRun(s, groups, out, copied)
		}
		i = end
	}
	if out == nil {
		return s
	}
	return string(append(out, s[copied:]...))
}

// scanRun collects the digit groups of the run starting at s[i]. Groups may
// be joined by up to three separator bytes of the kinds people and programs
// put between digit groups: space, tab, no-break space, dash, dot,
// underscore. The colon is not one: clock times ("07:15:48.246") must not
// join into a long run.
func scanRun(s string, i int, groups []group) ([]group, int, int) {
	digits := 0
	for {
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		groups = append(groups, group{start, i})
		digits += i - start
		j := i
		for j < len(s) && j-i < 3 {
			if n := sepLen(s, j); n > 0 {
				j += n
				continue
			}
			break
		}
		if j > i && j-i <= 3 && j < len(s) && isDigit(s[j]) {
			i = j
			continue
		}
		return groups, digits, i
	}
}

// sepLen is the length of the separator at s[j], or 0.
func sepLen(s string, j int) int {
	switch s[j] {
	case ' ', '\t', '-', '.', '_':
		return 1
	case 0xC2: // U+00A0 no-break space, as UTF-8
		if j+1 < len(s) && s[j+1] == 0xA0 {
			return 2
		}
	case 0xE2, 0xE3, 0xEF:
		if j+2 < len(s) && unicodeSeparator(s[j], s[j+1], s[j+2]) {
			return 3
		}
	}
	return 0
}

// unicodeSeparator reports whether the three UTF-8 bytes are a space,
// dash or invisible joiner that a pasted or typed number may carry between
// its groups: U+2000–U+200B (the typographic spaces, zero width space),
// U+2010–U+2015 (hyphens and dashes), U+202F (narrow no-break space),
// U+2060 (word joiner), U+2212 (minus), U+3000 (ideographic space) and
// U+FF0D (fullwidth hyphen-minus). Without them "4242 4242 4242 4242" with
// thin spaces would pass the guard and the scrubber as four short numbers.
func unicodeSeparator(a, b, c byte) bool {
	switch {
	case a == 0xE2 && b == 0x80:
		return c >= 0x80 && c <= 0x8B || c >= 0x90 && c <= 0x95 || c == 0xAF
	case a == 0xE2 && b == 0x81:
		return c == 0xA0
	case a == 0xE2 && b == 0x88:
		return c == 0x92
	case a == 0xE3 && b == 0x80:
		return c == 0x80
	case a == 0xEF && b == 0xBC:
		return c == 0x8D
	}
	return false
}

// maskRun appends s[copied:] up to each span to be masked, then the masked
// span, and returns the extended output and the new copy position. Spans
// that share a group are masked as one; spans that merely touch are masked
// separately so two card numbers in a row stay recognisable as two.
func maskRun(s string, groups []group, out []byte, copied int) ([]byte, int) {
	regionStart, regionEnd := -1, -1
	flush := func() {
		if regionStart < 0 {
			return
		}
		if out == nil {
			out = make([]byte, 0, len(s))
		}
		out = append(out, s[copied:groups[regionStart].start]...)
		out = append(out, card.Mask(digitsOf(s, groups[regionStart:regionEnd+1]))...)
		copied = groups[regionEnd].end
	}
	for g := range groups {
		last := -1
		n := 0
		for h := g; h < len(groups); h++ {
			n += groups[h].end - groups[h].start
			if n > maxPAN {
				break
			}
			if n >= minPAN && luhn(s, groups[g:h+1]) {
				last = h
			}
		}
		if last < 0 {
			continue
		}
		if regionStart >= 0 && g <= regionEnd {
			regionEnd = max(regionEnd, last)
			continue
		}
		flush()
		regionStart, regionEnd = g, last
	}
	flush()
	return out, copied
}

func digitsOf(s string, groups []group) string {
	b := make([]byte, 0, maxPAN)
	for _, g := range groups {
		b = append(b, s[g.start:g.end]...)
	}
	return string(b)
}

// luhn is card.Luhn over digits spread across groups, to avoid building a
// string for every candidate span.
func luhn(s string, groups []group) bool {
	sum := 0
	double := false
	for k := len(groups) - 1; k >= 0; k-- {
		for i := groups[k].end - 1; i >= groups[k].start; i-- {
			d := int(s[i] - '0')
			if double {
				d *= 2
				if d > 9 {
					d -= 9
				}
			}
			sum += d
			double = !double
		}
	}
	return sum%10 == 0
}

// hasDigits reports whether s holds at least n ASCII digits: the fast path
// that lets most log strings through untouched.
func hasDigits(s string, n int) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n--
			if n == 0 {
				return true
			}
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// HasCardNumber reports whether s holds a card number: a span of whole
// digit groups, found as Redact finds them, whose digits card.Plausible
// accepts. It is the test every stored or echoed text field applies before
// refusing the value (internal/wire, the domain's free-text checks), and it
// is narrower than Redact on purpose: a log line loses nothing when a
// Luhn-valid phone number is masked, a customer record refused for one
// would be a real failure.
func HasCardNumber(s string) bool {
	if !hasDigits(s, minPAN) {
		return false
	}
	var buf [16]group
	var digits [maxPAN]byte
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		groups, n, end := scanRun(s, i, buf[:0])
		if n >= minPAN {
			for g := range groups {
				span := digits[:0]
				for h := g; h < len(groups); h++ {
					if len(span)+groups[h].end-groups[h].start > maxPAN {
						break
					}
					span = append(span, s[groups[h].start:groups[h].end]...)
					if len(span) >= minPAN && card.Plausible(string(span)) {
						return true
					}
				}
			}
		}
		i = end
	}
	return false
}

// MaskDigitRuns replaces with '*' every digit of each run of at least min
// digits, a run being digit groups joined by separators as Redact reads
// them ("4242 4242 4242 4241" is one run of 16). Unlike Redact it does not
// ask whether the digits could be a card: error messages use it, where no
// long run of a client's digits is worth echoing (internal/wire.Clean).
func MaskDigitRuns(s string, min int) string {
	if min < 1 {
		min = 1
	}
	if !hasDigits(s, min) {
		return s
	}
	var out []byte
	var buf [16]group
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		groups, n, end := scanRun(s, i, buf[:0])
		if n >= min {
			if out == nil {
				out = []byte(s)
			}
			for _, g := range groups {
				for k := g.start; k < g.end; k++ {
					out[k] = '*'
				}
			}
		}
		i = end
	}
	if out == nil {
		return s
	}
	return string(out)
}
