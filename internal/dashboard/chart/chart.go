// Package chart draws small charts as inline SVG for pages that may run no
// script: vertical bars, horizontal bars (for long labels) and a line, each
// with axes, ticks and labels, a <title> on every bar or point (the value on
// hover), and a <title>/<desc> naming the whole chart for screen readers;
// Table gives the same numbers as an HTML table for those who would rather
// read them.
//
// Colours come from CSS classes (chart, axis, grid, tick, bar, line, dot,
// empty), with presentation attributes as a plain fallback: a page whose
// policy forbids style="" attributes can still theme the charts.
package chart

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Point is one value of a series: a bar, or a point of a line.
type Point struct {
	Label string // on the axis: short ("Mar 14")
	Tip   string // in the bar's title and the table; "" means Label
	Value float64
	// Missing means there is no value (a day without attempts): no bar, a
	// gap in a line, a dash in the table. Values that are not finite are
	// drawn as missing too.
	Missing bool
}

func (p Point) tip() string {
	if p.Tip != "" {
		return p.Tip
	}
	return p.Label
}

func (p Point) missing() bool { return p.Missing || math.IsNaN(p.Value) || math.IsInf(p.Value, 0) }

// Chart is one chart's data and words.
type Chart struct {
	// ID makes the chart's element ids unique in the page; keep it to
	// letters, digits and dashes (anything else is dropped).
	ID     string
	Title  string // names the chart (its <title>, the table's caption)
	Desc   string // what it shows, in a sentence (its <desc>)
	Points []Point
	// Tick formats the axis' tick labels; nil means Compact.
	Tick func(float64) string
	// Format formats a value in titles and the table; nil means Tick.
	Format func(float64) string
	// Max is the axis' top when positive (100 for a percentage); otherwise
	// it is rounded up from the largest value.
	Max float64
	// Whole keeps ticks at whole numbers (counts).
	Whole bool
	// Class is added to the svg's classes, to colour one chart apart.
	Class string
	// LabelHead and ValueHead head the table's columns.
	LabelHead, ValueHead string
	// Width and Height are the drawing's size in viewBox units (0: 480 by
	// 220; HBars grows its height a row per point). Text keeps its size,
	// so a narrower drawing shows it larger once scaled to a narrow box.
	Width, Height int
}

func (c Chart) size() (w, h float64) {
	w, h = defaultWidth, defaultHeight
	if c.Width > 0 {
		w = float64(max(c.Width, minSize))
	}
	if c.Height > 0 {
		h = float64(max(c.Height, minSize))
	}
	return w, h
}

func (c Chart) tick(v float64) string {
	if c.Tick != nil {
		return c.Tick(v)
	}
	return Compact(v)
}

func (c Chart) format(v float64) string {
	if c.Format != nil {
		return c.Format(v)
	}
	return c.tick(v)
}

// id keeps the letters, digits and dashes of c.ID.
func (c Chart) id() string {
	var b strings.Builder
	for _, r := range c.ID {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "chart"
	}
	return b.String()
}

// Size of the drawing, in viewBox units; the svg scales to its box's width.
const (
	defaultWidth  = 480
	defaultHeight = 220
	minSize       = 120 // below this the labels leave no room for a plot
	fontSize      = 13
	charWidth     = 7.2 // a rough average advance at fontSize, to fit labels
	marginTop     = 12
	marginEnd     = 12
	axisBottom    = 30 // room for the x labels under the plot
	rowHeight     = 28 // a horizontal bar's row
	tickCount     = 4  // about how many steps the value axis has
)

// scale is the value axis: 0 to top in steps.
type scale struct{ top, step float64 }

// niceScale rounds the axis up to a "nice" top (1, 2, 2.5 or 5 times a
// power of ten per step) so the tick labels read easily.
func niceScale(c Chart) scale {
	max := c.Max
	if !(max > 0) || math.IsInf(max, 0) {
		max = 0
		for _, p := range c.Points {
			if !p.missing() && p.Value > max {
				max = p.Value
			}
		}
	}
	if max <= 0 {
		max = 1
	}
	raw := max / tickCount
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw*(1-1e-9) {
			step = m * mag
			break
		}
	}
	if c.Whole && step < 1 {
		step = 1
	}
	if c.Whole && step != math.Floor(step) { // 2.5 is no count
		step = math.Ceil(step)
	}
	n := math.Ceil(max/step - 1e-9)
	return scale{top: n * step, step: step}
}

// ticks are the axis' values from 0 to the top.
func (s scale) ticks() []float64 {
	n := int(math.Round(s.top / s.step))
	out := make([]float64, 0, n+1)
	for i := 0; i <= n; i++ {
		out = append(out, float64(i)*s.step)
	}
	return out
}

// frac is where v sits on the axis, 0 to 1 (negative values sit at 0).
func (s scale) frac(v float64) float64 { return math.Min(math.Max(v/s.top, 0), 1) }

// svg collects a drawing's elements.
type svg struct{ b strings.Builder }

func (s *svg) f(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

// num writes a coordinate with at most two decimals.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

func esc(s string) string { return html.EscapeString(s) }

// open starts the svg with its accessible name and description.
func (s *svg) open(c Chart, kind string, w, h float64) {
	id := c.id()
	class := "chart chart-" + kind
	if c.Class != "" {
		class += " " + c.Class
	}
	s.f(`<svg xmlns="http://www.w3.org/2000/svg" class="%s" id="%s" viewBox="0 0 %s %s" width="100%%" role="img" aria-labelledby="%s-title %s-desc" font-size="%d">`,
		esc(class), id, num(w), num(h), id, id, fontSize)
	s.f(`<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, esc(c.Title), id, esc(c.Desc))
}

// empty says so in the middle of the plot.
func (s *svg) empty(x, y float64) {
	s.f(`<text class="empty" x="%s" y="%s" text-anchor="middle" fill="currentColor">No data</text>`, num(x), num(y))
}

// valueAxis draws the horizontal grid lines and the tick labels left of the
// plot (x0..x1, y0 top, y1 bottom).
func (s *svg) valueAxis(c Chart, sc scale, x0, x1, y0, y1 float64) {
	for _, v := range sc.ticks() {
		y := y1 - sc.frac(v)*(y1-y0)
		if v > 0 {
			s.f(`<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#d5dae2"/>`, num(x0), num(y), num(x1), num(y))
		}
		s.f(`<text class="tick" x="%s" y="%s" text-anchor="end" dominant-baseline="middle" fill="currentColor">%s</text>`,
			num(x0-6), num(y), esc(c.tick(v)))
	}
	s.f(`<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s" stroke="currentColor"/>`, num(x0), num(y0), num(x0), num(y1))
	s.f(`<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s" stroke="currentColor"/>`, num(x0), num(y1), num(x1), num(y1))
}

// categoryLabels writes the labels under n slots of the plot, skipping
// some when they would overlap; the first is always written.
func (s *svg) categoryLabels(ps []Point, x0, slot, y float64) {
	longest := 1
	for _, p := range ps {
		longest = max(longest, len([]rune(p.Label)))
	}
	every := int(math.Ceil((float64(longest)*charWidth + 8) / slot))
	every = max(every, 1)
	for i, p := range ps {
		if i%every != 0 {
			continue
		}
		s.f(`<text class="label" x="%s" y="%s" text-anchor="middle" fill="currentColor">%s</text>`,
			num(x0+slot*(float64(i)+0.5)), num(y), esc(p.Label))
	}
}

// leftMargin fits the widest tick label.
func leftMargin(c Chart, sc scale) float64 {
	w := 1
	for _, v := range sc.ticks() {
		w = max(w, len([]rune(c.tick(v))))
	}
	return float64(w)*charWidth + 12
}

// Bars draws one vertical bar per point, labels under the axis.
func Bars(c Chart) template.HTML {
	var s svg
	sc := niceScale(c)
	w, h := c.size()
	x0, x1, y0, y1 := leftMargin(c, sc), w-marginEnd, float64(marginTop), h-axisBottom
	s.open(c, "bars", w, h)
	s.valueAxis(c, sc, x0, x1, y0, y1)
	if len(c.Points) == 0 {
		s.empty((x0+x1)/2, (y0+y1)/2)
	} else {
		slot := (x1 - x0) / float64(len(c.Points))
		bw := math.Min(slot*0.7, 48)
		for i, p := range c.Points {
			if p.missing() {
				continue
			}
			h := sc.frac(p.Value) * (y1 - y0)
			if p.Value > 0 {
				h = math.Max(h, 1) // a small value still shows
			}
			s.f(`<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="#1d4ed8"><title>%s: %s</title></rect>`,
				num(x0+slot*float64(i)+(slot-bw)/2), num(y1-h), num(bw), num(h), esc(p.tip()), esc(c.format(p.Value)))
		}
		s.categoryLabels(c.Points, x0, slot, y1+20)
	}
	s.f(`</svg>`)
	return template.HTML(s.b.String())
}

// Line draws the points joined by a line, a gap at each missing one, and
// a dot per point (each with its title).
func Line(c Chart) template.HTML {
	var s svg
	sc := niceScale(c)
	w, h := c.size()
	x0, x1, y0, y1 := leftMargin(c, sc), w-marginEnd, float64(marginTop), h-axisBottom
	s.open(c, "line", w, h)
	s.valueAxis(c, sc, x0, x1, y0, y1)
	if len(c.Points) == 0 {
		s.empty((x0+x1)/2, (y0+y1)/2)
		s.f(`</svg>`)
		return template.HTML(s.b.String())
	}
	slot := (x1 - x0) / float64(len(c.Points))
	xy := func(i int) (float64, float64) {
		return x0 + slot*(float64(i)+0.5), y1 - sc.frac(c.Points[i].Value)*(y1-y0)
	}
	var seg []string
	flush := func() {
		if len(seg) > 1 {
			s.f(`<polyline class="line" points="%s" fill="none" stroke="#1d4ed8" stroke-width="2"/>`, strings.Join(seg, " "))
		}
		seg = seg[:0]
	}
	for i, p := range c.Points {
		if p.missing() {
			flush()
			continue
		}
		x, y := xy(i)
		seg = append(seg, num(x)+","+num(y))
	}
	flush()
	for i, p := range c.Points {
		if p.missing() {
			continue
		}
		x, y := xy(i)
		s.f(`<circle class="dot" cx="%s" cy="%s" r="3.5" fill="#1d4ed8"><title>%s: %s</title></circle>`,
			num(x), num(y), esc(p.tip()), esc(c.format(p.Value)))
	}
	s.categoryLabels(c.Points, x0, slot, y1+20)
	s.f(`</svg>`)
	return template.HTML(s.b.String())
}

// HBars draws one horizontal bar per point, labelled at its left and with
// its value at its end: for labels too long to sit under a bar. The chart
// grows a row per point.
func HBars(c Chart) template.HTML {
	var s svg
	sc := niceScale(c)
	longest := 1
	for _, p := range c.Points {
		longest = max(longest, len([]rune(p.Label)))
	}
	w, _ := c.size()
	x0 := math.Min(float64(longest)*charWidth+12, w*0.45)
	x1 := w - marginEnd - 48 // room for the value after the longest bar
	rows := max(len(c.Points), 1)
	y0 := float64(marginTop)
	y1 := y0 + float64(rows*rowHeight)
	s.open(c, "hbars", w, y1+axisBottom)
	for _, v := range sc.ticks() {
		x := x0 + sc.frac(v)*(x1-x0)
		if v > 0 {
			s.f(`<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#d5dae2"/>`, num(x), num(y0), num(x), num(y1))
		}
		s.f(`<text class="tick" x="%s" y="%s" text-anchor="middle" fill="currentColor">%s</text>`, num(x), num(y1+20), esc(c.tick(v)))
	}
	s.f(`<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s" stroke="currentColor"/>`, num(x0), num(y0), num(x0), num(y1))
	s.f(`<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s" stroke="currentColor"/>`, num(x0), num(y1), num(x1), num(y1))
	if len(c.Points) == 0 {
		s.empty((x0+x1)/2, (y0+y1)/2)
	}
	for i, p := range c.Points {
		mid := y0 + rowHeight*(float64(i)+0.5)
		s.f(`<text class="label" x="%s" y="%s" text-anchor="end" dominant-baseline="middle" fill="currentColor">%s</text>`,
			num(x0-6), num(mid), esc(p.Label))
		if p.missing() {
			continue
		}
		w := sc.frac(p.Value) * (x1 - x0)
		if p.Value > 0 {
			w = math.Max(w, 1)
		}
		s.f(`<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="#1d4ed8"><title>%s: %s</title></rect>`,
			num(x0), num(mid-rowHeight*0.35), num(w), num(rowHeight*0.7), esc(p.tip()), esc(c.format(p.Value)))
		s.f(`<text class="value" x="%s" y="%s" dominant-baseline="middle" fill="currentColor">%s</text>`,
			num(x0+w+6), num(mid), esc(c.tick(p.Value)))
	}
	s.f(`</svg>`)
	return template.HTML(s.b.String())
}

// Table is the chart's numbers as a table, captioned with its title.
func Table(c Chart) template.HTML {
	var s svg
	lh, vh := c.LabelHead, c.ValueHead
	if lh == "" {
		lh = "Label"
	}
	if vh == "" {
		vh = "Value"
	}
	s.f(`<table class="chart-table" id="%s-table"><caption>%s</caption><thead><tr><th scope="col">%s</th><th scope="col">%s</th></tr></thead><tbody>`,
		c.id(), esc(c.Title), esc(lh), esc(vh))
	if len(c.Points) == 0 {
		s.f(`<tr><td colspan="2">No data</td></tr>`)
	}
	for _, p := range c.Points {
		v := "—"
		if !p.missing() {
			v = c.format(p.Value)
		}
		s.f(`<tr><th scope="row">%s</th><td class="num">%s</td></tr>`, esc(p.tip()), esc(v))
	}
	s.f(`</tbody></table>`)
	return template.HTML(s.b.String())
}

// Compact writes a number short for an axis: 0.25, 950, 1.5k, 12M, 3.4B…
func Compact(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	units := []string{"", "k", "M", "B", "T", "P", "E"}
	a, i := math.Abs(v), 0
	for a >= 999.95 && i < len(units)-1 {
		a /= 1000
		i++
	}
	prec := 2
	switch {
	case a >= 100:
		prec = 0
	case a >= 10:
		prec = 1
	}
	s := strconv.FormatFloat(a, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if v < 0 {
		s = "-" + s
	}
	return s + units[i]
}
