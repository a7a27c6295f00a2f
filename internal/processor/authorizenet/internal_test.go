package authorizenet

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/authorizenet/anetfake"
)

// TestDuplicateWindow sends the same charge twice without the look-up in
// between (as two processes racing past it would): the gateway refuses the
// second as a duplicate and the connector answers with the first.
func TestDuplicateWindow(t *testing.T) {
	f := anetfake.New("login", "key0123456789abc")
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := New(Config{APILoginID: "login", TransactionKey: "key0123456789abc", BaseURL: srv.URL})
	ch := charge{txType: "authOnlyTransaction", kind: "auth", merchant: "m", ref: "pay_dup",
		invoice: authInvoice("m", "pay_dup"), amount: 1000, currency: "USD",
		card: processor.Card{Number: "4111111111111111", ExpMonth: 1, ExpYear: time.Now().Year() + 1, CVC: "123"}}
	_, first, err := c.send(context.Background(), ch)
	if err != nil || first.decline != nil {
		t.Fatal(err, first.decline)
	}
	d, second, err := c.send(context.Background(), ch)
	if err != nil || d == nil || second.auth.ID != first.auth.ID || second.auth.AuthCode != first.auth.AuthCode {
		t.Fatalf("duplicate resolved to %+v (%v), want %+v", second.auth, err, first.auth)
	}
	if n := len(f.Transactions()); n != 1 {
		t.Fatalf("%d transactions", n)
	}
	if r := f.Rejections(); len(r) != 0 {
		t.Fatal(r)
	}
}

func TestListShapes(t *testing.T) {
	for _, in := range []string{
		`[{"code":"E1","text":"a"},{"code":"E2","text":"b"}]`,
		`{"message":[{"code":"E1","text":"a"},{"code":"E2","text":"b"}]}`,
	} {
		var l list[textMessage]
		if err := json.Unmarshal([]byte(in), &l); err != nil || len(l) != 2 || l[1].Code != "E2" {
			t.Fatalf("%s → %+v, %v", in, l, err)
		}
	}
	for _, in := range []string{`{"code":"E1","text":"a"}`, `{"message":{"code":"E1","text":"a"}}`} {
		var l list[textMessage]
		if err := json.Unmarshal([]byte(in), &l); err != nil || len(l) != 1 || l[0].Code != "E1" {
			t.Fatalf("%s → %+v, %v", in, l, err)
		}
	}
	var d decimal
	if err := json.Unmarshal([]byte(`12.3`), &d); err != nil {
		t.Fatal(err)
	}
	if n, err := d.minor(); err != nil || n != 1230 {
		t.Fatalf("12.3 → %d, %v", n, err)
	}
}

func TestScrub(t *testing.T) {
	c := New(Config{TransactionKey: "SecretKey123"})
	in := "The value '4111111111111111' is invalid; card 4111 1111 1111 1111; key SecretKey123; reason 27"
	out := c.scrub(in)
	for _, bad := range []string{"4111111111111111", "4111 1111 1111 1111", "SecretKey123"} {
		if strings.Contains(out, bad) {
			t.Fatalf("scrub left %q in %q", bad, out)
		}
	}
	if !strings.Contains(out, "reason 27") {
		t.Fatalf("scrub removed too much: %q", out)
	}
}
