package e2e

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	cardpkg "github.com/coffer-vault/coffer/internal/card"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	_ "modernc.org/sqlite"
)

// lkCard is one card the leak test sends: the number as typed and its CVC.
type lkCard struct {
	sent, cvc string
}

func (c lkCard) body() map[string]any {
	m := card(c.sent)
	m["cvc"] = c.cvc
	return m
}

// TestNoCardNumberAtRest is the leak test: after tokenizing,
// validating, declining and mis-sending card numbers every way a client
// might, no file in the data folder (database, WAL, shared memory, key file)
// and nothing the server logged or printed holds any of those numbers in
// clear — as digits, as UTF-16, or as typed with spaces and dashes — and no
// CVC appears anywhere either.
func TestNoCardNumberAtRest(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey

	var (
		// Not 4242…4242: its BIN, last 4 and mask, stored side by side,
		// spell the number again by accident.
		visa     = lkCard{"4000 0566 5566 5556", "846"}
		mc       = lkCard{"5555-5555-5555-4444", "529"}
		amex     = lkCard{"378282246310005", "7391"}
		jcb      = lkCard{"3566 0020 2036 0505", "613"}
		diners   = lkCard{"36227206271667", "958"}
		discover = lkCard{"6011111111111117", "284"}
		unionpay = lkCard{"6200000000000005", "382"}
		idemCard = lkCard{"5200828282828210", "417"}
		// Sent only inside requests that must be refused.
		declined1  = lkCard{"4000000000000002", "162"}
		declined2  = lkCard{"4000000000009995", "705"}
		luhnBad    = lkCard{"4242424242424241", "591"}
		batchBad   = lkCard{"6011111111111118", "248"}
		inPath     = "4111111111111111"
		inPathDash = "4111-1111-1111-1111"
		inQuery    = "6011000990139424"
		inField    = "5105105105105100"
		inReqID    = cardpkg.CompleteLuhn("497010000000000")
		inIdemKey  = "4012888888881881"
		unknownFld = "4242424242424242" // the card of the request with a card number as a field name
	)
	cards := []lkCard{visa, mc, amex, jcb, diners, discover, unionpay, idemCard, declined1, declined2, luhnBad, batchBad}
	pans := []string{inPath, inPathDash, inQuery, inField, inReqID, inIdemKey, unknownFld}
	var cvcs []string
	for _, c := range cards {
		pans = append(pans, c.sent)
		cvcs = append(cvcs, c.cvc)
	}
	requests := 0
	call := func(method, path string, body any, hdr ...string) resp {
		requests++
		return s.call(method, path, sk, body, hdr...)
	}

	cus := call("POST", "/v1/customers", map[string]any{"reference": "leak_customer"}).want(t, 201).str("id")
	ids := map[string]string{}
	for _, c := range []lkCard{visa, mc, amex, jcb, diners} {
		ids[c.sent] = call("POST", "/v1/tokens", map[string]any{"card": c.body(), "customer": cus}).want(t, 201).str("id")
	}
	batch := call("POST", "/v1/tokens/batch", map[string]any{"cards": []any{discover.body(), batchBad.body(), unionpay.body()}}).want(t, 200)
	items, _ := batch.Body["data"].([]any)
	if len(items) != 3 || dig(items[0], "token", "id") == nil || dig(items[1], "error", "code") != "incorrect_number" || dig(items[2], "token", "id") == nil {
		t.Fatalf("batch: %s", batch.Raw)
	}
	for _, c := range []lkCard{declined1, declined2} {
		call("POST", "/v1/tokens", map[string]any{"card": c.body()}).want(t, 402)
	}
	call("POST", "/v1/tokens", map[string]any{"card": luhnBad.body()}).want(t, 400)

	// Card numbers where they do not belong: the URL path and query, a JSON
	// field name, the request id header and the idempotency key.
	call("GET", "/v1/tokens/"+inPath, nil).want(t, 404)
	call("POST", "/v1/tokens/"+inPath+"/validate", map[string]any{"cvc": visa.cvc}).want(t, 404)
	call("DELETE", "/v1/customers/"+inPathDash, nil).want(t, 404)
	if r := call("GET", "/v1/tokens?customer="+inQuery, nil); r.Status != 200 && r.Status != 404 {
		t.Fatalf("list by a card number: %d %s", r.Status, r.Raw)
	}
	call("POST", "/v1/tokens", map[string]any{"card": card(unknownFld), inField: true}).want(t, 400)
	if r := call("GET", "/v1/merchant", nil, "X-Request-Id", inReqID).want(t, 200); strings.Contains(r.Header.Get("Request-Id"), inReqID[4:12]) {
		t.Errorf("a card number was accepted as the request id: %q", r.Header.Get("Request-Id"))
	}
	// A card number as an idempotency key works like any key: it is stored
	// only as a keyed digest (the file scan below proves it never lands in clear).
	first := call("POST", "/v1/tokens", map[string]any{"card": idemCard.body()}, "Idempotency-Key", inIdemKey).want(t, 201)
	if again := call("POST", "/v1/tokens", map[string]any{"card": idemCard.body()}, "Idempotency-Key", inIdemKey).want(t, 201); again.str("id") != first.str("id") {
		t.Errorf("idempotent replay minted another token")
	}

	// Use the tokens: validate with CVCs, disable, delete.
	for _, c := range []lkCard{visa, amex} {
		v := call("POST", "/v1/tokens/"+ids[c.sent]+"/validate", map[string]any{"cvc": c.cvc}).want(t, 200)
		if v.Body["valid"] != true || v.str("cvc_check") != "pass" {
			t.Fatalf("validate: %s", v.Raw)
		}
	}
	call("POST", "/v1/tokens/"+ids[diners.sent]+"/disable", nil).want(t, 200)
	call("DELETE", "/v1/tokens/"+ids[mc.sent], nil).want(t, 200)
	call("DELETE", "/v1/tokens/"+ids[jcb.sent], nil).want(t, 200)
	call("GET", "/v1/customers/"+cus, nil).want(t, 200)

	// 3-D Secure keeps a CVC (and, for a payment by card, the card) across
	// the challenge, sealed: one challenge is left waiting, one completed.
	chPay, chTok := lkCard{"4000 0025 0000 3155", "908"}, lkCard{"4000-0025-0000-3155", "819"}
	pans, cvcs = append(pans, chPay.sent, chTok.sent), append(cvcs, chPay.cvc, chTok.cvc)
	if r := call("POST", "/v1/payments", map[string]any{"amount": 1000, "card": chPay.body(), "return_url": "https://shop.example/back"}).want(t, 201); r.str("status") != "requires_action" {
		t.Fatalf("challenge payment: %s", r.Raw)
	}
	ch := call("POST", "/v1/tokens", map[string]any{"card": chTok.body(), "return_url": "https://shop.example/back"}).want(t, 201)
	if done := submitOTP(t, ch.str("next_action", "url"), "123456"); done.Status != 303 {
		t.Fatalf("challenge: %d %s", done.Status, done.Body)
	}
	if n := challengeSecrets(t, s); n != 1 {
		t.Fatalf("want the waiting challenge's sealed card only, got %d secrets", n)
	}

	// Scan once while the server runs (the WAL still holds recent pages),
	// then again after a graceful stop has flushed and checkpointed.
	running := lkReadTree(t, s.DataDir)
	s.stop()
	stopped := lkReadTree(t, s.DataDir)
	if _, ok := stopped["coffer.db"]; !ok {
		t.Fatalf("no database in %s: %v", s.DataDir, lkNames(stopped))
	}
	if _, ok := stopped["master.key"]; !ok {
		t.Fatalf("no development key file in %s: %v", s.DataDir, lkNames(stopped))
	}
	sources := map[string][]byte{"server log": []byte(s.Logs.String()), "stdout": []byte(s.Stdout.String())}
	for name, b := range running {
		sources["running:"+name] = b
	}
	for name, b := range stopped {
		sources[name] = b
	}

	for _, pan := range pans {
		digits := biDigits(pan)
		needles := map[string][]byte{"digits": []byte(digits), "utf-16le": lkUTF16LE(digits), "as sent": []byte(pan), "as sent utf-16le": lkUTF16LE(pan)}
		for src, data := range sources {
			for form, n := range needles {
				if i := bytes.Index(data, n); i >= 0 {
					t.Errorf("%s holds card %s… in clear (%s) at %d: %q", src, digits[:6], form, i, lkContext(data, i, len(n)))
				}
			}
		}
	}
	for _, cvc := range cvcs {
		for src, data := range sources {
			for _, p := range []string{`"cvc":"%s"`, `"cvc": "%s"`, `"cvc":%s`, `cvc=%s`, `"cvc\":\"%s\"`} {
				n := []byte(fmt.Sprintf(p, cvc))
				if i := bytes.Index(data, n); i >= 0 {
					t.Errorf("%s holds a CVC: %q", src, lkContext(data, i, len(n)))
				}
				if i := bytes.Index(data, lkUTF16LE(string(n))); i >= 0 {
					t.Errorf("%s holds a CVC in UTF-16: at %d", src, i)
				}
			}
			// A 4-digit CVC is rare enough to look for as raw bytes anywhere,
			// as a word of its own: inside a longer number (a timestamp) or a
			// hex/base32 run (a digest) it is chance, and 4 digits turn up in
			// random hex about once per 16 digests. Stored column values are
			// checked one by one below, through SQLite.
			if len(cvc) == 4 {
				if i := lkIsolated(data, []byte(cvc), lkAlnum); i >= 0 {
					t.Errorf("%s holds the CVC %s: %q", src, cvc, lkContext(data, i, len(cvc)))
				}
			}
		}
	}
	// Every value of every row of every table, read back through SQLite: no
	// card number, and no CVC as a value or a word inside one. (3-digit CVCs
	// are looked for here rather than in the raw bytes, where ciphertexts and
	// WAL checksums would match them by chance.) Every CVC sent above has a
	// 0, 1, 8 or 9, so none can occur inside a lower-case base32 id.
	db := lkOpenDB(t, s.DataDir)
	for table, rows := range lkDumpDB(t, db) {
		for _, row := range rows {
			for col, v := range row {
				for _, pan := range pans {
					if strings.Contains(v, biDigits(pan)) || strings.Contains(v, pan) {
						t.Errorf("%s.%s holds card %s… in clear", table, col, biDigits(pan)[:6])
					}
				}
				for _, cvc := range cvcs {
					if i := lkIsolated([]byte(v), []byte(cvc), lkWordByte); i >= 0 {
						t.Errorf("%s.%s holds the CVC %s: %q", table, col, cvc, lkContext([]byte(v), i, len(cvc)))
					}
				}
			}
		}
	}

	// The log: one JSON object a line; every request line carries the id,
	// method, path, status and duration; paths with card numbers are masked.
	lines := strings.Split(strings.TrimSpace(s.Logs.String()), "\n")
	reqLines, masked := 0, false
	for i, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line %d is not JSON: %v: %q", i+1, err, line)
			continue
		}
		if rec["time"] == nil || rec["level"] == nil || rec["msg"] == nil {
			t.Errorf("log line %d lacks time/level/msg: %s", i+1, line)
		}
		if rec["msg"] != "request" {
			continue
		}
		reqLines++
		rid, _ := rec["request_id"].(string)
		method, _ := rec["method"].(string)
		path, _ := rec["path"].(string)
		status, okS := rec["status"].(float64)
		_, okD := rec["duration_ms"].(float64)
		if rid == "" || method == "" || !strings.HasPrefix(path, "/") || !okS || status < 100 || !okD {
			t.Errorf("request log line %d lacks request_id/method/path/status/duration_ms: %s", i+1, line)
		}
		if rid == inReqID {
			t.Errorf("the log kept a card number as the request id: line %d", i+1)
		}
		if strings.Contains(path, "411111******1111") {
			masked = true
		}
	}
	if reqLines < requests {
		t.Errorf("%d request log lines for %d requests", reqLines, requests)
	}
	if !masked {
		t.Errorf("the request with a card number in its path was not logged with the number masked")
	}
}

// TestIdempotencyRecordDoesNotRevealCard: the idempotency record kept for a
// tokenize request stores a hash of the request next to the response, and the
// response already gives the BIN (8 digits for a 16-digit card), the last 4,
// the expiry and the holder. If that hash is an unkeyed digest of the body,
// whoever reads the database recovers the card number (and CVC) by trying the
// few thousand numbers left — a PAN stored in a form PCI DSS 3.5.1.1 forbids.
func TestIdempotencyRecordDoesNotRevealCard(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	const pan, cvc, key = "4242424242424242", "846", "order-7f3a-tokenize"
	body, err := json.Marshal(map[string]any{"card": map[string]any{"number": pan, "exp_month": 12, "exp_year": 2031, "cvc": cvc, "holder_name": "Abu Bin Ali"}})
	if err != nil {
		t.Fatal(err)
	}
	tok := s.call("POST", "/v1/tokens", sk, body, "Idempotency-Key", key).want(t, 201)
	s.stop()

	db := lkOpenDB(t, s.DataDir)
	var hash, stored []byte
	// The only idempotency record is this request's (its key is stored as a digest).
	if err := db.QueryRow(`SELECT request_hash, response FROM idempotency_keys`).Scan(&hash, &stored); err != nil {
		t.Fatalf("idempotency record: %v", err)
	}
	// The stored response is sealed (it may hold secrets); the BIN and last
	// 4 the attacker needs are in the tokens table anyway.
	if json.Valid(stored) || bytes.Contains(stored, []byte(tok.str("card", "bin"))) {
		t.Errorf("the stored response is readable: %q", stored)
	}
	// An attacker with the database enumerates every Luhn-valid number with
	// the token's BIN and last 4 and every CVC (about 10^7 bodies with a
	// 6-digit BIN), hashing each as the server might have. Only the body the
	// client really sent can match, so hashing that one body under each
	// framing decides whether the search would succeed, without the
	// minute of CPU the search itself costs.
	if bin, last4 := tok.str("card", "bin"), tok.str("card", "last4"); !strings.HasPrefix(pan, bin) || !strings.HasSuffix(pan, last4) {
		t.Fatalf("the token shows %s…%s, not the card's own digits", bin, last4)
	}
	for _, f := range [][]byte{[]byte("POST /v1/tokens?\n"), []byte("POST /v1/tokens\n"), nil} {
		h := sha256.New()
		h.Write(f)
		h.Write(body)
		if bytes.Equal(h.Sum(nil), hash) {
			t.Fatalf("the stored idempotency request hash is an unkeyed SHA-256 of the body (framing %q): the card and its CVC can be recovered from the database by enumeration; key the hash (HMAC under a server secret)", f)
		}
	}
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

func lkNames(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
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

func lkLuhn(s string) bool {
	return cardpkg.CompleteLuhn(s[:len(s)-1]) == s
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

// TestNoCardNumberInFreeTextOrURLErrors: fields stored and shown in clear
// refuse a card number (order_id, description, metadata), and a URL whose
// host is a card number is refused without echoing it.
func TestNoCardNumberInFreeTextOrURLErrors(t *testing.T) {
	s := start(t)
	sk := s.Dev.SecretKey
	const pan = "4111111111111111"
	for _, c := range []struct {
		path, param string
		body        map[string]any
	}{
		{"/v1/payments", "order_id", map[string]any{"amount": 100, "card": card("4242424242424242"), "order_id": "order " + pan}},
		{"/v1/payments", "description", map[string]any{"amount": 100, "card": card("4242424242424242"), "description": pan}},
		{"/v1/payments", "metadata.note", map[string]any{"amount": 100, "card": card("4242424242424242"), "metadata": map[string]string{"note": pan}}},
		{"/v1/sessions", "order_id", map[string]any{"amount": 100, "order_id": pan}},
		{"/v1/webhook_endpoints", "url", map[string]any{"url": "https://" + pan + "/hooks"}},
		{"/v1/sessions", "callback_url", map[string]any{"amount": 100, "callback_url": "https://" + pan + "/cb"}},
	} {
		r := s.call("POST", c.path, sk, c.body)
		if r.Status != 400 || r.str("error", "param") != c.param {
			t.Errorf("%s %s: %d %s", c.path, c.param, r.Status, r.Raw)
		}
		if strings.Contains(string(r.Raw), pan) {
			t.Errorf("%s %s: the error echoes the card number: %s", c.path, c.param, r.Raw)
		}
	}
	if strings.Contains(s.Logs.String(), pan) {
		t.Errorf("a card number reached the log")
	}
}
