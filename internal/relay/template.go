package relay

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits of one relay request.
const (
	// MaxTokens is the most distinct tokens one request may substitute:
	// each is an audit record and a decryption.
	MaxTokens = 10
	// MaxPlaceholders is the most placeholders one request may hold.
	MaxPlaceholders = 100
	// MaxHeaders is the most headers one request may set.
	MaxHeaders = 50
	maxURL     = 2048
)

// Template is a parsed relay request: its destination, and its headers and
// body cut into literal text and placeholders.
type Template struct {
	method  string
	url     *url.URL
	origin  string
	headers []header
	body    []part
	kind    bodyKind
	uses    []Use
}

type header struct {
	name  string // canonical
	parts []part
}

// part is literal text, or a placeholder (ph != nil).
type part struct {
	lit string
	ph  *placeholder
	// bare: a JSON body's placeholder outside any string (a JSON number).
	bare bool
}

type placeholder struct {
	text  string // as written, for messages
	token string
	field Field
}

// bodyKind is how a body's substitutions are escaped.
type bodyKind int

const (
	kindNone bodyKind = iota // no placeholder in the body: sent as is
	kindJSON
	kindForm
	kindXML
	kindText
)

// methods a relay may use.
var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// forbiddenHeaders are set by the HTTP client for the connection it makes
// (or make no sense on one request); a template may not set them.
var forbiddenHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true,
	"Proxy-Authorization": true, "Proxy-Connection": true, "Te": true, "Trailer": true, "Upgrade": true, "Expect": true,
	// The client asks for gzip and undoes it itself: an answer in an
	// encoding it cannot read could not be masked.
	"Accept-Encoding": true,
}

// Parse checks a relay request and cuts it into a template. allowPlainLoopback
// lets the destination be plain http on a loopback address (the development
// set-up); every other destination must be https.
func Parse(req Request, allowPlainLoopback bool) (*Template, error) {
	t := &Template{method: strings.ToUpper(strings.TrimSpace(req.Method))}
	if t.method == "" {
		t.method = http.MethodPost
	}
	if !slices.Contains(methods, t.method) {
		return nil, badRequest("method", "parameter_invalid", "method must be one of %s", strings.Join(methods, ", "))
	}
	if err := t.parseURL(req.URL, allowPlainLoopback); err != nil {
		return nil, err
	}
	p := &parser{uses: map[string]int{}}
	if len(req.Headers) > MaxHeaders {
		return nil, badRequest("headers", "parameter_invalid", "at most %d headers", MaxHeaders)
	}
	names := make([]string, 0, len(req.Headers))
	for name := range req.Headers {
		names = append(names, name)
	}
	slices.Sort(names) // the same request always yields the same template and errors
	contentType := ""
	for _, name := range names {
		param := "headers." + name
		if !validHeaderName(name) {
			return nil, badRequest(param, "parameter_invalid", "%s is not a valid header name", param)
		}
		canon := http.CanonicalHeaderKey(name)
		if forbiddenHeaders[canon] || strings.HasPrefix(canon, "Proxy-") {
			return nil, badRequest(param, "parameter_invalid", "the %s header is set by Coffer for the connection it makes", canon)
		}
		v := req.Headers[name]
		if !validHeaderValue(v) {
			return nil, badRequest(param, "parameter_invalid", "%s must be one line of text (no control characters)", param)
		}
		parts, err := p.cut(v, param, kindText)
		if err != nil {
			return nil, err
		}
		if canon == "Content-Type" {
			if len(parts) > 1 || len(parts) == 1 && parts[0].ph != nil {
				return nil, badRequest(param, "relay_placeholder_not_allowed", "%s may not hold a placeholder", param)
			}
			contentType = v
		}
		t.headers = append(t.headers, header{name: canon, parts: parts})
	}
	if strings.Contains(req.Body, "{{") {
		kind, err := kindOf(contentType, req.Body)
		if err != nil {
			return nil, err
		}
		if t.body, err = p.cut(req.Body, "body", kind); err != nil {
			return nil, err
		}
		if hasPlaceholder(t.body) {
			t.kind = kind
		}
	} else if req.Body != "" {
		t.body = []part{{lit: req.Body}}
	}
	t.uses = p.list
	return t, nil
}

// parseURL checks the destination: absolute, https (or http to loopback
// when allowed), no credentials, and no placeholder — a card number in a
// URL ends up in every access log on its way.
func (t *Template) parseURL(raw string, allowPlainLoopback bool) error {
	if raw == "" {
		return badRequest("url", "parameter_missing", "url is required")
	}
	if len(raw) > maxURL {
		return badRequest("url", "parameter_invalid", "url must be at most %d characters", maxURL)
	}
	if hasBraces(raw) {
		return badRequest("url", "relay_placeholder_in_url",
			"url may not hold a placeholder: card data goes in the body or a header, never in a URL")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return badRequest("url", "url_invalid", "url must be an absolute https URL")
	}
	if u.User != nil {
		return badRequest("url", "url_invalid", "url may not hold credentials; send them in a header")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowPlainLoopback || !isLoopback(u.Hostname()) {
			return badRequest("url", "url_invalid", "url must be https (plain http only to a loopback address in a development set-up)")
		}
	default:
		return badRequest("url", "url_invalid", "url must be an absolute https URL")
	}
	u.Fragment, u.RawFragment = "", ""
	t.url, t.origin = u, Origin(u)
	return nil
}

// hasBraces reports a placeholder's opening in a URL, written or
// percent-encoded.
func hasBraces(raw string) bool {
	if strings.Contains(raw, "{{") {
		return true
	}
	for _, dec := range []func(string) (string, error){url.PathUnescape, url.QueryUnescape} {
		if s, err := dec(raw); err == nil && strings.Contains(s, "{{") {
			return true
		}
	}
	return strings.Contains(strings.ToUpper(raw), "%7B%7B")
}

// isLoopback reports a loopback host: 127.0.0.0/8, ::1 or a localhost name.
func isLoopback(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// Origin is scheme://host[:port] of u in lower case, without the scheme's
// default port: the form the relay_destinations allowlist is kept in.
func Origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return scheme + "://" + host + ":" + port
	}
	return scheme + "://" + host
}

// Origin is the destination's origin, for the allowlist and the audit trail.
func (t *Template) Origin() string { return t.origin }

// URL is the destination as it will be called.
func (t *Template) URL() string { return t.url.String() }

// Uses lists the tokens the template substitutes, in the order they first
// appear (headers by name, then the body).
func (t *Template) Uses() []Use { return slices.Clone(t.uses) }

// kindOf picks the escaping of a body with placeholders from its
// Content-Type; a body the relay cannot escape for is refused.
func kindOf(contentType, body string) (bodyKind, error) {
	const param = "headers.Content-Type"
	if contentType == "" {
		return 0, badRequest(param, "parameter_missing",
			"a body with placeholders needs a Content-Type header (JSON, form-urlencoded, XML or text/plain), so that the card is escaped for it")
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, badRequest(param, "parameter_invalid", "the Content-Type header cannot be parsed")
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return kindJSON, nil
	case mt == "application/x-www-form-urlencoded":
		return kindForm, nil
	case mt == "text/xml" || mt == "application/xml" || strings.HasSuffix(mt, "+xml"):
		return kindXML, nil
	case mt == "text/plain":
		return kindText, nil
	}
	return 0, badRequest(param, "relay_content_type_unsupported",
		"placeholders in the body need a JSON, form-urlencoded, XML or text/plain Content-Type, not %s", mt)
}

// parser cuts texts into parts, collecting the tokens they use.
type parser struct {
	list  []Use
	uses  map[string]int // token → index in list
	count int
}

// placeholderRE is one placeholder's content between the braces.
var placeholderRE = regexp.MustCompile(`^(tok_[a-z0-9]{1,64})(?:\.([A-Za-z0-9_]*))?$`)

// cut splits s into literal text and placeholders. A placeholder is
// "{{tok_…" up to the next "}}"; other "{{" are literal text.
func (p *parser) cut(s, param string, kind bodyKind) ([]part, error) {
	var parts []part
	lit := 0
	var js jsonState
	for i := 0; i < len(s); {
		if kind == kindJSON && !(s[i] == '{' && strings.HasPrefix(s[i:], "{{") && opensPlaceholder(s[i+2:])) {
			js.step(s[i])
			i++
			continue
		}
		if !strings.HasPrefix(s[i:], "{{") || !opensPlaceholder(s[i+2:]) {
			i++
			continue
		}
		end := strings.Index(s[i+2:], "}}")
		if end < 0 || end > 200 {
			return nil, badRequest(param, "relay_placeholder_invalid", "%s holds a placeholder %s with no closing }}", param, quote(s[i:min(len(s), i+40)]))
		}
		text := s[i : i+2+end+2]
		ph, err := parsePlaceholder(text, param)
		if err != nil {
			return nil, err
		}
		bare := kind == kindJSON && !js.inString
		if bare && ph.field != FieldExpMonth && ph.field != FieldExpYear {
			return nil, badRequest(param, "relay_placeholder_invalid",
				"%s: %s must be inside a JSON string (only exp_month and exp_year may stand as bare numbers)", param, text)
		}
		if p.count++; p.count > MaxPlaceholders {
			return nil, badRequest(param, "parameter_invalid", "at most %d placeholders", MaxPlaceholders)
		}
		if err := p.use(ph, param); err != nil {
			return nil, err
		}
		if i > lit {
			parts = append(parts, part{lit: s[lit:i]})
		}
		parts = append(parts, part{ph: ph, bare: bare})
		i += len(text)
		lit = i
	}
	if lit < len(s) {
		parts = append(parts, part{lit: s[lit:]})
	}
	return parts, nil
}

// opensPlaceholder: after "{{", optional spaces then "tok_".
func opensPlaceholder(rest string) bool {
	return strings.HasPrefix(strings.TrimLeft(rest, " "), "tok_")
}

func parsePlaceholder(text, param string) (*placeholder, error) {
	inner := strings.TrimSpace(text[2 : len(text)-2])
	m := placeholderRE.FindStringSubmatch(inner)
	if m == nil {
		return nil, badRequest(param, "relay_placeholder_invalid", "%s: %s is not a placeholder of the form {{tok_….field}}", param, quote(text))
	}
	f := Field(m[2])
	if !fields[f] {
		return nil, badRequest(param, "relay_placeholder_unknown",
			"%s: unknown placeholder %s; a token's fields are number, exp_month, exp_year, holder_name and cvc", param, quote(text))
	}
	return &placeholder{text: text, token: m[1], field: f}, nil
}

// quote bounds a client's text echoed in an error.
func quote(s string) string {
	if len(s) > 60 {
		cut := 60
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func (p *parser) use(ph *placeholder, param string) error {
	i, ok := p.uses[ph.token]
	if !ok {
		if len(p.list) == MaxTokens {
			return badRequest(param, "parameter_invalid", "at most %d different tokens in one relay", MaxTokens)
		}
		i = len(p.list)
		p.uses[ph.token] = i
		p.list = append(p.list, Use{Token: ph.token, Param: param})
	}
	u := &p.list[i]
	if !u.Needs(ph.field) {
		u.Fields = append(u.Fields, ph.field)
	}
	if ph.field == FieldCVC && u.CVCPlaceholder == "" {
		u.CVCPlaceholder, u.CVCParam = ph.text, param
	}
	return nil
}

func hasPlaceholder(parts []part) bool {
	return slices.ContainsFunc(parts, func(p part) bool { return p.ph != nil })
}

// jsonState follows a JSON text byte by byte far enough to know whether
// the next byte is inside a string.
type jsonState struct {
	inString, escaped bool
}

func (j *jsonState) step(c byte) {
	switch {
	case !j.inString:
		j.inString = c == '"'
	case j.escaped:
		j.escaped = false
	case c == '\\':
		j.escaped = true
	case c == '"':
		j.inString = false
	}
}

// validHeaderName is RFC 9110's token.
func validHeaderName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// validHeaderValue refuses control characters (tab aside): a CR or LF
// would end the header and start another.
func validHeaderValue(s string) bool {
	if len(s) > 8<<10 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}
