package pivot

// expiryAt: the instant asked for is the instant kept, in any time zone.

import (
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// regression: expiryAt was converted to whole seconds from "now" and the
// core added them to its own, later "now", so the session object's
// expiryAt was not the instant the merchant asked for (off by the
// request's latency and the rounding, e.g. 10:00:00.000Z asked,
// 10:00:00.213Z shown). Guards: the expiryAt sent (any time zone) is the
// expiryAt kept and shown, as the same instant.
func TestPivotExpiryAtEchoed(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	want := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	jakarta := time.FixedZone("WIB", 7*3600)
	v := harness.PivotAPISession(t, s, tok, map[string]any{"expiryAt": want.In(jakarta).Format(time.RFC3339)})
	got, err := time.Parse(time.RFC3339, harness.Str(v, "expiryAt"))
	if err != nil {
		t.Fatalf("expiryAt %v: %v", v["expiryAt"], err)
	}
	if !got.Equal(want) {
		t.Errorf("expiryAt %s asked, %s kept (off by %v)", want.UTC().Format(time.RFC3339Nano), got.Format(time.RFC3339Nano), got.Sub(want))
	}
}

// TestPivotExpiryAtZones: expiryAt in the past, or with a time zone that
// puts it in the past, is a 400 naming expiryAt; a +07:00 time 30 minutes
// ahead is accepted.
func TestPivotExpiryAtZones(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	tok := harness.PivotToken(t, s, s.Dev.ID, s.Dev.SecretKey)
	base := func(exp string) map[string]any {
		return map[string]any{"amount": map[string]any{"value": 10000, "currency": "IDR"}, "mode": "API", "expiryAt": exp}
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	harness.PivotFail(t, "past", s.Call("POST", "/pivot/v2/payments", tok, base(past)), 400, "4000", "expiryAt")
	// 30 minutes ahead in UTC written as local Jakarta time without shifting: 7 hours in the past.
	local := time.Now().Add(30*time.Minute).UTC().Format("2006-01-02T15:04:05") + "+07:00"
	harness.PivotFail(t, "wall clock with the wrong zone", s.Call("POST", "/pivot/v2/payments", tok, base(local)), 400, "4000", "expiryAt")
	ok := time.Now().Add(30 * time.Minute).In(time.FixedZone("WIB", 7*3600)).Format(time.RFC3339)
	harness.PivotOK(t, "+07:00", s.Call("POST", "/pivot/v2/payments", tok, base(ok)))
}
