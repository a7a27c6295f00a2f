package security

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cardpkg "github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// typedCard is one card the leak test sends: the number as typed and its CVC.
type typedCard struct {
	sent, cvc string
}

func (c typedCard) body() map[string]any {
	m := harness.Card(c.sent)
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
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey

	var (
		// Not 4242…4242: its BIN, last 4 and mask, stored side by side,
		// spell the number again by accident.
		visa     = typedCard{"4000 0566 5566 5556", "846"}
		mc       = typedCard{"5555-5555-5555-4444", "529"}
		amex     = typedCard{"378282246310005", "7391"}
		jcb      = typedCard{"3566 0020 2036 0505", "613"}
		diners   = typedCard{"36227206271667", "958"}
		discover = typedCard{"6011111111111117", "284"}
		unionpay = typedCard{"6200000000000005", "382"}
		idemCard = typedCard{"5200828282828210", "417"}
		// Sent only inside requests that must be refused.
		declined1  = typedCard{"4000000000000002", "162"}
		declined2  = typedCard{"4000000000009995", "705"}
		luhnBad    = typedCard{"4242424242424241", "591"}
		batchBad   = typedCard{"6011111111111118", "248"}
		inPath     = "4111111111111111"
		inPathDash = "4111-1111-1111-1111"
		inQuery    = "6011000990139424"
		inField    = "5105105105105100"
		inReqID    = cardpkg.CompleteLuhn("497010000000000")
		inIdemKey  = "4012888888881881"
		unknownFld = "4242424242424242" // the card of the request with a card number as a field name
	)
	cards := []typedCard{visa, mc, amex, jcb, diners, discover, unionpay, idemCard, declined1, declined2, luhnBad, batchBad}
	pans := []string{inPath, inPathDash, inQuery, inField, inReqID, inIdemKey, unknownFld}
	var cvcs []string
	for _, c := range cards {
		pans = append(pans, c.sent)
		cvcs = append(cvcs, c.cvc)
	}
	requests := 0
	call := func(method, path string, body any, hdr ...string) harness.Resp {
		requests++
		return s.Call(method, path, sk, body, hdr...)
	}

	cus := call("POST", "/v1/customers", map[string]any{"reference": "leak_customer"}).Want(t, 201).Str("id")
	ids := map[string]string{}
	for _, c := range []typedCard{visa, mc, amex, jcb, diners} {
		ids[c.sent] = call("POST", "/v1/tokens", map[string]any{"card": c.body(), "customer": cus}).Want(t, 201).Str("id")
	}
	batch := call("POST", "/v1/tokens/batch", map[string]any{"cards": []any{discover.body(), batchBad.body(), unionpay.body()}}).Want(t, 200)
	items, _ := batch.Body["data"].([]any)
	if len(items) != 3 || harness.Dig(items[0], "token", "id") == nil || harness.Dig(items[1], "error", "code") != "incorrect_number" || harness.Dig(items[2], "token", "id") == nil {
		t.Fatalf("batch: %s", batch.Raw)
	}
	for _, c := range []typedCard{declined1, declined2} {
		call("POST", "/v1/tokens", map[string]any{"card": c.body()}).Want(t, 402)
	}
	call("POST", "/v1/tokens", map[string]any{"card": luhnBad.body()}).Want(t, 400)

	// Card numbers where they do not belong: the URL path and query, a JSON
	// field name, the request id header and the idempotency key.
	call("GET", "/v1/tokens/"+inPath, nil).Want(t, 404)
	call("POST", "/v1/tokens/"+inPath+"/validate", map[string]any{"cvc": visa.cvc}).Want(t, 404)
	call("DELETE", "/v1/customers/"+inPathDash, nil).Want(t, 404)
	if r := call("GET", "/v1/tokens?customer="+inQuery, nil); r.Status != 200 && r.Status != 404 {
		t.Fatalf("list by a card number: %d %s", r.Status, r.Raw)
	}
	call("POST", "/v1/tokens", map[string]any{"card": harness.Card(unknownFld), inField: true}).Want(t, 400)
	if r := call("GET", "/v1/merchant", nil, "X-Request-Id", inReqID).Want(t, 200); strings.Contains(r.Header.Get("Request-Id"), inReqID[4:12]) {
		t.Errorf("a card number was accepted as the request id: %q", r.Header.Get("Request-Id"))
	}
	// A card number as an idempotency key works like any key: it is stored
	// only as a keyed digest (the file scan below proves it never lands in clear).
	first := call("POST", "/v1/tokens", map[string]any{"card": idemCard.body()}, "Idempotency-Key", inIdemKey).Want(t, 201)
	if again := call("POST", "/v1/tokens", map[string]any{"card": idemCard.body()}, "Idempotency-Key", inIdemKey).Want(t, 201); again.Str("id") != first.Str("id") {
		t.Errorf("idempotent replay minted another token")
	}

	// Use the tokens: validate with CVCs, disable, delete.
	for _, c := range []typedCard{visa, amex} {
		v := call("POST", "/v1/tokens/"+ids[c.sent]+"/validate", map[string]any{"cvc": c.cvc}).Want(t, 200)
		if v.Body["valid"] != true || v.Str("cvc_check") != "pass" {
			t.Fatalf("validate: %s", v.Raw)
		}
	}
	call("POST", "/v1/tokens/"+ids[diners.sent]+"/disable", nil).Want(t, 200)
	call("DELETE", "/v1/tokens/"+ids[mc.sent], nil).Want(t, 200)
	call("DELETE", "/v1/tokens/"+ids[jcb.sent], nil).Want(t, 200)
	call("GET", "/v1/customers/"+cus, nil).Want(t, 200)

	// 3-D Secure keeps a CVC (and, for a payment by card, the card) across
	// the challenge, sealed: one challenge is left waiting, one completed.
	chPay, chTok := typedCard{"4000 0025 0000 3155", "908"}, typedCard{"4000-0025-0000-3155", "819"}
	pans, cvcs = append(pans, chPay.sent, chTok.sent), append(cvcs, chPay.cvc, chTok.cvc)
	if r := call("POST", "/v1/payments", map[string]any{"amount": 1000, "card": chPay.body(), "return_url": "https://shop.example/back"}).Want(t, 201); r.Str("status") != "requires_action" {
		t.Fatalf("challenge payment: %s", r.Raw)
	}
	ch := call("POST", "/v1/tokens", map[string]any{"card": chTok.body(), "return_url": "https://shop.example/back"}).Want(t, 201)
	if done := harness.SubmitOTP(t, ch.Str("next_action", "url"), "123456"); done.Status != 303 {
		t.Fatalf("challenge: %d %s", done.Status, done.Body)
	}
	if n := s.ChallengeSecrets(t); n != 1 {
		t.Fatalf("want the waiting challenge's sealed card only, got %d secrets", n)
	}

	// Scan once while the server runs (the WAL still holds recent pages),
	// then again after a graceful stop has flushed and checkpointed.
	running := harness.ReadTree(t, s.DataDir)
	s.Stop()
	stopped := harness.ReadTree(t, s.DataDir)
	if _, ok := stopped["coffer.db"]; !ok {
		t.Fatalf("no database in %s: %v", s.DataDir, harness.TreeNames(stopped))
	}
	if _, ok := stopped["master.key"]; !ok {
		t.Fatalf("no development key file in %s: %v", s.DataDir, harness.TreeNames(stopped))
	}
	sources := map[string][]byte{"server log": []byte(s.Logs.String()), "stdout": []byte(s.Stdout.String())}
	for name, b := range running {
		sources["running:"+name] = b
	}
	for name, b := range stopped {
		sources[name] = b
	}

	for _, pan := range pans {
		digits := harness.Digits(pan)
		needles := map[string][]byte{"digits": []byte(digits), "utf-16le": harness.UTF16LE(digits), "as sent": []byte(pan), "as sent utf-16le": harness.UTF16LE(pan)}
		for src, data := range sources {
			for form, n := range needles {
				if i := bytes.Index(data, n); i >= 0 {
					t.Errorf("%s holds card %s… in clear (%s) at %d: %q", src, digits[:6], form, i, harness.Around(data, i, len(n)))
				}
			}
		}
	}
	for _, cvc := range cvcs {
		for src, data := range sources {
			for _, p := range []string{`"cvc":"%s"`, `"cvc": "%s"`, `"cvc":%s`, `cvc=%s`, `"cvc\":\"%s\"`} {
				n := []byte(fmt.Sprintf(p, cvc))
				if i := bytes.Index(data, n); i >= 0 {
					t.Errorf("%s holds a CVC: %q", src, harness.Around(data, i, len(n)))
				}
				if i := bytes.Index(data, harness.UTF16LE(string(n))); i >= 0 {
					t.Errorf("%s holds a CVC in UTF-16: at %d", src, i)
				}
			}
			// A 4-digit CVC is rare enough to look for as raw bytes anywhere,
			// as a word of its own: inside a longer number (a timestamp) or a
			// hex/base32 run (a digest) it is chance, and 4 digits turn up in
			// random hex about once per 16 digests. Stored column values are
			// checked one by one below, through SQLite.
			if len(cvc) == 4 {
				if i := harness.Isolated(data, []byte(cvc), harness.IsAlnum); i >= 0 {
					t.Errorf("%s holds the CVC %s: %q", src, cvc, harness.Around(data, i, len(cvc)))
				}
			}
		}
	}
	// Every value of every row of every table, read back through SQLite: no
	// card number, and no CVC as a value or a word inside one. (3-digit CVCs
	// are looked for here rather than in the raw bytes, where ciphertexts and
	// WAL checksums would match them by chance.) Every CVC sent above has a
	// 0, 1, 8 or 9, so none can occur inside a lower-case base32 id.
	db := harness.OpenSQLiteReadOnly(t, s.DataDir)
	for table, rows := range harness.DumpDB(t, db) {
		for _, row := range rows {
			for col, v := range row {
				for _, pan := range pans {
					if strings.Contains(v, harness.Digits(pan)) || strings.Contains(v, pan) {
						t.Errorf("%s.%s holds card %s… in clear", table, col, harness.Digits(pan)[:6])
					}
				}
				for _, cvc := range cvcs {
					if i := harness.Isolated([]byte(v), []byte(cvc), harness.IsWordByte); i >= 0 {
						t.Errorf("%s.%s holds the CVC %s: %q", table, col, cvc, harness.Around([]byte(v), i, len(cvc)))
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
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	const pan, cvc, key = "4242424242424242", "846", "order-7f3a-tokenize"
	body, err := json.Marshal(map[string]any{"card": map[string]any{"number": pan, "exp_month": 12, "exp_year": 2031, "cvc": cvc, "holder_name": "Abu Bin Ali"}})
	if err != nil {
		t.Fatal(err)
	}
	tok := s.Call("POST", "/v1/tokens", sk, body, "Idempotency-Key", key).Want(t, 201)
	s.Stop()

	db := harness.OpenSQLiteReadOnly(t, s.DataDir)
	var hash, stored []byte
	// The only idempotency record is this request's (its key is stored as a digest).
	if err := db.QueryRow(`SELECT request_hash, response FROM idempotency_keys`).Scan(&hash, &stored); err != nil {
		t.Fatalf("idempotency record: %v", err)
	}
	// The stored response is sealed (it may hold secrets); the BIN and last
	// 4 the attacker needs are in the tokens table anyway.
	if json.Valid(stored) || bytes.Contains(stored, []byte(tok.Str("card", "bin"))) {
		t.Errorf("the stored response is readable: %q", stored)
	}
	// An attacker with the database enumerates every Luhn-valid number with
	// the token's BIN and last 4 and every CVC (about 10^7 bodies with a
	// 6-digit BIN), hashing each as the server might have. Only the body the
	// client really sent can match, so hashing that one body under each
	// framing decides whether the search would succeed, without the
	// minute of CPU the search itself costs.
	if bin, last4 := tok.Str("card", "bin"), tok.Str("card", "last4"); !strings.HasPrefix(pan, bin) || !strings.HasSuffix(pan, last4) {
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

// TestNoCardNumberInFreeTextOrURLErrors: fields stored and shown in clear
// refuse a card number (order_id, description, metadata), and a URL whose
// host is a card number is refused without echoing it.
func TestNoCardNumberInFreeTextOrURLErrors(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	const pan = "4111111111111111"
	for _, c := range []struct {
		path, param string
		body        map[string]any
	}{
		{"/v1/payments", "order_id", map[string]any{"amount": 100, "card": harness.Card("4242424242424242"), "order_id": "order " + pan}},
		{"/v1/payments", "description", map[string]any{"amount": 100, "card": harness.Card("4242424242424242"), "description": pan}},
		{"/v1/payments", "metadata.note", map[string]any{"amount": 100, "card": harness.Card("4242424242424242"), "metadata": map[string]string{"note": pan}}},
		{"/v1/sessions", "order_id", map[string]any{"amount": 100, "order_id": pan}},
		{"/v1/webhook_endpoints", "url", map[string]any{"url": "https://" + pan + "/hooks"}},
		{"/v1/sessions", "callback_url", map[string]any{"amount": 100, "callback_url": "https://" + pan + "/cb"}},
	} {
		r := s.Call("POST", c.path, sk, c.body)
		if r.Status != 400 || r.Str("error", "param") != c.param {
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

// TestSecretsStayHidden: the secret key, HMAC secret and the
// KEK never reach a response, a log line or the database in clear.
func TestSecretsStayHidden(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	other := s.NewMerchant("Second")
	var bodies strings.Builder
	for _, r := range []harness.Resp{
		s.Call("GET", "/v1/merchant", sk, nil),
		s.Call("PATCH", "/v1/merchant", sk, map[string]any{"tokenization_return_url": "https://shop.example/r"}),
		s.Call("POST", "/v1/tokens", sk, map[string]any{"card": harness.Card("4242424242424242")}),
		s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "currency": "MYR", "card": harness.Card("4000000000000002")}),
		s.Call("GET", "/v1/merchant", other.SecretKey, nil),
		s.Call("GET", "/v1/merchant", sk+"x", nil),
	} {
		bodies.Write(r.Raw)
		for k, vs := range r.Header {
			bodies.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
	}
	time.Sleep(50 * time.Millisecond)
	kek, _ := os.ReadFile(filepath.Join(s.DataDir, "master.key"))
	secrets := map[string]string{"dev secret key": sk, "dev hmac": s.Dev.HMACSecret, "other secret key": other.SecretKey, "other hmac": other.HMACSecret}
	if k := strings.TrimSpace(string(kek)); len(k) >= 16 {
		secrets["master key file"] = k
		if raw, err := base64.StdEncoding.DecodeString(k); err == nil {
			secrets["master key hex"] = hex.EncodeToString(raw)
		}
	}
	logs := s.Logs.String()
	for name, v := range secrets {
		if strings.Contains(bodies.String(), v) {
			t.Errorf("%s in a response", name)
		}
		if strings.Contains(logs, v) {
			t.Errorf("%s in the logs", name)
		}
		if where := s.DBHolds(t, v); len(where) > 0 {
			t.Errorf("%s stored in clear in %v", name, where)
		}
	}
}

// TestCardNumberInCardFieldsNotStored: a card number typed into another field
// of the card object (holder name, a classic form mix-up) is stored in clear
// in tokens.holder_name and answered back; the server already refuses a PAN
// in an Idempotency-Key or request id, and the card object is documented
// card data.
func TestCardNumberInCardFieldsNotStored(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	c := harness.Card("4242424242424242")
	c["holder_name"] = "4111 1111 1111 1111"
	r := s.Call("POST", "/v1/tokens", sk, map[string]any{"card": c})
	harness.NoPAN(t, "holder_name tokenize", r, "4111 1111 1111 1111")
	c2 := harness.Card("5555555555554444")
	c2["holder_name"] = strayPAN
	r = s.Call("POST", "/v1/payments", sk, map[string]any{"amount": 1000, "currency": "MYR", "card": c2, "save_card": true})
	harness.NoPAN(t, "holder_name pay+save", r, strayPAN)
	for _, n := range []string{strayPAN, "4111 1111 1111 1111"} {
		if where := s.DBHolds(t, n); len(where) > 0 {
			t.Errorf("a card number given as holder_name is stored in clear in %v", where)
		}
	}
}

// TestFingerprintOracleObservation documents (without
// failing) that a secret key alone recovers a stored card's full number: a
// token shows 8 BIN digits + last 4 of a 16-digit card and its fingerprint,
// leaving ~1,000 Luhn-valid candidates, and POST /v1/tokens with
// verify:false (no processor call) returns each candidate's fingerprint.
func TestFingerprintOracleObservation(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	secret := "4000056655665556"
	tk := s.Call("POST", "/v1/tokens", sk, map[string]any{"card": harness.Card(secret)}).Want(t, 201)
	bin, last4, fp := tk.Str("card", "bin"), tk.Str("card", "last4"), tk.Str("card", "fingerprint")
	start := time.Now()
	tries := 0
	for mid := 0; mid < 10000; mid++ {
		cand := bin + strings.Repeat("0", 4-len(strconv.Itoa(mid))) + strconv.Itoa(mid) + last4
		if !harness.Luhn(cand) {
			continue
		}
		tries++
		r := s.Call("POST", "/v1/tokens", sk, map[string]any{"card": harness.Card(cand), "verify": false})
		if r.Str("card", "fingerprint") == fp {
			t.Logf("observation: recovered %s from bin %s + last4 %s + fingerprint in %d tokenizations (%v)", cand, bin, last4, tries, time.Since(start))
			return
		}
	}
	t.Logf("not recovered after %d tries", tries)
}
