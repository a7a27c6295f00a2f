package checkout

import (
	"net/url"
	"strings"
	"testing"
)

// TestFieldOriginAllowed: the origin a mount reports must be exactly one
// of the merchant's frame_ancestors ('self' standing for Coffer's own).
func TestFieldOriginAllowed(t *testing.T) {
	anc := []string{"https://shop.example", "'self'", "not an origin"}
	const self = "https://coffer.example"
	for _, c := range []struct {
		origin string
		want   bool
	}{
		{"https://shop.example", true},
		{"https://coffer.example", true},
		{"https://SHOP.example", false}, // reported as the browser spells it, lower case
		{"https://shop.example/", false},
		{"http://shop.example", false},
		{"https://evil.example", false},
		{"not an origin", false},
		{"", false},
		{"'self'", false},
	} {
		if got := originAllowed(c.origin, anc, self); got != c.want {
			t.Errorf("originAllowed(%q) = %v, want %v", c.origin, got, c.want)
		}
	}
	if originAllowed("https://coffer.example", []string{"https://shop.example"}, self) {
		t.Error("Coffer's own origin allowed without 'self'")
	}
}

// TestFieldStyle: style options become CSS variables only when each fits
// its pattern; anything that could end a declaration, a rule or the style
// element is refused by name.
func TestFieldStyle(t *testing.T) {
	s, bad := styleOf(url.Values{"color": {"#2b2118"}, "font_family": {`Georgia, "Times New Roman", serif`},
		"background": {"rgb(250, 250, 250)"}, "font_size": {"15px"}})
	if bad != "" {
		t.Fatalf("valid style refused: %s", bad)
	}
	css := string(s.vars())
	for _, want := range []string{"--text: #2b2118;", `--family: Georgia, "Times New Roman", serif;`, "--bg: rgb(250, 250, 250);", "--size: 15px;"} {
		if !strings.Contains(css, want) {
			t.Errorf("vars %q lacks %q", css, want)
		}
	}
	for name, v := range map[string]string{
		"color": "red;}body{display:none", "font_family": "x</style><script>", "background": "url(https://evil.example)",
		"font_size": "1e9px", "invalid_color": `red\;`, "placeholder_color": "rgb(1,2,3));x{",
	} {
		if _, bad := styleOf(url.Values{name: {v}}); bad != name {
			t.Errorf("style %s=%q: refused %q, want %q", name, v, bad, name)
		}
	}
}
