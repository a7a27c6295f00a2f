package card

import "time"

// maxYearsAhead bounds how far in the future an expiry may be. Issuers print
// at most a few years ahead; anything much further is a typo or a probe.
const maxYearsAhead = 50

func expiryError(field, code, msg string) *FieldError {
	return &FieldError{Field: field, Code: code, Message: msg}
}

// fullYear turns a 2-digit year into 20yy and accepts 4-digit years of this
// century; the sentinel -1 means neither.
func fullYear(year int) int {
	switch {
	case year >= 0 && year <= 99:
		return 2000 + year
	case year >= 2000 && year <= 2099:
		return year
	}
	return -1
}

// endOfMonth is the first instant after the card's expiry month: a card is
// good through the last instant of its printed month, in UTC so that the
// answer does not depend on the server's zone.
func endOfMonth(month, year int) time.Time {
	return time.Date(year, time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC)
}

// ValidateExpiry checks an expiry month and year against now and returns the
// month and the 4-digit year. A 2-digit year means 20yy.
func ValidateExpiry(month, year int, now time.Time) (m, y int, err error) {
	// JSON clients that omit a field send its zero value; 0 is never a month,
	// and a year of 0 must not be read as 2000 and reported as "expired".
	if month == 0 {
		return 0, 0, expiryError("exp_month", CodeInvalidExpiry, "is required")
	}
	if year == 0 {
		return 0, 0, expiryError("exp_year", CodeInvalidExpiry, "is required")
	}
	if month < 1 || month > 12 {
		return 0, 0, expiryError("exp_month", CodeInvalidExpiry, "must be between 1 and 12")
	}
	y = fullYear(year)
	if y < 0 {
		return 0, 0, expiryError("exp_year", CodeInvalidExpiry, "must be a 2-digit year or a 4-digit year from 2000 to 2099")
	}
	now = now.UTC()
	if !now.Before(endOfMonth(month, y)) {
		return 0, 0, expiryError("exp_year", CodeExpiredCard, "the card has expired")
	}
	if y*12+month > (now.Year()+maxYearsAhead)*12+int(now.Month()) {
		return 0, 0, expiryError("exp_year", CodeInvalidExpiry, "is too far in the future")
	}
	return month, y, nil
}

// ParseExpiry reads an expiry typed as one string — "MM/YY", "MM/YYYY",
// "MMYY", "MMYYYY", "MM-YY", "M/YY", with spaces allowed around the
// separator — then applies ValidateExpiry.
func ParseExpiry(s string, now time.Time) (m, y int, err error) {
	month, year, ok := splitExpiry(s)
	if !ok {
		return 0, 0, expiryError("exp_month", CodeInvalidExpiry, "must look like MM/YY or MM/YYYY")
	}
	if year == 0 { // a typed "00" is the year 2000, not a missing year
		year = 2000
	}
	return ValidateExpiry(month, year, now)
}

func splitExpiry(s string) (month, year int, ok bool) {
	s = trimSpaces(s)
	// Longer than "MM / YYYY" with generous spacing is never an expiry; the
	// bound also keeps the work on hostile input small.
	if len(s) > 16 {
		return 0, 0, false
	}
	sep := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '/' || s[i] == '-' {
			if sep >= 0 {
				return 0, 0, false
			}
			sep = i
		}
	}
	var ms, ys string
	if sep >= 0 {
		ms, ys = trimSpaces(s[:sep]), trimSpaces(s[sep+1:])
		if len(ms) < 1 || len(ms) > 2 {
			return 0, 0, false
		}
	} else {
		if len(s) != 4 && len(s) != 6 {
			return 0, 0, false
		}
		ms, ys = s[:2], s[2:]
	}
	if len(ys) != 2 && len(ys) != 4 {
		return 0, 0, false
	}
	month, ok1 := atoi(ms)
	year, ok2 := atoi(ys)
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	// A 4-digit year such as "0026" must not be read as the 2-digit 26.
	if len(ys) == 4 && year < 100 {
		return 0, 0, false
	}
	return month, year, true
}

func trimSpaces(s string) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] == ' ' {
		s = s[:len(s)-1]
	}
	return s
}

// atoi parses a short run of ASCII digits; strconv.Atoi would also accept a
// sign.
func atoi(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}

// Expired reports whether a stored card's expiry month has ended at now.
// Values that could not be a valid expiry count as expired, so a corrupt
// record is never charged.
func Expired(month, year int, now time.Time) bool {
	y := fullYear(year)
	if month < 1 || month > 12 || y < 0 {
		return true
	}
	return !now.UTC().Before(endOfMonth(month, y))
}
