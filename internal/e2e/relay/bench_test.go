package relay_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// BenchmarkRelayOverhead measures what the relay adds to a call, in the
// same run: each iteration calls one loopback destination directly with a
// card in a JSON body, then makes the same call through POST /v1/relay
// (SQLite, one token: parse, audit record made durable, decrypt, call,
// mask). It reports both medians and their ratio:
//
//	go test -run '^$' -bench RelayOverhead -benchtime 200x ./internal/e2e/relay/
func BenchmarkRelayOverhead(b *testing.B) {
	s := harness.Start(b)
	key := s.Dev.SecretKey
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"pm_1","object":"payment_method","card":{"brand":"visa","last4":"4242"}}`)
	}))
	b.Cleanup(dest.Close)
	allow(b, s, key, dest.URL)
	tok := s.NewToken(b, key, visa)
	tpl := `{"card":{"number":"{{T.number}}","exp_month":{{T.exp_month}},"exp_year":{{T.exp_year}}}}`
	req := relayReq(dest.URL+"/v1/payment_methods", "POST", map[string]string{"Content-Type": "application/json",
		"Authorization": "Bearer sk_test_relay"}, strings.ReplaceAll(tpl, "T", tok))
	plain := strings.NewReplacer("{{T.number}}", visa, "{{T.exp_month}}", "12", "{{T.exp_year}}", "2031").Replace(tpl)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	direct := func() {
		rq, _ := http.NewRequest("POST", dest.URL+"/v1/payment_methods", strings.NewReader(plain))
		rq.Header.Set("Content-Type", "application/json")
		rq.Header.Set("Authorization", "Bearer sk_test_relay")
		res, err := client.Do(rq)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("direct: %d", res.StatusCode)
		}
	}
	viaRelay := func() {
		if r := relay(s, key, req); r.Status != 200 || r.Num("status") != 200 {
			b.Fatalf("relay: %d %s", r.Status, r.Raw)
		}
	}
	for range 20 { // warm connections and caches on both paths
		direct()
		viaRelay()
	}
	var d, r []time.Duration
	for b.Loop() {
		t0 := time.Now()
		direct()
		t1 := time.Now()
		viaRelay()
		d, r = append(d, t1.Sub(t0)), append(r, time.Since(t1))
	}
	md, mr := median(d), median(r)
	b.ReportMetric(float64(md.Microseconds()), "direct-median-µs")
	b.ReportMetric(float64(mr.Microseconds()), "relay-median-µs")
	b.ReportMetric(float64(mr)/float64(md), "ratio")
	b.Logf("%d calls each: direct median %v, relay median %v, ratio %.1f", len(d), md, mr, float64(mr)/float64(md))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
