package dashboard

import (
	"cmp"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/dashboard/chart"
	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/store"
)

var overviewTmpl = page("overview.html")

// overviewRanges are the day counts the overview offers (?days=).
var overviewRanges = []int{7, 30, 90}

// defaultOverviewDays is the range shown without ?days=.
const defaultOverviewDays = 30

// figure is one chart on the page: its drawing and its table.
type figure struct {
	ID, Title string
	SVG       template.HTML // for wide screens
	Narrow    template.HTML // for phones (the stylesheet shows one of the two)
	Table     template.HTML
}

// The phone drawing's size: narrow enough that its text, scaled to a
// 360 px screen, stays readable (the wide one's would shrink to 7 px).
const narrowWidth, narrowHeight = 320, 200

// currencyTotal is what one currency's succeeded payments captured.
type currencyTotal struct {
	Currency string // ISO 4217, as stored
	Volume   int64
}

// overviewView is the overview page's data.
type overviewView struct {
	Days      int
	Ranges    []int
	From, To  string // the first and last day shown, UTC
	Count     int64  // payments created in the range
	Attempted int64  // those with an outcome (see tally)
	Succeeded int64
	Declined  int64
	Rate      string // Succeeded of Attempted, "—" without attempts
	Volumes   []currencyTotal
	Charts    []figure
}

// dayTally is one day's (or the whole range's) numbers.
type dayTally struct {
	count, attempted, succeeded, declined int64
	volume                                map[string]int64 // captured, per currency
}

// add counts a group of payments. Succeeded means authorized: captured
// (succeeded) or held for capture (requires_capture). Payments still waiting
// for the card holder (requires_action) or the processor (processing) have
// no outcome yet and are left out of the success rate.
func (t *dayTally) add(s store.PaymentStat) {
	t.count += s.Count
	switch s.Status {
	case store.PaymentRequiresAction, store.PaymentProcessing:
		return
	case store.PaymentSucceeded, store.PaymentRequiresCapture:
		t.succeeded += s.Count
	case store.PaymentFailed:
		t.declined += s.Count
	}
	t.attempted += s.Count
	if s.Captured != 0 {
		if t.volume == nil {
			t.volume = map[string]int64{}
		}
		t.volume[s.Currency] += s.Captured
	}
}

// rate is the success rate in percent, or false without attempts.
func (t dayTally) rate() (float64, bool) {
	if t.attempted == 0 {
		return 0, false
	}
	return 100 * float64(t.succeeded) / float64(t.attempted), true
}

// overview shows the merchant's payments of the last 7, 30 or 90 days
// (today included, days in UTC) from one aggregate query: totals, then
// volume per currency, payments, success rate per day and declines by
// reason as charts.
func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	days := defaultOverviewDays
	if s := r.FormValue("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || !slices.Contains(overviewRanges, n) {
			d.renderError(w, r, http.StatusBadRequest, "Not a range", "The range (days) must be 7, 30 or 90 days.")
			return
		}
		days = n
	}
	to := d.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -days)
	var stats []store.PaymentStat
	err := d.st.Read(r.Context(), func(tx store.Tx) (err error) {
		stats, err = tx.PaymentStats(su.user.MerchantID, from, to)
		return err
	})
	if err != nil {
		d.failed(w, r, err)
		return
	}
	v := buildOverview(stats, from, days)
	d.render(w, r, http.StatusOK, overviewTmpl, layoutData{Title: "Overview", Nav: "overview", User: su.user, CSRF: su.csrf, Page: v})
}

// buildOverview turns the stats of days days from from into the page.
func buildOverview(stats []store.PaymentStat, from time.Time, days int) overviewView {
	v := overviewView{Days: days, Ranges: overviewRanges, From: from.Format("2 Jan 2006"),
		To: from.AddDate(0, 0, days-1).Format("2 Jan 2006"), Rate: "—"}
	perDay := make([]dayTally, days)
	var total dayTally
	reasons := map[string]int64{}
	for _, s := range stats {
		i := int(s.Day.Sub(from) / (24 * time.Hour))
		if i < 0 || i >= days {
			continue
		}
		perDay[i].add(s)
		total.add(s)
		if s.Status == store.PaymentFailed {
			reason := s.Reason
			if reason == "" {
				reason = "unknown"
			}
			reasons[reason] += s.Count
		}
	}
	v.Count, v.Attempted, v.Succeeded, v.Declined = total.count, total.attempted, total.succeeded, total.declined
	if r, ok := total.rate(); ok {
		v.Rate = percent(r)
	}
	for cur, n := range total.volume {
		v.Volumes = append(v.Volumes, currencyTotal{cur, n})
	}
	slices.SortFunc(v.Volumes, func(a, b currencyTotal) int { return strings.Compare(a.Currency, b.Currency) })

	point := func(i int) chart.Point {
		day := from.AddDate(0, 0, i)
		return chart.Point{Label: day.Format("Jan 2"), Tip: day.Format("Mon 2 Jan 2006")}
	}
	for _, vol := range v.Volumes {
		cur := vol.Currency
		exp, _ := money.Exponent(cur)
		unit := math.Pow10(exp)
		c := chart.Chart{ID: "volume-" + cur, Title: "Volume in " + cur,
			Desc:      "Amount captured per day in " + cur + ", " + v.From + " to " + v.To + ".",
			Tick:      func(x float64) string { return chart.Compact(x / unit) },
			Format:    func(x float64) string { return cur + " " + money.Format(int64(x), cur) },
			LabelHead: "Day", ValueHead: "Captured"}
		for i := range days {
			p := point(i)
			p.Value = float64(perDay[i].volume[cur])
			c.Points = append(c.Points, p)
		}
		v.Charts = append(v.Charts, draw(c, chart.Bars))
	}
	counts := chart.Chart{ID: "payments-per-day", Title: "Payments", Whole: true, LabelHead: "Day", ValueHead: "Payments",
		Desc: "Payments created per day, " + v.From + " to " + v.To + "."}
	rates := chart.Chart{ID: "success-rate", Title: "Success rate", Max: 100, LabelHead: "Day", ValueHead: "Success rate",
		Desc: "Payments that succeeded, of those with an outcome, per day; days without one are gaps.",
		Tick: func(x float64) string { return chart.Compact(x) + "%" }, Format: percent}
	for i := range days {
		p := point(i)
		p.Value = float64(perDay[i].count)
		counts.Points = append(counts.Points, p)
		r, ok := perDay[i].rate()
		p.Value, p.Missing = r, !ok
		rates.Points = append(rates.Points, p)
	}
	v.Charts = append(v.Charts, draw(counts, chart.Bars), draw(rates, chart.Line))

	declines := chart.Chart{ID: "declines", Title: "Declines by reason", Whole: true, Class: "chart-declines", LabelHead: "Reason", ValueHead: "Declines",
		Desc: "Failed payments per decline code (or failure code), most first, " + v.From + " to " + v.To + "."}
	for reason, n := range reasons {
		declines.Points = append(declines.Points, chart.Point{Label: reason, Value: float64(n)})
	}
	slices.SortFunc(declines.Points, func(a, b chart.Point) int {
		return cmp.Or(cmp.Compare(b.Value, a.Value), strings.Compare(a.Label, b.Label))
	})
	v.Charts = append(v.Charts, draw(declines, chart.HBars))
	return v
}

// draw renders c by kind, wide and narrow, with its table.
func draw(c chart.Chart, kind func(chart.Chart) template.HTML) figure {
	n := c
	n.ID, n.Width, n.Height = c.ID+"-narrow", narrowWidth, narrowHeight
	return figure{ID: c.ID, Title: c.Title, SVG: kind(c), Narrow: kind(n), Table: chart.Table(c)}
}

// percent writes a rate with one decimal when it has one: 66.7%, 100%.
func percent(r float64) string {
	s := strconv.FormatFloat(math.Round(r*10)/10, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + "%"
}
