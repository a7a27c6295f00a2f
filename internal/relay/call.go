package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/logging"
)

// Timeout bounds one relay call: connecting, sending, and reading the answer.
const Timeout = 30 * time.Second

// MaxResponseBody is the largest answer a relay passes back (1 MiB).
const MaxResponseBody = 1 << 20

// Call is a rendered relay request, ready to send. It holds card data: it
// formats itself redacted, and lives only for the call.
type Call struct {
	method string
	url    string
	header http.Header
	body   []byte
	// pans are the card numbers substituted, masked in the answer even
	// where the generic scan would not find them; cvcs the CVCs, masked
	// wherever they stand alone (no digit either side).
	pans, cvcs []string
}

func (Call) String() string { return "relay.Call(redacted)" }

// Render substitutes the cards (by token id) into the template. cards must
// hold every token Uses lists, with the fields it asks for.
func (t *Template) Render(cards map[string]Card) (*Call, error) {
	c := &Call{method: t.method, url: t.url.String(), header: http.Header{}}
	for _, u := range t.uses {
		if cd, ok := cards[u.Token]; ok && u.Needs(FieldNumber) && cd.Number != "" {
			c.pans = append(c.pans, cd.Number)
		}
		if cd, ok := cards[u.Token]; ok && u.Needs(FieldCVC) && cd.CVC != "" {
			c.cvcs = append(c.cvcs, cd.CVC)
		}
	}
	for _, h := range t.headers {
		v, err := render(h.parts, cards, kindText)
		if err != nil {
			return nil, err
		}
		if !validHeaderValue(v) {
			// Only a substituted value can get here (a holder name with a
			// line break): the literal text was checked by Parse.
			return nil, badRequest("headers."+h.name, "parameter_invalid",
				"headers.%s would hold a control character once its placeholders are substituted", h.name)
		}
		c.header[h.name] = []string{v}
	}
	body, err := render(t.body, cards, t.kind)
	if err != nil {
		return nil, err
	}
	c.body = []byte(body)
	return c, nil
}

func render(parts []part, cards map[string]Card, kind bodyKind) (string, error) {
	var b strings.Builder
	for _, p := range parts {
		if p.ph == nil {
			b.WriteString(p.lit)
			continue
		}
		cd, ok := cards[p.ph.token]
		if !ok {
			return "", errors.New("relay: no card for " + p.ph.token)
		}
		v := cd.value(p.ph.field, p.bare)
		switch kind {
		case kindJSON:
			if p.bare {
				b.WriteString(v) // exp_month / exp_year: digits only
			} else {
				writeJSONString(&b, v)
			}
		case kindForm:
			b.WriteString(url.QueryEscape(v))
		case kindXML:
			writeXML(&b, v)
		default:
			b.WriteString(v)
		}
	}
	return b.String(), nil
}

// writeJSONString writes v escaped for the inside of a JSON string
// (RFC 8259: quote, backslash and control characters).
func writeJSONString(b *strings.Builder, v string) {
	const hex = "0123456789abcdef"
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
}

// writeXML writes v escaped for XML text and attribute values.
func writeXML(b *strings.Builder, v string) {
	for _, r := range v {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		case '\n':
			b.WriteString("&#xA;")
		case '\r':
			b.WriteString("&#xD;")
		case '\t':
			b.WriteString("&#x9;")
		default:
			b.WriteRune(r)
		}
	}
}

// Caller sends relay calls over an outbound client: the webhook address
// rules at dial time, no proxy, no redirects followed, bounded in time.
type Caller struct {
	client  *http.Client
	maxBody int64
}

// NewCaller is a Caller with event.OutboundClient; allowPrivate lets it
// reach private and loopback addresses (the development set-up).
func NewCaller(allowPrivate bool) *Caller {
	return NewCallerWith(event.OutboundClient(allowPrivate, Timeout), MaxResponseBody)
}

// NewCallerWith is a Caller over any client and answer limit (tests).
func NewCallerWith(c *http.Client, maxBody int64) *Caller {
	return &Caller{client: c, maxBody: maxBody}
}

// Do sends the call and returns the answer with every card number masked.
// A failure is an *Error: 403 for an address the rules refuse at dial
// time, 504 for a timeout, 502 for anything else (unreachable, an answer
// over the limit).
func (c *Caller) Do(ctx context.Context, call *Call) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, call.method, call.url, bytes.NewReader(call.body))
	if err != nil {
		return nil, badRequest("url", "url_invalid", "url cannot be requested")
	}
	if len(call.body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	req.Header = call.header.Clone()
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "Coffer-Relay/1")
	}
	res, err := c.client.Do(req)
	if err != nil {
		return nil, callError(err)
	}
	defer res.Body.Close()
	if ce := res.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		// The client undoes gzip itself; any other encoding would hide
		// card numbers from the masking.
		return nil, &Error{Status: 502, Code: "relay_response_encoded",
			Message: "The destination answered in a content encoding the relay cannot inspect (" + quote(ce) + ")."}
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, c.maxBody+1))
	if err != nil {
		return nil, callError(err)
	}
	if int64(len(raw)) > c.maxBody {
		return nil, &Error{Status: 502, Code: "relay_response_too_large",
			Message: "The destination's answer is larger than the relay passes back (" + humanSize(c.maxBody) + ")."}
	}
	mask := func(s string) string { return maskCVCs(Mask(s, call.pans), call.cvcs) }
	return &Response{Status: res.StatusCode, Headers: maskHeaders(res.Header, mask), Body: mask(string(raw))}, nil
}

// callError words a failed call without its details (they can name
// internal addresses); the caller logs the error itself.
func callError(err error) *Error {
	var ae *event.AddressError
	if errors.As(err, &ae) {
		return &Error{Status: 403, Code: "relay_destination_forbidden", Param: "url",
			Message: "The destination resolves to an address relays may not reach: " + ae.Error(), cause: err}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &Error{Status: 504, Code: "relay_timeout", Message: "The destination did not answer in time.", cause: err}
	}
	return &Error{Status: 502, Code: "relay_destination_unreachable", Message: "The destination could not be reached.", cause: err}
}

func humanSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// Mask hides card numbers in s: each of pans wherever it appears (even
// inside a longer run of digits), then every 12–19 digit Luhn-valid run
// (logging.Redact), each shown as BIN + last 4 at most.
func Mask(s string, pans []string) string {
	for _, p := range pans {
		if len(p) >= 12 {
			s = strings.ReplaceAll(s, p, card.Mask(p))
		}
	}
	return logging.Redact(s)
}

// hopHeaders describe the destination's connection or body encoding, not
// the answer the merchant gets (the body comes back re-encoded in JSON).
var hopHeaders = map[string]bool{"Connection": true, "Content-Length": true, "Keep-Alive": true, "Transfer-Encoding": true,
	"Trailer": true, "Upgrade": true, "Proxy-Connection": true}

// maskCVCs replaces each of cvcs with stars wherever it stands alone (no
// digit either side): a destination that echoes the CVC it was sent must
// not have it passed on. A lone number equal to the CVC elsewhere in the
// answer is masked too; that is the price of never echoing one.
func maskCVCs(s string, cvcs []string) string {
	for _, c := range cvcs {
		if c == "" {
			continue
		}
		var b strings.Builder
		from := 0
		for at := 0; ; {
			i := strings.Index(s[at:], c)
			if i < 0 {
				break
			}
			i += at
			end := i + len(c)
			if (i == 0 || !isDigit(s[i-1])) && (end == len(s) || !isDigit(s[end])) {
				b.WriteString(s[from:i])
				b.WriteString(strings.Repeat("*", len(c)))
				from = end
			}
			at = end
		}
		b.WriteString(s[from:])
		s = b.String()
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func maskHeaders(h http.Header, mask func(string) string) map[string]string {
	out := make(map[string]string, len(h))
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if hopHeaders[k] {
			continue
		}
		out[mask(k)] = mask(strings.Join(h[k], ", "))
	}
	return out
}
