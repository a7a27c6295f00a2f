package harness

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	cardrules "github.com/coffer-vault/coffer/internal/card"
)

// Helpers that look for card data where it must not be: in the files of a
// data folder, in every table of the database, and in what the server
// answers.

// ReadTree reads every regular file under dir, keyed by its relative path:
// the data folder as an attacker with the disk sees it.
func ReadTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TreeNames lists the file names of a ReadTree result (in map order), for
// failure messages.
func TreeNames(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// UTF16LE encodes s as UTF-16 little-endian, the way a number can sit in a
// file that no byte search for its ASCII digits finds.
func UTF16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return b
}

// IsDigit reports whether c is an ASCII digit; an Isolated word class.
func IsDigit(c byte) bool { return c >= '0' && c <= '9' }

// IsAlnum reports whether c is an ASCII letter or digit; an Isolated word class.
func IsAlnum(c byte) bool { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// IsWordByte reports letters, digits, '_' and '-', the bytes of ids,
// fingerprints and numbers; an Isolated word class.
func IsWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-'
}

// Isolated finds needle with no byte for which inWord holds on either side:
// a value on its own, not part of a longer id, hash or timestamp. It
// returns the offset, or -1.
func Isolated(data, needle []byte, inWord func(byte) bool) int {
	alnum := inWord
	for off := 0; ; {
		i := bytes.Index(data[off:], needle)
		if i < 0 {
			return -1
		}
		i += off
		before := i == 0 || !alnum(data[i-1])
		after := i+len(needle) >= len(data) || !alnum(data[i+len(needle)])
		if before && after {
			return i
		}
		off = i + 1
	}
}

// Around is the match of n bytes at i with 24 bytes either side, to show
// where a leak sits in a failure message.
func Around(data []byte, i, n int) string {
	lo, hi := max(0, i-24), min(len(data), i+n+24)
	return string(data[lo:hi])
}

// Digits keeps a string's ASCII digits: a card number as typed with
// spaces, dashes or other separators, reduced to what a leak search looks for.
func Digits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// OpenSQLiteReadOnly opens the SQLite database of a data folder read-only,
// as someone reading the disk would, whatever the server is doing.
func OpenSQLiteReadOnly(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "coffer.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// NumberMark comes before a number DumpDB renders. It is a word byte, so a
// check for a CVC as a word of its own does not take a count or a latency
// that happens to equal it (a delivery that took 162 ms, CVC 162) for the
// CVC, while a card number kept as a number is still found by its digits.
const NumberMark = "number_"

// DumpDB reads every table of a SQLite database: table → rows → column →
// value as text, numbers after NumberMark. Binary values that are not UTF-8
// (ciphertexts, hashes) are left out.
func DumpDB(t testing.TB, db *sql.DB) map[string][]map[string]string {
	t.Helper()
	var tables []string
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) == 0 {
		t.Fatal("the database has no tables")
	}
	out := map[string][]map[string]string{}
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := map[string]string{}
			for i, v := range vals {
				switch v := v.(type) {
				case string:
					row[cols[i]] = v
				case []byte:
					if utf8.Valid(v) {
						row[cols[i]] = string(v)
					}
				case nil:
				default:
					row[cols[i]] = NumberMark + fmt.Sprint(v)
				}
			}
			out[table] = append(out[table], row)
		}
		rows.Close()
	}
	return out
}

// DBHolds reports every table.column of the server's SQLite database whose
// text holds needle (e.g. a card number that must not be stored in clear).
func (s *Server) DBHolds(t testing.TB, needle string) []string {
	t.Helper()
	var where []string
	for table, rows := range DumpDB(t, OpenSQLiteReadOnly(t, s.DataDir)) {
		for _, row := range rows {
			for col, v := range row {
				if strings.Contains(v, needle) {
					where = append(where, table+"."+col)
				}
			}
		}
	}
	return where
}

// NoPAN fails when a response's body or headers carry the card number pan.
func NoPAN(t testing.TB, what string, r Resp, pan string) {
	t.Helper()
	if strings.Contains(string(r.Raw), pan) {
		t.Errorf("%s: response body (status %d) echoes the card number: %s", what, r.Status, r.Raw)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if strings.Contains(v, pan) {
				t.Errorf("%s: response header %s echoes the card number: %s", what, k, v)
			}
		}
	}
}

// LuhnCandidates lists, in order, the Luhn-valid numbers of a length that
// start with bin and end with last4: what an attacker who sees a token's
// masked card has left to try.
func LuhnCandidates(bin, last4 string, length int) []string {
	hidden := length - len(bin) - len(last4)
	var out []string
	limit := 1
	for range hidden {
		limit *= 10
	}
	for i := range limit {
		pan := bin + fmt.Sprintf("%0*d", hidden, i) + last4
		if cardrules.Luhn(pan) {
			out = append(out, pan)
		}
	}
	return out
}

// RandomLuhnCard completes a 16-digit Luhn-valid number after prefix with
// digits from rng: many different cards of one BIN.
func RandomLuhnCard(prefix string, rng *rand.Rand) string {
	for {
		b := []byte(prefix)
		for len(b) < 16 {
			b = append(b, byte('0'+rng.IntN(10)))
		}
		if cardrules.Luhn(string(b)) {
			return string(b)
		}
	}
}
