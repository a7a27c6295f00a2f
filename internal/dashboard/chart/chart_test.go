package chart

import (
	"encoding/xml"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

// element is one start tag of a drawing, with the text of its <title>.
type element struct {
	name  string
	attrs map[string]string
	title string
}

// parse reads an svg as XML (failing on anything not well-formed) into its
// elements, each rect's and circle's title attached.
func parse(t *testing.T, out string) []element {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(out))
	var els []element
	var stack []int
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, out)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			e := element{name: tk.Name.Local, attrs: map[string]string{}}
			for _, a := range tk.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			els = append(els, e)
			stack = append(stack, len(els)-1)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) >= 2 && els[stack[len(stack)-1]].name == "title" {
				els[stack[len(stack)-2]].title += string(tk)
			}
		}
	}
	return els
}

func count(els []element, name string) int {
	n := 0
	for _, e := range els {
		if e.name == name {
			n++
		}
	}
	return n
}

func days(vs ...float64) []Point {
	ps := make([]Point, len(vs))
	for i, v := range vs {
		ps[i] = Point{Label: "Mar " + strconv.Itoa(i+1), Tip: "2031-03-" + strconv.Itoa(10+i), Value: v}
	}
	return ps
}

// checkShape holds for every drawing: an svg with role img named by its
// own title and desc, no script, no style attribute (the page's policy
// blocks them), every coordinate finite and inside the view box.
func checkShape(t *testing.T, out string) []element {
	t.Helper()
	els := parse(t, out)
	if len(els) == 0 || els[0].name != "svg" || els[0].attrs["role"] != "img" {
		t.Fatalf("not an svg with role img:\n%s", out)
	}
	ids := map[string]bool{}
	for _, e := range els {
		ids[e.attrs["id"]] = true
		if _, ok := e.attrs["style"]; ok || e.name == "script" || e.name == "style" {
			t.Errorf("%s has a style or script:\n%s", e.name, out)
		}
	}
	for _, ref := range strings.Fields(els[0].attrs["aria-labelledby"]) {
		if !ids[ref] {
			t.Errorf("aria-labelledby names %q, which is not in the svg", ref)
		}
	}
	if count(els, "title") < 1 || count(els, "desc") != 1 {
		t.Errorf("no title or desc:\n%s", out)
	}
	vb := strings.Fields(els[0].attrs["viewBox"])
	w, _ := strconv.ParseFloat(vb[2], 64)
	h, _ := strconv.ParseFloat(vb[3], 64)
	for _, e := range els[1:] {
		for _, a := range []string{"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height"} {
			v, ok := e.attrs[a]
			if !ok {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			limit := w
			if strings.HasPrefix(a, "y") || strings.HasPrefix(a, "cy") || a == "height" {
				limit = h
			}
			if err != nil || f < 0 || f > limit {
				t.Errorf("%s %s=%q outside 0..%v", e.name, a, v, limit)
			}
		}
	}
	if strings.Contains(out, "NaN") || strings.Contains(out, "Inf") {
		t.Errorf("NaN or Inf in the drawing:\n%s", out)
	}
	return els
}

func titles(els []element, name string) []string {
	var out []string
	for _, e := range els {
		if e.name == name {
			out = append(out, e.title)
		}
	}
	return out
}

func TestBarsShape(t *testing.T) {
	c := Chart{ID: "vol", Title: "Volume", Desc: "Volume per day", Points: days(1500, 0, 250), Format: func(v float64) string { return "MYR " + Compact(v) }}
	els := checkShape(t, string(Bars(c)))
	got := titles(els, "rect")
	want := []string{"2031-03-10: MYR 1.5k", "2031-03-11: MYR 0", "2031-03-12: MYR 250"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("bar titles %q, want %q", got, want)
	}
	// The tallest bar reaches the axis' top (1500 in steps of 500), the zero one has no height.
	var hs []float64
	for _, e := range els {
		if e.name == "rect" {
			h, _ := strconv.ParseFloat(e.attrs["height"], 64)
			hs = append(hs, h)
		}
	}
	if !(hs[0] == 178 && hs[2] > 0 && hs[2] < hs[0]/5 && hs[1] == 0) {
		t.Errorf("bar heights %v", hs)
	}
	out := string(Bars(c))
	for _, tick := range []string{">0<", ">500<", ">1k<", ">1.5k<"} {
		if !strings.Contains(out, tick) {
			t.Errorf("no tick %s in\n%s", tick, out)
		}
	}
	for _, label := range []string{">Mar 1<", ">Mar 2<", ">Mar 3<"} {
		if !strings.Contains(out, label) {
			t.Errorf("no label %s", label)
		}
	}
}

func TestEmptySeries(t *testing.T) {
	c := Chart{ID: "e", Title: "Nothing", Desc: "none"}
	for name, out := range map[string]string{"bars": string(Bars(c)), "line": string(Line(c)), "hbars": string(HBars(c))} {
		els := checkShape(t, out)
		if count(els, "rect") != 0 || count(els, "circle") != 0 || count(els, "polyline") != 0 || !strings.Contains(out, "No data") {
			t.Errorf("%s of nothing:\n%s", name, out)
		}
	}
	if tb := string(Table(c)); !strings.Contains(tb, "No data") || !strings.Contains(tb, "<caption>Nothing</caption>") {
		t.Errorf("table of nothing: %s", tb)
	}
}

func TestOnePoint(t *testing.T) {
	c := Chart{ID: "one", Title: "One", Points: days(42)}
	if els := checkShape(t, string(Bars(c))); count(els, "rect") != 1 {
		t.Errorf("one bar expected")
	}
	els := checkShape(t, string(Line(c)))
	if count(els, "circle") != 1 || count(els, "polyline") != 0 {
		t.Errorf("a line of one point: want one dot and no line")
	}
	if got := titles(els, "circle"); len(got) != 1 || got[0] != "2031-03-10: 42" {
		t.Errorf("dot title %q", got)
	}
}

func TestHugeValues(t *testing.T) {
	c := Chart{ID: "huge", Title: "Huge", Points: days(math.MaxInt64, 1e18, 1)}
	for _, out := range []string{string(Bars(c)), string(Line(c)), string(HBars(c))} {
		checkShape(t, out)
		if !strings.Contains(out, "10E<") || !strings.Contains(out, "9.22E") {
			t.Errorf("huge ticks or titles not compact:\n%s", out)
		}
	}
	if sc := niceScale(c); sc.top < math.MaxInt64 || sc.top/sc.step > 10 {
		t.Errorf("scale %+v", sc)
	}
}

func TestZeroAndMissing(t *testing.T) {
	c := Chart{ID: "z", Title: "Zero", Points: days(0, 0), Whole: true}
	out := string(Bars(c))
	els := checkShape(t, out)
	for _, e := range els {
		if e.name == "rect" && e.attrs["height"] != "0" {
			t.Errorf("a zero bar has height %s", e.attrs["height"])
		}
	}
	if sc := niceScale(c); sc.top != 1 || sc.step != 1 {
		t.Errorf("all zero counts: scale %+v, want 0..1 by 1", sc)
	}

	ps := days(50, 60, 0, 80, 90)
	ps[2].Missing = true
	ps[4].Value = math.NaN()
	rate := Chart{ID: "rate", Title: "Rate", Points: ps, Max: 100, Tick: func(v float64) string { return Compact(v) + "%" }}
	els = checkShape(t, string(Line(rate)))
	if count(els, "polyline") != 1 || count(els, "circle") != 3 {
		t.Errorf("a line with a gap and a NaN: %d lines, %d dots, want 1 and 3", count(els, "polyline"), count(els, "circle"))
	}
	if !strings.Contains(string(Line(rate)), ">100%<") {
		t.Errorf("a fixed maximum is the top tick")
	}
	tb := string(Table(rate))
	if strings.Count(tb, "—") != 2 || !strings.Contains(tb, "<td class=\"num\">80%</td>") {
		t.Errorf("table of a line with gaps: %s", tb)
	}
}

func TestEscapes(t *testing.T) {
	c := Chart{ID: `x" onload="y`, Title: `<script>alert(1)</script>`, Desc: `a & b`,
		Points: []Point{{Label: `<b>"reason"</b>`, Value: 3}}, LabelHead: "<i>", ValueHead: "&"}
	for _, out := range []string{string(Bars(c)), string(HBars(c)), string(Line(c)), string(Table(c))} {
		if strings.Contains(out, "<script>") || strings.Contains(out, "<b>") || strings.Contains(out, `" onload`) || strings.Contains(out, "<i>") {
			t.Errorf("unescaped text:\n%s", out)
		}
	}
	checkShape(t, string(HBars(c)))
}

func TestHBarsRows(t *testing.T) {
	c := Chart{ID: "why", Title: "Declines", Whole: true,
		Points: []Point{{Label: "insufficient_funds", Value: 2}, {Label: "lost_card", Value: 1}}}
	out := string(HBars(c))
	els := checkShape(t, out)
	if got := titles(els, "rect"); strings.Join(got, "|") != "insufficient_funds: 2|lost_card: 1" {
		t.Errorf("titles %q", got)
	}
	more := c
	more.Points = append(more.Points, Point{Label: "expired_card", Value: 1})
	if h1, h2 := parse(t, out)[0].attrs["viewBox"], parse(t, string(HBars(more)))[0].attrs["viewBox"]; h1 == h2 {
		t.Errorf("a row more, same height %s", h1)
	}
}

func TestCompact(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.25: "0.25", 7: "7", 12.5: "12.5", 950: "950", 999.99: "1k", 1500: "1.5k",
		25_000: "25k", 1_234_567: "1.23M", 3.4e9: "3.4B", 1e12: "1T", -2500: "-2.5k", math.NaN(): "—"} {
		if got := Compact(v); got != want {
			t.Errorf("Compact(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestSize(t *testing.T) {
	c := Chart{ID: "n", Title: "Narrow", Points: days(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20), Width: 320, Height: 200}
	for _, out := range []string{string(Bars(c)), string(Line(c))} {
		if els := checkShape(t, out); els[0].attrs["viewBox"] != "0 0 320 200" {
			t.Errorf("viewBox %q, want 0 0 320 200", els[0].attrs["viewBox"])
		}
		// Twenty labels do not fit 320 units: some are left out, the first kept.
		if n := strings.Count(out, `class="label"`); n >= 20 || n < 3 || !strings.Contains(out, ">Mar 1<") {
			t.Errorf("%d labels on a narrow chart of 20 days", n)
		}
	}
	c.Width, c.Height = 10, 10 // too small: kept to the smallest size that has a plot
	checkShape(t, string(Bars(c)))
	if got := parse(t, string(HBars(c)))[0].attrs["viewBox"]; !strings.HasPrefix(got, "0 0 120 ") {
		t.Errorf("a tiny HBars has viewBox %q", got)
	}
}
