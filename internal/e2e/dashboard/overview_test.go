package dashboard

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
)

// backdate moves a payment's creation days back through the database, as
// time would: the server has no clock to set.
func backdate(t *testing.T, s *harness.Server, paymentID string, days int) {
	t.Helper()
	var created int64
	db := s.OpenDB(t)
	if err := db.QueryRow(s.Rebind(`SELECT created FROM payments WHERE id = ?`), paymentID).Scan(&created); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(s.Rebind(`UPDATE payments SET created = ? WHERE id = ?`),
		created-int64(days)*24*int64(time.Hour/time.Microsecond), paymentID); err != nil {
		t.Fatal(err)
	}
}

// createdDay is the UTC day a payment was created, from the API.
func createdDay(t *testing.T, s *harness.Server, sk, paymentID string) time.Time {
	t.Helper()
	c, err := time.Parse(time.RFC3339, s.Call("GET", "/v1/payments/"+paymentID, sk, nil).Want(t, 200).Str("created"))
	if err != nil {
		t.Fatal(err)
	}
	return c.UTC().Truncate(24 * time.Hour)
}

// pay makes a payment with a test card, approved or declined, and returns its id.
func pay(t *testing.T, s *harness.Server, sk, number string, amount int, kv ...any) string {
	t.Helper()
	r := s.CreatePayment(sk, harness.CardPayment(number, amount, kv...))
	if r.Status != 201 && r.Status != 402 {
		t.Fatalf("paying with %s…: %d %s", number[:6], r.Status, r.Raw)
	}
	if r.Status == 402 {
		return r.Str("error", "payment", "id")
	}
	return r.Str("id")
}

// ddText is the text of the element with this id in a page.
func ddText(t *testing.T, p page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `">([^<]*)<`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no #%s in the page:\n%s", id, p.body)
	}
	return m[1]
}

// TestDashboardOverview: the overview's totals, success rate and declines
// by reason (in the bars' titles and the table) are the merchant's payments
// of the range: two succeeded, three declined with two reasons (the
// simulator's insufficient-funds and lost-card cards), one waiting for 3-D
// Secure (counted, but no outcome yet); a payment 40 days old counts only
// in the 90-day range, another merchant's never. Signed in, /dashboard
// opens the overview; a range not offered is a 400 naming days. Both
// backends.
func TestDashboardOverview(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		newUser(t, s, s.Dev.ID, "ops@example.com")
		first := pay(t, s, sk, "4242424242424242", 5000)
		pay(t, s, sk, "5555555555554444", 2500)
		pay(t, s, sk, simulator.CardInsufficientFunds, 1000)
		pay(t, s, sk, simulator.CardInsufficientFunds, 1100)
		pay(t, s, sk, simulator.CardLostCard, 1200)
		harness.PaymentOK(t, s.CreatePayment(sk, harness.CardPayment(simulator.CardThreeDSSuccess, 900)), 201, "requires_action")
		old := pay(t, s, sk, "4242424242424242", 7000)
		backdate(t, s, old, 40)
		other := s.NewMerchant("Other")
		pay(t, s, other.SecretKey, "4242424242424242", 9900)
		today := createdDay(t, s, sk, first)

		b := newClient(t, s)
		if p := b.do("GET", "/dashboard/overview", nil); p.status != 303 || p.header.Get("Location") != "/dashboard/signin" {
			t.Fatalf("the overview signed out: %d to %q", p.status, p.header.Get("Location"))
		}
		if p := b.signIn("ops@example.com", userPassword); p.status != 303 {
			t.Fatalf("sign-in: %d\n%s", p.status, p.body)
		}
		if p := b.do("GET", "/dashboard", nil); p.status != 303 || p.header.Get("Location") != "/dashboard/overview" {
			t.Errorf("/dashboard signed in: %d to %q, want the overview", p.status, p.header.Get("Location"))
		}

		p := b.do("GET", "/dashboard/overview", nil)
		if p.status != 200 || !strings.Contains(p.body, `data-state="overview"`) {
			t.Fatalf("overview: %d\n%s", p.status, p.body)
		}
		for id, want := range map[string]string{"total-count": "6", "total-rate": "40%", "total-declined": "3",
			"total-volume-MYR": "MYR 75.00"} {
			if got := ddText(t, p, id); got != want {
				t.Errorf("30 days: #%s = %q, want %q", id, got, want)
			}
		}
		if strings.Contains(p.body, "total-volume-") && strings.Count(p.body, `id="total-volume-`) != 1 {
			t.Errorf("volumes of more than one currency")
		}
		tip := today.Format("Mon 2 Jan 2006")
		for _, want := range []string{
			`<title>insufficient_funds: 2</title>`, `<title>lost_card: 1</title>`, // declines by reason, in the bars
			`<th scope="row">insufficient_funds</th><td class="num">2</td>`, // and the table
			`<title>` + tip + `: 6</title>`,                                 // today's payments
			`<title>` + tip + `: 40%</title>`,                               // today's success rate
			`<title>` + tip + `: MYR 75.00</title>`,                         // today's volume
			`aria-current="page">Overview</a>`,
		} {
			if !strings.Contains(p.body, want) {
				t.Errorf("the overview has no %s", want)
			}
		}
		if strings.Contains(p.body, "4242424242424242") || strings.Contains(p.body, "style=") || strings.Contains(p.body, "<script") {
			t.Errorf("the overview shows a card number, a style attribute or a script")
		}

		p = b.do("GET", "/dashboard/overview?days=90", nil)
		if got := ddText(t, p, "total-count"); got != "7" || ddText(t, p, "total-volume-MYR") != "MYR 145.00" {
			t.Errorf("90 days: %s payments, volume %s; want 7 and MYR 145.00", got, ddText(t, p, "total-volume-MYR"))
		}
		if got := ddText(t, p, "total-rate"); got != "50%" {
			t.Errorf("90 days: success rate %s, want 50%%", got)
		}
		p = b.do("GET", "/dashboard/overview?days=7", nil)
		if got := ddText(t, p, "total-count"); got != "6" || !strings.Contains(p.body, `<option value="7" selected>`) {
			t.Errorf("7 days: %s payments (or 7 not selected)", got)
		}
		for _, bad := range []string{"5", "x", "-30", "30000"} {
			if p := b.do("GET", "/dashboard/overview?days="+bad, nil); p.status != 400 || !strings.Contains(p.body, "(days)") {
				t.Errorf("days=%s: %d\n%s", bad, p.status, p.body)
			}
		}

		// Another merchant's user sees only its own payment.
		newUser(t, s, other.ID, "other@example.com")
		b2 := newClient(t, s)
		b2.signIn("other@example.com", userPassword)
		p = b2.do("GET", "/dashboard/overview", nil)
		if ddText(t, p, "total-count") != "1" || ddText(t, p, "total-volume-MYR") != "MYR 99.00" || strings.Contains(p.body, "insufficient_funds") {
			t.Errorf("the other merchant's overview: %s payments, %s", ddText(t, p, "total-count"), ddText(t, p, "total-volume-MYR"))
		}
	})
}

// TestDashboardPaymentDates: the payments page's from and to dates (UTC
// days, both included) select by creation time in the store, so the page
// of 100 is the filtered page: one payment made today, one moved back to
// yesterday, one to three days ago. A date that is not one, or dates the
// wrong way round, are a 400 naming the field. Both backends.
func TestDashboardPaymentDates(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		t.Parallel()
		s := harness.Start(t, opts...)
		sk := s.Dev.SecretKey
		newUser(t, s, s.Dev.ID, "ops@example.com")
		now := pay(t, s, sk, "4242424242424242", 1000, "order_id", "ord-today")
		yesterday := pay(t, s, sk, "4242424242424242", 2000, "order_id", "ord-yesterday")
		before := pay(t, s, sk, "4242424242424242", 3000, "order_id", "ord-before")
		backdate(t, s, yesterday, 1)
		backdate(t, s, before, 3)
		today := createdDay(t, s, sk, now)
		day := func(n int) string { return today.AddDate(0, 0, n).Format(time.DateOnly) }

		b := newClient(t, s)
		b.signIn("ops@example.com", userPassword)
		listed := func(q url.Values) []string {
			t.Helper()
			p := b.do("GET", "/dashboard/payments?"+q.Encode(), nil)
			if p.status != 200 {
				t.Fatalf("payments?%s: %d\n%s", q.Encode(), p.status, p.body)
			}
			var ids []string
			for _, m := range regexp.MustCompile(`<tr data-id="([^"]+)"`).FindAllStringSubmatch(p.body, -1) {
				ids = append(ids, m[1])
			}
			return ids
		}
		for _, c := range []struct {
			name string
			q    url.Values
			want []string
		}{
			{"no dates", url.Values{}, []string{now, yesterday, before}},
			{"from today", url.Values{"from": {day(0)}}, []string{now}},
			{"to yesterday", url.Values{"to": {day(-1)}}, []string{yesterday, before}},
			{"yesterday only", url.Values{"from": {day(-1)}, "to": {day(-1)}}, []string{yesterday}},
			{"from yesterday to today", url.Values{"from": {day(-1)}, "to": {day(0)}}, []string{now, yesterday}},
			{"to two days ago", url.Values{"to": {day(-2)}}, []string{before}},
			{"an order and dates", url.Values{"q": {"ord-today"}, "to": {day(-1)}}, nil},
		} {
			if got := listed(c.q); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("%s: listed %v, want %v", c.name, got, c.want)
			}
		}
		p := b.do("GET", "/dashboard/payments?"+url.Values{"from": {day(-1)}, "to": {day(0)}}.Encode(), nil)
		if !strings.Contains(p.body, `id="from" name="from" type="date" value="`+day(-1)+`"`) {
			t.Errorf("the form does not keep the dates:\n%s", p.body)
		}

		for _, c := range []struct {
			q    url.Values
			want string
		}{
			{url.Values{"from": {"yesterday"}}, "(from)"},
			{url.Values{"to": {"2026-02-30"}}, "(to)"},
			{url.Values{"from": {"14/03/2026"}}, "(from)"},
			{url.Values{"from": {day(0)}, "to": {day(-1)}}, "(from) is after the last day (to)"},
		} {
			if p := b.do("GET", "/dashboard/payments?"+c.q.Encode(), nil); p.status != 400 || !strings.Contains(p.body, c.want) {
				t.Errorf("payments?%s: %d, want 400 naming %s\n%s", c.q.Encode(), p.status, c.want, p.body)
			}
		}
	})
}

// TestBrowserOverview, in headless Chromium: the overview of a week of
// payments (some declined) draws its charts, the declines' table opens from
// the keyboard, and at 360 px nothing scrolls sideways and the phone
// drawings' text stays readable. Screenshots at 1280
// and 360 px (docs/img/dashboard-overview-*.png with
// $COFFER_UPDATE_DOCS_IMG).
func TestBrowserOverview(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	newUser(t, s, s.Dev.ID, "ops@example.com")
	cards := []string{"4242424242424242", "5555555555554444", "4242424242424242", simulator.CardInsufficientFunds,
		"4242424242424242", simulator.CardLostCard, "5555555555554444", simulator.CardGenericDecline}
	for i := range 24 {
		id := pay(t, s, sk, cards[i%len(cards)], 1500+(i*737)%9000)
		backdate(t, s, id, (i*5)%12)
	}
	pay(t, s, sk, "4242424242424242", 4200, "currency", "USD")

	ctx, console := signedInBrowser(t, s)
	if n := harness.JS[float64](t, ctx, `document.querySelectorAll("svg.chart rect.bar").length`); n < 3*30 {
		t.Errorf("%v bars drawn, want the payments' and two volumes' 30 days and the declines", n)
	}
	if w := harness.JS[float64](t, ctx, `document.getElementById("payments-per-day").getBoundingClientRect().width`); w < 300 {
		t.Errorf("the payments chart is %v px wide", w)
	}
	// The declines' table opens from the keyboard.
	harness.Steps(t, ctx, "open the declines table with Enter",
		chromedp.Focus(chromedp.CSS(`#figure-declines summary`)), chromedp.KeyEvent("\r"))
	harness.WaitJS(t, ctx, "the declines table", `document.getElementById("declines-table").getBoundingClientRect().height > 0`)
	if !harness.JS[bool](t, ctx, `document.getElementById("declines-table").innerText.includes("insufficient_funds\t3")`) {
		t.Errorf("the declines table:\n%s", harness.PageText(t, ctx))
	}
	shot(t, ctx, "overview-1280")

	harness.Steps(t, ctx, "a phone-sized window", chromedp.EmulateViewport(360, 740))
	harness.Open(t, ctx, s.URL+"/dashboard/overview?days=7")
	waitState(t, ctx, "overview")
	if w := harness.JS[float64](t, ctx, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("the overview at 360 px is %v px wide", w)
	}
	// The phone drawings show, their text at least 10 px once scaled.
	if fs := harness.JS[float64](t, ctx, `(function(){ var s = document.getElementById("payments-per-day-narrow");
		return s.getBoundingClientRect().width / s.viewBox.baseVal.width * 13; })()`); fs < 10 {
		t.Errorf("the narrow chart's text is %v px", fs)
	}
	shot(t, ctx, "overview-360")
	console("looking at the overview")
}
