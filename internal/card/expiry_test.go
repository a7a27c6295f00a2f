package card

import (
	"errors"
	"testing"
	"time"
)

func date(y int, m time.Month, d, h, min, s, ns int, loc *time.Location) time.Time {
	return time.Date(y, m, d, h, min, s, ns, loc)
}

func TestValidateExpiry(t *testing.T) {
	march2026 := date(2026, time.March, 15, 12, 0, 0, 0, time.UTC)
	lastInstantOfMarch := date(2026, time.March, 31, 23, 59, 59, 999999999, time.UTC)
	aprilFirst := date(2026, time.April, 1, 0, 0, 0, 0, time.UTC)
	kl := time.FixedZone("MYT", 8*3600)
	// 1 April 05:00 in Kuala Lumpur is still 31 March in UTC.
	aprilInKL := date(2026, time.April, 1, 5, 0, 0, 0, kl)
	dec31 := date(2026, time.December, 31, 23, 59, 59, 0, time.UTC)
	jan1 := date(2027, time.January, 1, 0, 0, 0, 0, time.UTC)

	tests := []struct {
		name        string
		month, year int
		now         time.Time
		m, y        int
		field, code string
	}{
		{"this month", 3, 2026, march2026, 3, 2026, "", ""},
		{"two-digit year", 3, 26, march2026, 3, 2026, "", ""},
		{"next year", 1, 27, march2026, 1, 2027, "", ""},
		{"last instant of month", 3, 2026, lastInstantOfMarch, 3, 2026, "", ""},
		{"first instant after", 3, 2026, aprilFirst, 0, 0, "exp_year", CodeExpiredCard},
		{"UTC not local zone", 3, 2026, aprilInKL, 3, 2026, "", ""},
		{"last month", 2, 2026, march2026, 0, 0, "exp_year", CodeExpiredCard},
		{"December through Dec 31", 12, 2026, dec31, 12, 2026, "", ""},
		{"December rolls to January", 12, 2026, jan1, 0, 0, "exp_year", CodeExpiredCard},
		{"January after rollover", 1, 2027, jan1, 1, 2027, "", ""},
		{"last year", 12, 2025, march2026, 0, 0, "exp_year", CodeExpiredCard},
		{"missing year", 1, 0, march2026, 0, 0, "exp_year", CodeInvalidExpiry},
		{"missing month", 0, 2030, march2026, 0, 0, "exp_month", CodeInvalidExpiry},
		{"two-digit past year", 1, 1, march2026, 0, 0, "exp_year", CodeExpiredCard},
		{"month 0", 0, 2030, march2026, 0, 0, "exp_month", CodeInvalidExpiry},
		{"month 13", 13, 2030, march2026, 0, 0, "exp_month", CodeInvalidExpiry},
		{"month -1", -1, 2030, march2026, 0, 0, "exp_month", CodeInvalidExpiry},
		{"three-digit year", 1, 100, march2026, 0, 0, "exp_year", CodeInvalidExpiry},
		{"year 1999", 1, 1999, march2026, 0, 0, "exp_year", CodeInvalidExpiry},
		{"year 2100", 1, 2100, march2026, 0, 0, "exp_year", CodeInvalidExpiry},
		{"negative year", 1, -5, march2026, 0, 0, "exp_year", CodeInvalidExpiry},
		{"50 years ahead", 3, 2076, march2026, 3, 2076, "", ""},
		{"more than 50 years ahead", 4, 2076, march2026, 0, 0, "exp_year", CodeInvalidExpiry},
		{"two-digit 99", 1, 99, march2026, 0, 0, "exp_year", CodeInvalidExpiry},
	}
	for _, tt := range tests {
		m, y, err := ValidateExpiry(tt.month, tt.year, tt.now)
		if tt.code == "" {
			if err != nil || m != tt.m || y != tt.y {
				t.Errorf("%s: ValidateExpiry(%d, %d) = %d, %d, %v; want %d, %d", tt.name, tt.month, tt.year, m, y, err, tt.m, tt.y)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || fe.Code != tt.code {
			t.Errorf("%s: ValidateExpiry(%d, %d) error = %v; want %s/%s", tt.name, tt.month, tt.year, err, tt.field, tt.code)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	now := date(2026, time.March, 15, 0, 0, 0, 0, time.UTC)
	// A typed "00" is the year 2000 (expired), not a missing year.
	if _, _, err := ParseExpiry("01/00", now); err == nil || err.(*FieldError).Code != CodeExpiredCard {
		t.Fatalf(`ParseExpiry("01/00") = %v, want expired_card`, err)
	}
	good := map[string][2]int{
		"12/30":       {12, 2030},
		"12/2030":     {12, 2030},
		"1230":        {12, 2030},
		"122030":      {12, 2030},
		"12-30":       {12, 2030},
		"12-2030":     {12, 2030},
		"1/30":        {1, 2030},
		"1/2030":      {1, 2030},
		"01/30":       {1, 2030},
		"12 / 30":     {12, 2030},
		"12 /30":      {12, 2030},
		"  12/30  ":   {12, 2030},
		"03/26":       {3, 2026},
		"12 - 2030":   {12, 2030},
		"09/    2030": {9, 2030},
	}
	for s, want := range good {
		m, y, err := ParseExpiry(s, now)
		if err != nil || m != want[0] || y != want[1] {
			t.Errorf("ParseExpiry(%q) = %d, %d, %v; want %d, %d", s, m, y, err, want[0], want[1])
		}
	}
	bad := map[string]string{
		"":           CodeInvalidExpiry,
		"12":         CodeInvalidExpiry,
		"123":        CodeInvalidExpiry,
		"12345":      CodeInvalidExpiry,
		"12/3":       CodeInvalidExpiry,
		"12/203":     CodeInvalidExpiry,
		"123/30":     CodeInvalidExpiry,
		"/30":        CodeInvalidExpiry,
		"12/":        CodeInvalidExpiry,
		"12//30":     CodeInvalidExpiry,
		"12/30/2030": CodeInvalidExpiry,
		"1a/30":      CodeInvalidExpiry,
		"+1/30":      CodeInvalidExpiry,
		"12/0030":    CodeInvalidExpiry,
		"12/1999":    CodeInvalidExpiry,
		"13/30":      CodeInvalidExpiry,
		"00/30":      CodeInvalidExpiry,
		"12.30":      CodeInvalidExpiry,
		"02/26":      CodeExpiredCard,
		"12/2025":    CodeExpiredCard,
		"1\t/30":     CodeInvalidExpiry,
	}
	for s, code := range bad {
		_, _, err := ParseExpiry(s, now)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Code != code {
			t.Errorf("ParseExpiry(%q) error = %v; want code %s", s, err, code)
		}
	}
}

func TestExpired(t *testing.T) {
	now := date(2026, time.March, 31, 23, 59, 59, 0, time.UTC)
	tests := []struct {
		month, year int
		now         time.Time
		want        bool
	}{
		{3, 2026, now, false},
		{3, 2026, now.Add(time.Second), true},
		{2, 2026, now, true},
		{4, 2026, now, false},
		{3, 26, now, false},
		{12, 2025, now, true},
		{12, 2026, date(2027, time.January, 1, 0, 0, 0, 0, time.UTC), true},
		{12, 2026, date(2026, time.December, 31, 23, 0, 0, 0, time.UTC), false},
		{0, 2030, now, true},
		{13, 2030, now, true},
		{1, 1999, now, true},
	}
	for _, tt := range tests {
		if got := Expired(tt.month, tt.year, tt.now); got != tt.want {
			t.Errorf("Expired(%d, %d, %s) = %v; want %v", tt.month, tt.year, tt.now, got, tt.want)
		}
	}
}
