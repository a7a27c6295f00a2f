package event

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/coffer-vault/coffer/internal/store"
)

func TestBody(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.FixedZone("MYT", 8*3600))
	e := &store.Event{ID: "evt_1", Type: "payment.succeeded", Created: created,
		Data: []byte("{\n  \"id\": \"pay_1\",\n  \"amount\": 1000, \"m\": {\"b\": 1, \"a\": \"<&>\"}\n}")}
	got := Body(e)
	want := `{"id":"evt_1","type":"payment.succeeded","created":"2026-03-01T04:30:45.123456789Z",` +
		`"data":{"object":{"id":"pay_1","amount":1000,"m":{"b":1,"a":"<&>"}}}}`
	if string(got) != want {
		t.Fatalf("Body:\n got %s\nwant %s", got, want)
	}
	if !bytes.Equal(Body(e), got) {
		t.Fatal("Body is not deterministic")
	}
	var v struct {
		ID, Type, Created string
		Data              struct{ Object map[string]any }
	}
	if err := json.Unmarshal(got, &v); err != nil || v.Data.Object["id"] != "pay_1" {
		t.Fatalf("Body is not the envelope: %v %+v", err, v)
	}
	for _, bad := range [][]byte{nil, []byte("  "), []byte("{not json")} {
		e.Data = bad
		if b := Body(e); !json.Valid(b) || !bytes.Contains(b, []byte(`"data":{"object":null}`)) {
			t.Errorf("Body with data %q = %s, want valid JSON with a null object", bad, b)
		}
	}
}

// Sign must agree with an independent implementation, byte for byte.
func TestSignMatchesStandardWebhooks(t *testing.T) {
	secret := NewSecret()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"evt_x","data":{"object":{"a":"ü"}}}`)
	ts := time.Now()
	want, err := wh.Sign("evt_x", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	if got := Sign(mustSecret(t, secret), "evt_x", ts.Unix(), body); got != want {
		t.Fatalf("Sign = %s, library says %s", got, want)
	}
}

func TestSecrets(t *testing.T) {
	s := NewSecret()
	if !strings.HasPrefix(s, "whsec_") {
		t.Fatalf("NewSecret = %q", s)
	}
	k, err := ParseSecret(s)
	if err != nil || len(k) != 32 {
		t.Fatalf("ParseSecret(NewSecret()) = %d bytes, %v", len(k), err)
	}
	if NewSecret() == s {
		t.Fatal("NewSecret repeats")
	}
	// The library decodes the same key: a signature of ours verifies.
	wh, _ := standardwebhooks.NewWebhook(s)
	if err := wh.VerifyIgnoringTimestamp([]byte("b"), headers("m", 1, Sign(k, "m", 1, []byte("b")))); err != nil {
		t.Fatalf("library does not accept our key: %v", err)
	}
	raw := strings.TrimPrefix(s, "whsec_")
	for _, bad := range []string{
		"", raw, "whsec_", "whsec_!!!!", "sk_" + raw,
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)),
		"whsec_" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xff}, 16)), // URL-safe alphabet
	} {
		if _, err := ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted", bad)
		} else if strings.Contains(err.Error(), raw) {
			t.Errorf("ParseSecret error repeats the secret: %v", err)
		}
	}
}

func headers(id string, ts int64, sig string) map[string][]string {
	return map[string][]string{"Webhook-Id": {id}, "Webhook-Timestamp": {strconv.FormatInt(ts, 10)}, "Webhook-Signature": {sig}}
}

func TestCheckURL(t *testing.T) {
	const (
		ok      = iota // allowed always
		private        // allowed only with allowPrivate
		never          // refused always
	)
	for _, c := range []struct {
		url  string
		want int
		says string // in the error
	}{
		{"https://shop.example/webhooks?x=1", ok, ""},
		{"http://shop.example:8080/hook", ok, ""},
		{"HTTPS://Shop.Example/hook", ok, ""},
		{"https://93.184.216.34/hook", ok, ""},
		{"https://[2606:2800:220:1:248:1893:25c8:1946]/hook", ok, ""},
		{"https://172.32.0.1/", ok, ""},  // just outside 172.16/12
		{"https://100.128.0.1/", ok, ""}, // just outside 100.64/10

		{"ftp://shop.example/", never, "http"},
		{"file:///etc/passwd", never, "http"},
		{"javascript:alert(1)", never, "http"},
		{"shop.example/hook", never, "http"},
		{"https:///hook", never, "no host"},
		{"https://", never, "no host"},
		{"http://[::1", never, "parsed"},

		{"http://169.254.169.254/latest/meta-data/", never, "metadata"},
		{"http://[fd00:ec2::254]/", never, "metadata"},
		{"http://100.100.100.200/", never, "metadata"},
		{"http://[::ffff:169.254.169.254]/", never, "metadata"},
		{"http://[64:ff9b::a9fe:a9fe]/", never, "metadata"}, // NAT64 to 169.254.169.254
		{"http://169.254.1.1/", never, "link-local"},
		{"http://[fe80::1]/", never, "link-local"},
		{"http://[fe80::1%25eth0]/", never, "link-local"},
		{"http://0.0.0.0/", never, "unspecified"},
		{"http://0.1.2.3/", never, "unspecified"},
		{"http://[::]/", never, "unspecified"},
		{"http://224.0.0.1/", never, "multicast"},
		{"http://[ff02::1]/", never, "multicast"},
		{"http://255.255.255.255/", never, "broadcast"},
		{"http://240.0.0.1/", never, "reserved"},
		{"http://2130706433/", never, "non-standard"},
		{"http://0x7f.1/", never, "non-standard"},
		{"http://127.1/", never, "non-standard"},

		{"http://127.0.0.1:8080/", private, "loopback"},
		{"http://127.5.6.7/", private, "loopback"},
		{"http://[::1]/", private, "loopback"},
		{"http://[::ffff:127.0.0.1]/", private, "loopback"},
		{"http://localhost:3000/", private, "loopback"},
		{"http://LOCALHOST./", private, "loopback"},
		{"http://api.localhost/", private, "loopback"},
		{"http://10.1.2.3/", private, "private"},
		{"http://172.16.0.1/", private, "private"},
		{"http://172.31.255.255/", private, "private"},
		{"http://192.168.1.10/", private, "private"},
		{"http://[fc00::1]/", private, "private"},
		{"http://[fd12:3456::1]/", private, "private"},
		{"http://100.64.0.1/", private, "carrier-grade"},
	} {
		for _, allow := range []bool{false, true} {
			err := CheckURL(c.url, allow)
			wantOK := c.want == ok || (c.want == private && allow)
			switch {
			case wantOK && err != nil:
				t.Errorf("CheckURL(%q, allowPrivate=%v) = %v, want allowed", c.url, allow, err)
			case !wantOK && err == nil:
				t.Errorf("CheckURL(%q, allowPrivate=%v) allowed it", c.url, allow)
			case !wantOK && !strings.Contains(err.Error(), c.says):
				t.Errorf("CheckURL(%q, allowPrivate=%v) = %q, want it to say %q", c.url, allow, err, c.says)
			}
		}
	}
}

func TestBackoff(t *testing.T) {
	d := New(Config{RetryBase: time.Second, MaxRetryDelay: 10 * time.Second})
	for _, c := range []struct {
		n      int
		lo, hi time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{3, 2 * time.Second, 4 * time.Second},
		{4, 4 * time.Second, 8 * time.Second},
		{5, 5 * time.Second, 10 * time.Second},
		{40, 5 * time.Second, 10 * time.Second},
	} {
		seen := map[time.Duration]bool{}
		for range 200 {
			b := d.backoff(c.n)
			if b < c.lo || b > c.hi {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", c.n, b, c.lo, c.hi)
			}
			seen[b] = true
		}
		if len(seen) < 10 {
			t.Errorf("backoff(%d) has no jitter: %d distinct values", c.n, len(seen))
		}
	}
	// The defaults retry for 3 days, first after 5 s, never more than 6 h apart.
	d = New(Config{})
	if d.c.MaxAge != 72*time.Hour || d.c.Timeout != 10*time.Second || d.backoff(1) > 5*time.Second || d.backoff(100) > 6*time.Hour {
		t.Fatalf("defaults: %+v", d.c)
	}
}
