package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const (
	tokA = "tok_aaaaaaaaaaaaaaaa"
	tokB = "tok_bbbbbbbbbbbbbbbb"
	panA = "4242424242424242"
	panB = "5555555555554444"
)

var cards = map[string]Card{
	tokA: {Number: panA, ExpMonth: 3, ExpYear: 2031, HolderName: `Zoë "Q" O'Hara & <Sons>` + "\\", CVC: "123"},
	tokB: {Number: panB, ExpMonth: 11, ExpYear: 2030, HolderName: "Abu Bin Ali"},
}

func mustParse(t *testing.T, req Request) *Template {
	t.Helper()
	tpl, err := Parse(req, true)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tpl
}

func mustRender(t *testing.T, tpl *Template) *Call {
	t.Helper()
	c, err := tpl.Render(cards)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return c
}

func wantErr(t *testing.T, err error, status int, code, param, inMessage string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v, want a *relay.Error %s", err, code)
	}
	if e.Status != status || e.Code != code || e.Param != param || !strings.Contains(e.Message, inMessage) {
		t.Fatalf("error %d %s (%s) %q, want %d %s (%s) containing %q", e.Status, e.Code, e.Param, e.Message, status, code, param, inMessage)
	}
}

// TestEscapingPerContentType: each body kind gets its own escaping, the
// headers none; a bare JSON exp_month is a number, a quoted one two digits.
func TestEscapingPerContentType(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body, want string
	}{
		{"json", "application/json; charset=utf-8",
			`{"n":"{{` + tokA + `.number}}","m":{{` + tokA + `.exp_month}},"mm":"{{` + tokA + `.exp_month}}","y":{{ ` + tokA + `.exp_year }},"h":"{{` + tokA + `.holder_name}}","other":"{{not_a_token}}"}`,
			`{"n":"4242424242424242","m":3,"mm":"03","y":2031,"h":"Zoë \"Q\" O'Hara & <Sons>\\","other":"{{not_a_token}}"}`},
		{"json suffix", "application/vnd.api+json",
			`["{{` + tokB + `.holder_name}}", "\"{{` + tokB + `.cvc}}\\"]`,
			`["Abu Bin Ali", "\"\\"]`},
		{"form", "application/x-www-form-urlencoded",
			`card[number]={{` + tokA + `.number}}&card[exp_month]={{` + tokA + `.exp_month}}&name={{` + tokA + `.holder_name}}`,
			`card[number]=4242424242424242&card[exp_month]=03&name=Zo%C3%AB+%22Q%22+O%27Hara+%26+%3CSons%3E%5C`},
		{"xml", "text/xml",
			`<card holder="{{` + tokA + `.holder_name}}"><pan>{{` + tokA + `.number}}</pan><cvc>{{` + tokA + `.cvc}}</cvc></card>`,
			`<card holder="Zoë &quot;Q&quot; O&apos;Hara &amp; &lt;Sons&gt;\"><pan>4242424242424242</pan><cvc>123</cvc></card>`},
		{"application xml", "application/soap+xml",
			`<n>{{` + tokB + `.number}}</n>`, `<n>5555555555554444</n>`},
		{"text", "text/plain",
			`{{` + tokA + `.holder_name}}|{{` + tokA + `.exp_month}}/{{` + tokA + `.exp_year}}`,
			`Zoë "Q" O'Hara & <Sons>\|03/2031`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl := mustParse(t, Request{URL: "https://api.partner.example/v1/cards", Body: tc.body,
				Headers: map[string]string{"Content-Type": tc.ct, "X-Card": "{{" + tokB + ".number}}"}})
			c := mustRender(t, tpl)
			// JSON bodies' no-placeholder strings and the card fields
			// unused by this body stay out (a cvc not asked is never needed).
			if c.method != "POST" || string(c.body) != tc.want {
				t.Fatalf("%s body\n got %s\nwant %s", c.method, c.body, tc.want)
			}
			if got := c.header.Get("X-Card"); got != panB {
				t.Fatalf("header X-Card = %q", got)
			}
		})
	}
}

// TestPlaceholderParsing: the tokens a template uses, in order, with their
// fields; a "{{" that is not a token's stays literal; bad placeholders are
// refused naming the placeholder and where it is.
func TestPlaceholderParsing(t *testing.T) {
	tpl := mustParse(t, Request{URL: "https://a.example", Method: "put",
		Headers: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer {{" + tokB + ".holder_name}}"},
		Body:    `{"x":"{{` + tokA + `.number}}","y":"{{` + tokA + `.cvc}}","z":"{{` + tokB + `.number}}","t":"{{ mustache }}"}`})
	uses := tpl.Uses()
	if len(uses) != 2 || uses[0].Token != tokB || uses[0].Param != "headers.Authorization" || uses[1].Token != tokA ||
		fmt.Sprint(uses[0].Fields) != "[holder_name number]" || fmt.Sprint(uses[1].Fields) != "[number cvc]" ||
		uses[1].CVCPlaceholder != "{{"+tokA+".cvc}}" || uses[1].CVCParam != "body" || uses[0].CVCPlaceholder != "" {
		t.Fatalf("uses %+v", uses)
	}
	if tpl.method != "PUT" || tpl.Origin() != "https://a.example" {
		t.Fatalf("method %s origin %s", tpl.method, tpl.Origin())
	}
	json := map[string]string{"Content-Type": "application/json"}
	for _, tc := range []struct {
		req                    Request
		code, param, inMessage string
	}{
		{Request{URL: "https://a.example", Headers: json, Body: `{"x":"{{` + tokA + `.pan}}"}`},
			"relay_placeholder_unknown", "body", "{{" + tokA + ".pan}}"},
		{Request{URL: "https://a.example", Headers: json, Body: `{"x":"{{` + tokA + `}}"}`},
			"relay_placeholder_unknown", "body", "{{" + tokA + "}}"},
		{Request{URL: "https://a.example", Headers: map[string]string{"X-A": "{{" + tokA + ".Number}}"}},
			"relay_placeholder_unknown", "headers.X-A", "{{" + tokA + ".Number}}"},
		{Request{URL: "https://a.example", Headers: json, Body: `{"x":"{{tok_AB.number}}"}`},
			"relay_placeholder_invalid", "body", "{{tok_AB.number}}"},
		{Request{URL: "https://a.example", Headers: json, Body: `{"x":"{{` + tokA + `.number"}`},
			"relay_placeholder_invalid", "body", "no closing }}"},
		{Request{URL: "https://a.example", Headers: json, Body: `{"x":{{` + tokA + `.number}}}`},
			"relay_placeholder_invalid", "body", "inside a JSON string"},
		{Request{URL: "https://a.example", Headers: json, Body: `{"x\"":{{` + tokA + `.holder_name}}}`},
			"relay_placeholder_invalid", "body", "inside a JSON string"},
		{Request{URL: "https://a.example", Body: `{{` + tokA + `.number}}`},
			"parameter_missing", "headers.Content-Type", "Content-Type"},
		{Request{URL: "https://a.example", Headers: map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, Body: `{{` + tokA + `.number}}`},
			"relay_content_type_unsupported", "headers.Content-Type", "multipart/form-data"},
		{Request{URL: "https://a.example", Headers: map[string]string{"Content-Type": "{{" + tokA + ".holder_name}}"}},
			"relay_placeholder_not_allowed", "headers.Content-Type", "placeholder"},
		{Request{URL: "https://a.example", Headers: map[string]string{"X-A": "a\r\nX-B: b"}},
			"parameter_invalid", "headers.X-A", "control"},
		{Request{URL: "https://a.example", Headers: map[string]string{"Bad Name": "x"}},
			"parameter_invalid", "headers.Bad Name", "header name"},
		{Request{URL: "https://a.example", Headers: map[string]string{"host": "b.example"}},
			"parameter_invalid", "headers.host", "Host"},
		{Request{URL: "https://a.example", Headers: map[string]string{"Accept-Encoding": "br"}},
			"parameter_invalid", "headers.Accept-Encoding", "Accept-Encoding"},
		{Request{URL: "https://a.example", Method: "TRACE"}, "parameter_invalid", "method", "one of"},
	} {
		_, err := Parse(tc.req, true)
		wantErr(t, err, 400, tc.code, tc.param, tc.inMessage)
	}
	// Too many tokens.
	var b strings.Builder
	for i := range MaxTokens + 1 {
		fmt.Fprintf(&b, "{{tok_%016d.exp_year}} ", i)
	}
	_, err := Parse(Request{URL: "https://a.example", Headers: map[string]string{"Content-Type": "text/plain"}, Body: b.String()}, true)
	wantErr(t, err, 400, "parameter_invalid", "body", "different tokens")
}

// TestURLRefusals: no placeholder in the URL, written or percent-encoded;
// https only, plain http only to loopback and only when allowed.
func TestURLRefusals(t *testing.T) {
	for _, u := range []string{
		"https://a.example/cards/{{" + tokA + ".number}}",
		"https://a.example/?pan={{" + tokA + ".number}}",
		"https://a.example/%7B%7B" + tokA + ".number%7D%7D",
		"https://a.example/?q=%7b%7btok_x.number%7d%7d",
		"https://{{" + tokA + ".number}}.example/",
	} {
		_, err := Parse(Request{URL: u}, true)
		wantErr(t, err, 400, "relay_placeholder_in_url", "url", "never in a URL")
	}
	for _, tc := range []struct {
		url   string
		allow bool
		ok    bool
	}{
		{"https://a.example/x", false, true},
		{"http://127.0.0.1:8080/x", true, true},
		{"http://[::1]:8080/x", true, true},
		{"http://localhost:8080/x", true, true},
		{"http://127.0.0.1:8080/x", false, false},
		{"http://a.example/x", true, false},
		{"http://10.0.0.1/x", true, false},
		{"ftp://a.example/x", true, false},
		{"https://user:pass@a.example/x", true, false},
		{"/relative", true, false},
		{"", true, false},
	} {
		_, err := Parse(Request{URL: tc.url}, tc.allow)
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%q, allow=%v) = %v, want ok=%v", tc.url, tc.allow, err, tc.ok)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Param != "url" || e.Status != 400 {
				t.Errorf("Parse(%q): %v, want a 400 naming url", tc.url, err)
			}
		}
	}
	for in, want := range map[string]string{
		"https://API.Example:443/x?y": "https://api.example",
		"https://a.example:8443":      "https://a.example:8443",
		"http://127.0.0.1:80/":        "http://127.0.0.1",
		"http://[::1]:9000/":          "http://[::1]:9000",
	} {
		if got := mustParse(t, Request{URL: in}).Origin(); got != want {
			t.Errorf("Origin(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestRenderRefusesHeaderInjection: a holder name with a line break cannot
// start a header of its own.
func TestRenderRefusesHeaderInjection(t *testing.T) {
	tpl := mustParse(t, Request{URL: "https://a.example", Headers: map[string]string{"X-Name": "{{" + tokA + ".holder_name}}"}})
	_, err := tpl.Render(map[string]Card{tokA: {HolderName: "Abu\r\nX-Evil: 1"}})
	wantErr(t, err, 400, "parameter_invalid", "headers.X-Name", "control character")
}

// TestMasking: every Luhn-valid 12–19 digit run is masked, with or without
// separators, and a substituted number even inside a longer digit run.
func TestMasking(t *testing.T) {
	for in, want := range map[string]string{
		`{"number":"4242424242424242"}`:             `{"number":"424242******4242"}`,
		"card 4242 4242 4242 4242 ok":               "card 424242******4242 ok",
		"amex 378282246310005, mc 5555555555554444": "amex 378282*****0005, mc 555555******4444",
		"id 4242424242424241 is not Luhn":           "id 4242424242424241 is not Luhn",
		"x99424242424242424299":                     "x99424242******424299",
	} {
		if got := Mask(in, []string{panA}); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMaskCVCs: a substituted CVC is masked where it stands alone, not
// inside other numbers.
func TestMaskCVCs(t *testing.T) {
	for in, want := range map[string]string{
		`{"cvc":"123","amount":1234,"id":"a123b"}`: `{"cvc":"***","amount":1234,"id":"a***b"}`,
		"123123 0123 123":                          "123123 0123 ***",
		"123":                                      "***",
		"no cvc here":                              "no cvc here",
	} {
		if got := maskCVCs(in, []string{"123"}); got != want {
			t.Errorf("maskCVCs(%q) = %q, want %q", in, got, want)
		}
	}
}

// destination is a loopback server answering with handler.
func destination(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCallMasksAndLimits: what the destination receives is the rendered
// request; its answer comes back masked (body and headers), hop headers
// dropped; redirects are not followed; an answer over the limit is a 502.
func TestCallMasksAndLimits(t *testing.T) {
	var got *http.Request
	var gotBody string
	url := destination(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, gotBody = r, string(b)
		switch r.URL.Path {
		case "/big":
			w.Write([]byte(strings.Repeat("x", 1025)))
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/brotli":
			w.Header().Set("Content-Encoding", "br")
			w.Write([]byte("..."))
		default:
			w.Header().Set("X-Echo", r.Header.Get("X-Card"))
			w.Header().Add("X-Multi", "a")
			w.Header().Add("X-Multi", "b")
			w.WriteHeader(201)
			fmt.Fprintf(w, `{"echo":%q,"len":%d}`, gotBody, len(gotBody))
		}
	})
	caller := NewCallerWith(&http.Client{Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, 1024)
	tpl := mustParse(t, Request{URL: url + "/cards", Headers: map[string]string{"Content-Type": "application/json", "X-Card": "{{" + tokA + ".number}}"},
		Body: `{"n":"{{` + tokA + `.number}}"}`})
	res, err := caller.Do(context.Background(), mustRender(t, tpl))
	if err != nil {
		t.Fatal(err)
	}
	if gotBody != `{"n":"4242424242424242"}` || got.Header.Get("X-Card") != panA || got.Header.Get("Content-Type") != "application/json" ||
		got.ContentLength != int64(len(gotBody)) || got.Method != "POST" {
		t.Fatalf("destination got %s %q %v", got.Method, gotBody, got.Header)
	}
	if res.Status != 201 || res.Body != `{"echo":"{\"n\":\"424242******4242\"}","len":24}` || res.Headers["X-Echo"] != "424242******4242" ||
		res.Headers["X-Multi"] != "a, b" || res.Headers["Content-Length"] != "" {
		t.Fatalf("answer %+v", res)
	}
	for _, body := range []string{res.Body, fmt.Sprint(res.Headers)} {
		if strings.Contains(body, panA) {
			t.Fatalf("answer holds the card number: %s", body)
		}
	}

	tpl = mustParse(t, Request{URL: url + "/redirect", Method: "GET"})
	res, err = caller.Do(context.Background(), mustRender(t, tpl))
	if err != nil || res.Status != 302 || res.Headers["Location"] != "/elsewhere" || got.URL.Path != "/redirect" {
		t.Fatalf("redirect: %+v %v (last request %s)", res, err, got.URL.Path)
	}

	tpl = mustParse(t, Request{URL: url + "/big", Method: "GET"})
	_, err = caller.Do(context.Background(), mustRender(t, tpl))
	wantErr(t, err, 502, "relay_response_too_large", "", "1024 bytes")

	tpl = mustParse(t, Request{URL: url + "/brotli", Method: "GET"})
	_, err = caller.Do(context.Background(), mustRender(t, tpl))
	wantErr(t, err, 502, "relay_response_encoded", "", "br")
}

// TestCallAddressRules: the outbound client refuses loopback at dial time
// unless private addresses are allowed, as a 403.
func TestCallAddressRules(t *testing.T) {
	url := destination(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	tpl := mustParse(t, Request{URL: url, Method: "GET"})
	_, err := NewCaller(false).Do(context.Background(), mustRender(t, tpl))
	wantErr(t, err, 403, "relay_destination_forbidden", "url", "loopback")
	res, err := NewCaller(true).Do(context.Background(), mustRender(t, tpl))
	if err != nil || res.Status != 204 {
		t.Fatalf("allowed: %+v %v", res, err)
	}
}

// TestCallTimeout: a destination slower than the client's timeout is a 504.
func TestCallTimeout(t *testing.T) {
	release := make(chan struct{})
	url := destination(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	caller := NewCallerWith(&http.Client{Timeout: 100 * time.Millisecond}, 1024)
	_, err := caller.Do(context.Background(), mustRender(t, mustParse(t, Request{URL: url, Method: "GET"})))
	wantErr(t, err, 504, "relay_timeout", "", "did not answer in time")
}

// TestCardFormatsRedacted: no fmt verb prints a card's number.
func TestCardFormatsRedacted(t *testing.T) {
	c := cards[tokA]
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		if s := fmt.Sprintf(verb, c); strings.Contains(s, "4242") || strings.Contains(s, "123") {
			t.Errorf("%s prints %s", verb, s)
		}
	}
}
