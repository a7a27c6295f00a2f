// Package stripe is a processor.Processor that moves money through Stripe's
// API: card PaymentMethods confirmed on PaymentIntents (authorize, sale,
// capture, cancel), Refunds, and SetupIntents for account verification.
//
// It speaks Stripe's form-encoded HTTP API with the standard library only.
// Coffer's reference is the Idempotency-Key of every request that moves
// money, so a retry never charges twice (within Stripe's 24-hour key
// window), and is stored on the PaymentIntent's metadata so Lookup can find
// it again. docs/connectors.md says what is mapped and what is not.
package stripe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/wire"
)

// DefaultBaseURL is Stripe's API.
const DefaultBaseURL = "https://api.stripe.com"

// APIVersion pins the Stripe-Version the connector was written against (the
// version of stripe-mock v0.203.0's spec), so an account's default version
// cannot change the shape of the answers.
const APIVersion = "2026-08-26.dahlia"

const (
	// requestTimeout bounds each request, whatever the caller's context.
	requestTimeout = 30 * time.Second
	// clientTimeout is the HTTP client's own bound when the caller's has none.
	clientTimeout = 40 * time.Second
	// maxResponse bounds an answer's size.
	maxResponse = 4 << 20
	// maxMessage bounds Stripe's text kept in an error.
	maxMessage = 300
)

// Config is a Stripe account.
type Config struct {
	SecretKey string // sk_… or a restricted rk_… key
	BaseURL   string // "" for DefaultBaseURL; a test server's URL otherwise
	// HTTPClient carries the requests; the caller's dialer enforces its
	// address rules. nil: a plain client.
	HTTPClient *http.Client
}

// Client is a processor.Processor for one Stripe account. It is safe for
// concurrent use.
type Client struct {
	key  string
	base string
	http *http.Client
}

var _ processor.Processor = (*Client)(nil)

// New returns a connector for cfg. The HTTP client is copied so that a
// timeout and a no-redirect policy can be added without changing the
// caller's.
func New(cfg Config) *Client {
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	if hc.Timeout == 0 {
		hc.Timeout = clientTimeout
	}
	// Stripe's API never redirects; following one could send the key elsewhere.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	return &Client{key: cfg.SecretKey, base: base, http: hc}
}

// apiError is Stripe's error object ({"error": {…}}), also found as a
// PaymentIntent's last_payment_error and a SetupIntent's last_setup_error.
type apiError struct {
	Type        string `json:"type"`
	Code        string `json:"code"`
	DeclineCode string `json:"decline_code"`
	Message     string `json:"message"`
	Param       string `json:"param"`
}

// connError is a failure of the call itself: Kind is one of processor's
// sentinel errors; Cause (a transport or context error) stays reachable
// with errors.Is, while the message is cleaned.
type connError struct {
	kind  error
	msg   string
	cause error
}

func (e *connError) Error() string { return e.msg }
func (e *connError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func (c *Client) fail(kind error, format string, args ...any) error {
	return &connError{kind: kind, msg: kind.Error() + ": " + c.clean(fmt.Sprintf(format, args...))}
}

var (
	keyPattern    = regexp.MustCompile(`\b([sprk]k)_(test|live)_[0-9A-Za-z_]+`)
	bearerPattern = regexp.MustCompile(`(?i)(bearer|basic)\s+[^\s'"]+`)
)

// clean makes a text safe for an error: no secret key (Stripe echoes a
// rejected Authorization header), no run of 12+ digits, bounded length.
func (c *Client) clean(s string) string {
	if c.key != "" {
		s = strings.ReplaceAll(s, c.key, "[redacted]")
	}
	s = keyPattern.ReplaceAllString(s, "${1}_${2}_[redacted]")
	s = bearerPattern.ReplaceAllString(s, "$1 [redacted]")
	s = wire.Clean(s)
	if len(s) > maxMessage {
		s = s[:maxMessage] + "…"
	}
	return s
}

// call sends one request and decodes a 2xx answer into out. form is the
// body of a POST and the query of a GET; idem, when set, is the
// Idempotency-Key. Every failure is mapped to processor's errors:
//   - nothing sent (dial, TLS, a canceled context) → ErrUnreachable;
//   - sent but no answer (a timeout), a 5xx, a 409 → ErrUnavailable;
//   - 401/403 (bad key) and 429 (rate limited): Stripe did nothing → ErrUnreachable;
//   - a card_error (402) → *processor.Decline;
//   - 404 resource_missing → ErrNotFound; a state conflict → ErrInvalidState;
//   - any other 4xx → ErrInvalidRequest with Stripe's message.
func (c *Client) call(ctx context.Context, method, path string, form url.Values, idem string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	u := c.base + path
	var body io.Reader
	if method == http.MethodGet {
		if len(form) > 0 {
			u += "?" + form.Encode()
		}
	} else {
		body = strings.NewReader(form.Encode())
	}
	var sent atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				sent.Store(true)
			}
		},
	})
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return c.fail(processor.ErrInvalidRequest, "stripe %s %s: %v", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Stripe-Version", APIVersion)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		kind := processor.ErrUnreachable
		what := "not sent"
		if sent.Load() {
			kind, what = processor.ErrUnavailable, "sent, no answer"
		}
		return &connError{kind: kind, cause: err,
			msg: kind.Error() + ": " + c.clean(fmt.Sprintf("stripe %s %s (%s): %v", method, path, what, err))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return &connError{kind: processor.ErrUnavailable, cause: err,
			msg: processor.ErrUnavailable.Error() + ": " + c.clean(fmt.Sprintf("stripe %s %s: reading the answer: %v", method, path, err))}
	}
	if len(data) > maxResponse {
		return c.fail(processor.ErrUnavailable, "stripe %s %s: answer over %d bytes", method, path, maxResponse)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			// Stripe acted but the answer is unreadable: ask Lookup.
			return c.fail(processor.ErrUnavailable, "stripe %s %s: undecodable answer (HTTP %d): %v", method, path, resp.StatusCode, err)
		}
		return nil
	}
	var env struct {
		Error apiError `json:"error"`
	}
	json.Unmarshal(data, &env) // a non-JSON answer (a proxy's page) leaves it empty
	e := env.Error
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	st := resp.StatusCode
	switch {
	case st >= 500:
		return c.fail(processor.ErrUnavailable, "stripe %s %s: HTTP %d: %s", method, path, st, msg)
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		return c.fail(processor.ErrUnreachable, "stripe %s %s: HTTP %d: Stripe refused the account's secret key, nothing was done: %s", method, path, st, msg)
	case st == http.StatusTooManyRequests:
		return c.fail(processor.ErrUnreachable, "stripe %s %s: HTTP 429: rate limited, nothing was done: %s", method, path, msg)
	case st == http.StatusConflict:
		// Another request with the same Idempotency-Key is in flight.
		return c.fail(processor.ErrUnavailable, "stripe %s %s: HTTP 409: %s", method, path, msg)
	case e.Type == "card_error" || st == http.StatusPaymentRequired:
		return c.decline(&e)
	case st == http.StatusNotFound && e.Code == "resource_missing":
		return c.fail(processor.ErrNotFound, "stripe %s %s: %s", method, path, msg)
	case stateCodes[e.Code]:
		return c.fail(processor.ErrInvalidState, "stripe %s %s: %s", method, path, msg)
	default:
		return c.fail(processor.ErrInvalidRequest, "stripe %s %s: HTTP %d: %s", method, path, st, msg)
	}
}

// stateCodes are Stripe's error codes for an operation the object's state
// forbids (processor.ErrInvalidState).
var stateCodes = map[string]bool{
	"payment_intent_unexpected_state": true,
	"setup_intent_unexpected_state":   true,
	"charge_already_captured":         true,
	"charge_already_refunded":         true,
	"charge_expired_for_capture":      true,
	"charge_disputed":                 true,
	"amount_too_large":                true,
}
