package e2e

// Helpers of the files moved to internal/e2e/tokens and internal/e2e/security
// (testcards, leak, badinput and review_security tests) that files still in
// this package use. They go away with those files; the moved tests use the
// harness's ReadTree, DumpDB, BadCase, TokenIDs, (*Server).DBHolds … instead.

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// tcCard is a card body for a test-card row, with a CVC of the brand's length.
func tcCard(number string) map[string]any {
	c := card(number)
	if strings.HasPrefix(number, "34") || strings.HasPrefix(number, "37") {
		c["cvc"] = "1234"
	}
	return c
}

// lkReadTree reads every regular file under dir, keyed by its relative path.
func lkReadTree(t testing.TB, dir string) map[string][]byte {
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

func lkUTF16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return b
}

func lkDigit(c byte) bool { return c >= '0' && c <= '9' }

func lkAlnum(c byte) bool { return lkDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// lkWordByte: letters, digits, '_' and '-', the bytes of ids, fingerprints and numbers.
func lkWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-'
}

// lkIsolated finds needle with no byte for which inWord holds on either side:
// a value on its own, not part of a longer id, hash or timestamp.
func lkIsolated(data, needle []byte, inWord func(byte) bool) int {
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

func lkContext(data []byte, i, n int) string {
	lo, hi := max(0, i-24), min(len(data), i+n+24)
	return string(data[lo:hi])
}

// lkDumpDB reads every table: table → rows → column → value as text.
// Binary values that are not UTF-8 (ciphertexts, hashes) are left out.
func lkDumpDB(t testing.TB, db *sql.DB) map[string][]map[string]string {
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
					row[cols[i]] = fmt.Sprint(v)
				}
			}
			out[table] = append(out[table], row)
		}
		rows.Close()
	}
	return out
}

func lkOpenDB(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "coffer.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// anyParam in a bad-input case means API.md does not fix error.param for it.
const anyParam = "*"

// badCase is one request that must be refused without storing anything.
type badCase struct {
	name   string
	method string
	path   string
	key    string // "" sends no Authorization header
	body   any    // nil, a raw string or a JSON value
	hdr    []string

	status    int
	typ, code string // code may list alternatives: "a|b"
	param     string // exact error.param; "" means none; anyParam means unchecked
	skip      string // why the case does not apply today
}

// biTokenIDs lists every token id of a merchant (at most 100; more is a test error).
func biTokenIDs(t testing.TB, s *server, key string) []string {
	t.Helper()
	r := s.call("GET", "/v1/tokens?limit=100", key, nil).want(t, 200)
	if r.Body["has_more"] != false {
		t.Fatalf("more than 100 tokens: %s", biShort(r.Raw))
	}
	var ids []string
	for _, d := range r.Body["data"].([]any) {
		ids = append(ids, dig(d, "id").(string))
	}
	return ids
}

// biOneOf reports whether v is one of the |-separated alternatives.
func biOneOf(v, alts string) bool {
	for _, a := range strings.Split(alts, "|") {
		if v == a {
			return true
		}
	}
	return false
}

func biSameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

// biBodyString renders a case body as the exact bytes sent.
func biBodyString(t testing.TB, body any) string {
	switch b := body.(type) {
	case nil:
		return ""
	case string:
		return b
	}
	j, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(j)
}

func biDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func biShort(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// rsDBHolds reports every table.column of the SQLite database holding needle.
func rsDBHolds(t testing.TB, s *server, needle string) []string {
	t.Helper()
	var where []string
	for table, rows := range lkDumpDB(t, lkOpenDB(t, s.DataDir)) {
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
