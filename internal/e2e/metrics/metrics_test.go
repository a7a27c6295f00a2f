package metrics

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// sample is one line of the text exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parse reads Prometheus's text format: enough of it for this test (no
// timestamps; label values with \\, \" and \n escapes).
func parse(t *testing.T, text string) []sample {
	t.Helper()
	var out []sample
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := sample{labels: map[string]string{}}
		i := strings.IndexAny(line, "{ ")
		if i < 0 {
			t.Fatalf("bad line %q", line)
		}
		s.name, line = line[:i], line[i:]
		if line[0] == '{' {
			line = line[1:]
			for line[0] != '}' {
				eq := strings.Index(line, `="`)
				if eq < 0 {
					t.Fatalf("bad labels in %q", line)
				}
				key := line[:eq]
				line = line[eq+2:]
				var v strings.Builder
				for line[0] != '"' {
					if line[0] == '\\' {
						line = line[1:]
						if line[0] == 'n' {
							v.WriteByte('\n')
							line = line[1:]
							continue
						}
					}
					v.WriteByte(line[0])
					line = line[1:]
				}
				s.labels[key] = v.String()
				line = strings.TrimPrefix(line[1:], ",")
			}
			line = line[1:]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
		if err != nil {
			t.Fatalf("bad value in %q", line)
		}
		s.value = v
		out = append(out, s)
	}
	return out
}

// scrape GETs /metrics from the metrics listener.
func scrape(t *testing.T, addr string) []sample {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("scrape: %d %v", res.StatusCode, err)
	}
	return parse(t, string(b))
}

// sum adds the samples of name whose labels include want.
func sum(samples []sample, name string, want map[string]string) (total float64, found bool) {
	for _, s := range samples {
		if s.name != name {
			continue
		}
		ok := true
		for k, v := range want {
			ok = ok && s.labels[k] == v
		}
		if ok {
			total += s.value
			found = true
		}
	}
	return total, found
}

// idPrefix is any of Coffer's id (and key) prefixes at the start of a word.
var idPrefix = regexp.MustCompile(`(^|[^A-Za-z0-9])(tok|pay|mer|cus|evt|req|3ds|ses|aud|chl|ctst|dek|dk|dla|dlv|ins|kid|pa|ps|sk|pk|rk|we|whsec|val|re|ref)_`)

// digitRun is six digits in a row: more than any label of ours holds.
var digitRun = regexp.MustCompile(`[0-9]{6}`)

// TestMetricsListener: with --metrics-addr the server serves /metrics on
// that listener (not the API's port), counting requests by route pattern,
// acquirer calls, 3-D Secure challenges, webhook failures by host and the
// webhook queue, and the store; no label value holds an id, a card
// number's digits, a URL or a secret.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		addrc := make(chan string, 1)
		s := harness.Start(t, append(opts, harness.WithWebhookRetryBase(time.Hour), harness.WithConfig(func(c *app.Config) {
			c.MetricsAddr = "127.0.0.1:0"
			c.OnMetricsReady = func(a string) { addrc <- a }
		}))...)
		var maddr string
		select {
		case maddr = <-addrc:
		default:
			t.Fatal("the metrics listener was not ready when the server was")
		}
		if api := strings.TrimPrefix(s.URL, "http://"); maddr == api {
			t.Fatalf("metrics on the API's own address %s", api)
		}
		s.Call("GET", "/metrics", "", nil).Want(t, 404) // the API port does not serve them

		sk := s.Dev.SecretKey
		rv := harness.NewReceiver(t)
		rv.Fail = 1 << 20 // every attempt fails
		rv.Register(t, s, sk, "payment.succeeded")
		pan := "4242424242424242"
		tok := s.NewToken(t, sk, pan)
		s.Call("GET", "/v1/tokens/"+tok, sk, nil).Want(t, 200)
		p := harness.PaymentOK(t, s.Call("POST", "/v1/payments", sk, harness.TokenPayment(tok, 1000)), 201, "succeeded")
		s.Call("GET", "/v1/payments/"+p["id"].(string), sk, nil).Want(t, 200)
		s.Call("GET", "/no/such/route/"+pan, "", nil).Want(t, 404)
		s.Call("GET", "/v1/payments/pay_doesnotexist", sk, nil).Want(t, 404)
		_, u := s.StartChallenge(t, "/v1/tokens", map[string]any{"card": harness.Card(harness.ChallengeCard), "return_url": "https://shop.example/back"})
		harness.PassChallenge(t, u)

		var samples []sample
		harness.WaitUntil(t, 20*time.Second, "a failed webhook attempt counted", func() bool {
			samples = scrape(t, maddr)
			n, _ := sum(samples, "coffer_webhook_failures_total", map[string]string{"host": "127.0.0.1"})
			return n >= 1
		})

		for _, w := range []struct {
			name   string
			labels map[string]string
		}{
			{"coffer_http_requests_total", map[string]string{"route": "/v1/tokens", "method": "POST", "code": "201"}},
			{"coffer_http_requests_total", map[string]string{"route": "/v1/tokens/{id}", "method": "GET", "code": "200"}},
			{"coffer_http_requests_total", map[string]string{"route": "/v1/payments", "method": "POST", "code": "201"}},
			{"coffer_http_requests_total", map[string]string{"route": "/v1/payments/{id}", "method": "GET", "code": "404"}},
			{"coffer_http_requests_total", map[string]string{"route": "unmatched", "method": "GET", "code": "404"}},
			{"coffer_http_requests_total", map[string]string{"route": "/3ds/{id}", "method": "POST"}},
			{"coffer_http_request_duration_seconds_count", map[string]string{"route": "/v1/payments", "method": "POST"}},
			{"coffer_processor_calls_total", map[string]string{"connector": "simulator", "outcome": "ok"}},
			{"coffer_processor_call_duration_seconds_count", map[string]string{"connector": "simulator"}},
			{"coffer_threeds_challenges_total", map[string]string{"outcome": "started"}},
			{"coffer_threeds_challenges_total", map[string]string{"outcome": "passed"}},
			{"coffer_webhook_attempts_total", map[string]string{"outcome": "failed"}},
			{"coffer_webhook_deliveries_pending", nil},
		} {
			if n, _ := sum(samples, w.name, w.labels); n < 1 {
				t.Errorf("%s%v = %v, want ≥ 1", w.name, w.labels, n)
			}
		}
		if _, ok := sum(samples, "coffer_webhook_oldest_pending_seconds", nil); !ok {
			t.Error("no coffer_webhook_oldest_pending_seconds")
		}
		if s.Cfg.DatabaseURL == "" {
			for _, name := range []string{"coffer_store_commits_total", "coffer_store_commit_batch_size_count", "coffer_store_commit_duration_seconds_count",
				"coffer_store_wal_syncs_total"} {
				if n, _ := sum(samples, name, nil); n < 1 {
					t.Errorf("%s = %v on SQLite", name, n)
				}
			}
			if n, _ := sum(samples, "coffer_store_wal_sync_seconds_total", nil); n <= 0 {
				t.Errorf("coffer_store_wal_sync_seconds_total = %v on SQLite", n)
			}
			if n, _ := sum(samples, "coffer_db_connections_open", map[string]string{"pool": "write"}); n < 1 {
				t.Errorf("coffer_db_connections_open{pool=write} = %v on SQLite", n)
			}
		} else if n, _ := sum(samples, "coffer_db_connections_open", map[string]string{"pool": "postgres"}); n < 1 {
			t.Errorf("coffer_db_connections_open{pool=postgres} = %v", n)
		}

		secrets := []string{sk, s.Dev.PublishableKey, s.Dev.HMACSecret, rv.Secret(), tok, p["id"].(string), s.Dev.ID}
		for _, smp := range samples {
			for k, v := range smp.labels {
				switch {
				case idPrefix.MatchString(v):
					t.Errorf("%s{%s=%q}: an id prefix in a label", smp.name, k, v)
				case digitRun.MatchString(v):
					t.Errorf("%s{%s=%q}: a run of digits in a label", smp.name, k, v)
				case strings.Contains(v, "://") || strings.Contains(v, "?"):
					t.Errorf("%s{%s=%q}: a URL in a label", smp.name, k, v)
				}
				for _, sec := range secrets {
					if sec != "" && strings.Contains(v, sec) {
						t.Errorf("%s{%s=%q}: holds a secret or id", smp.name, k, v)
					}
				}
			}
		}
	})
}
