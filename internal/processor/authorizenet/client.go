// Package authorizenet is Coffer's connector to Authorize.net's JSON API
// (createTransactionRequest and the Transaction Details API), for card
// payments and for cards kept at Authorize.net as customer payment profiles.
//
// Idempotency: Authorize.net has no idempotency key. Each Coffer reference is
// turned into a 20-character digest sent as order.invoiceNumber (and refId);
// before charging, the connector looks the digest up (in memory, then in the
// unsettled transactions and recent settled batches), and the charge itself
// carries duplicateWindow = 28800 s so that the gateway refuses a repeat that
// races the look-up. docs/connectors.md ("Authorize.net") states the limits.
package authorizenet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
)

// Authorize.net's API addresses.
const (
	ProductionURL = "https://api.authorize.net/xml/v1/request.api"
	SandboxURL    = "https://apitest.authorize.net/xml/v1/request.api"
	apiPath       = "/xml/v1/request.api"
)

// DuplicateWindow is the duplicateWindow setting sent with every charge and
// refund, in seconds: Authorize.net's maximum (8 hours).
const DuplicateWindow = 28800

// Defaults for the searches that find a reference's transaction.
const (
	defaultRepeatCheckDays = 2
	defaultLookupDays      = 31 // the most one getSettledBatchListRequest may span
	pageSize               = 1000
	defaultMaxPages        = 20
	maxBody                = 16 << 20
)

var _ processor.Processor = (*Client)(nil)

// Config is an Authorize.net account.
type Config struct {
	APILoginID, TransactionKey string
	// BaseURL is the API endpoint, ProductionURL when empty. An address with
	// no path (a test server's "http://127.0.0.1:PORT") gets /xml/v1/request.api.
	BaseURL string
	// HTTPClient defaults to a client with a 30-second timeout.
	HTTPClient *http.Client
	// RepeatCheckDays is how many days of settled batches Authorize and Sale
	// search for an earlier transaction of the same reference before
	// charging (the unsettled list is always searched). 0 means 2; negative
	// means none (the duplicate window alone then guards a late repeat).
	RepeatCheckDays int
	// LookupDays is how many days of settled batches Lookup and LookupRefund
	// search; 0 means 31, the API's limit for one batch-list request.
	LookupDays int
	// MaxPages bounds every list walk, in pages of 1000 transactions; 0 means 20.
	MaxPages int
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Client is an Authorize.net account as a processor.Processor. It is safe for
// concurrent use.
type Client struct {
	cfg      Config
	endpoint string
	hc       *http.Client

	mu    sync.Mutex
	known map[string]outcome // invoice digest → what the gateway answered
	// refunds made through this client, by invoice digest
	refunds map[string]processor.Refund
}

// outcome is a remembered answer for a reference.
type outcome struct {
	auth    processor.Authorization
	decline *processor.Decline
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	endpoint := cfg.BaseURL
	if endpoint == "" {
		endpoint = ProductionURL
	} else if u, err := url.Parse(endpoint); err == nil && (u.Path == "" || u.Path == "/") {
		u.Path = apiPath
		endpoint = u.String()
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.RepeatCheckDays == 0 {
		cfg.RepeatCheckDays = defaultRepeatCheckDays
	}
	if cfg.LookupDays <= 0 || cfg.LookupDays > defaultLookupDays {
		cfg.LookupDays = defaultLookupDays
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = defaultMaxPages
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Client{cfg: cfg, endpoint: endpoint, hc: hc,
		known: make(map[string]outcome), refunds: make(map[string]processor.Refund)}
}

func (c *Client) auth() merchantAuthentication {
	return merchantAuthentication{Name: c.cfg.APILoginID, TransactionKey: c.cfg.TransactionKey}
}

// apiError is a resultCode "Error" answer without a transaction result.
type apiError struct {
	Code, Text string
}

func (e *apiError) Error() string { return "authorize.net " + e.Code + ": " + e.Text }

// mapped turns an API error into the processor's error vocabulary.
func (e *apiError) mapped() error {
	switch e.Code {
	case "E00001", "E00053", "E00104":
		// "An error occurred during processing", "server too busy", "server in maintenance"
		return fmt.Errorf("%w: %v", processor.ErrUnavailable, e)
	case "E00040":
		return fmt.Errorf("%w: %v", processor.ErrNotFound, e)
	}
	return fmt.Errorf("%w: %v", processor.ErrInvalidRequest, e)
}

var authCodes = map[string]string{
	"E00007": "authentication failed: check the account's api_login_id and transaction_key",
	"E00008": "authentication failed: the account or API user is inactive",
	"E00011": "access denied: enable the Transaction Details API for this account (Account → Settings → Transaction Details API)",
}

// call posts {op: body} and decodes the answer into out, which must embed
// apiResponse. Transport failures become ErrUnreachable when the request was
// never fully written and ErrUnavailable after it was; 5xx is ErrUnavailable;
// authentication errors are ErrUnreachable; any other resultCode "Error" is
// an *apiError, returned along with the decoded answer.
func (c *Client) call(ctx context.Context, op string, body any, out interface{ header() *apiResponse }) error {
	inner, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%w: encoding %s", processor.ErrInvalidRequest, op)
	}
	payload := make([]byte, 0, len(inner)+len(op)+8)
	payload = append(payload, `{"`...)
	payload = append(payload, op...)
	payload = append(payload, `":`...)
	payload = append(payload, inner...)
	payload = append(payload, '}')

	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, c.endpoint, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("%w: bad endpoint", processor.ErrUnreachable)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(op, err, wrote.Load())
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%w: %s: reading the answer: %s", processor.ErrUnavailable, op, cause(err))
	}
	switch {
	case resp.StatusCode >= 500:
		return fmt.Errorf("%w: %s: HTTP %d", processor.ErrUnavailable, op, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		// A proxy or a wrong address answered; the API itself always says 200.
		return fmt.Errorf("%w: %s: HTTP %d from %s", processor.ErrUnreachable, op, resp.StatusCode, c.endpointHost())
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")) // the API starts its JSON with a BOM
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%w: %s: undecodable answer", processor.ErrUnavailable, op)
	}
	h := out.header()
	if h.Messages.ResultCode == "Ok" {
		return nil
	}
	if h.Messages.ResultCode != "Error" || len(h.Messages.Message) == 0 {
		return fmt.Errorf("%w: %s: answer without a result", processor.ErrUnavailable, op)
	}
	m := h.Messages.Message[0]
	if msg, ok := authCodes[m.Code]; ok {
		return fmt.Errorf("%w: authorize.net %s: %s", processor.ErrUnreachable, m.Code, msg)
	}
	return &apiError{Code: m.Code, Text: c.scrub(m.Text)}
}

func (c *Client) endpointHost() string {
	if u, err := url.Parse(c.endpoint); err == nil {
		return u.Host
	}
	return "the endpoint"
}

func (c *Client) transportError(op string, err error, wrote bool) error {
	if wrote {
		return fmt.Errorf("%w: %s: no answer after sending: %s", processor.ErrUnavailable, op, cause(err))
	}
	return fmt.Errorf("%w: %s: %s", processor.ErrUnreachable, op, cause(err))
}

// cause names a transport failure without echoing the URL or any payload.
func cause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return "timeout"
	}
	return err.Error()
}

var (
	longDigits  = regexp.MustCompile(`\d[\d \-]{10,}\d`)
	quotedValue = regexp.MustCompile(`(?i)(value\s*)'[^']*'`)
)

// scrub removes from a text the gateway wrote anything that could be card
// data or a secret: digit runs of 12 or more (a PAN), the value a schema
// error quotes (it may be a number or a CVC), and the transaction key.
func (c *Client) scrub(s string) string {
	s = quotedValue.ReplaceAllString(s, "${1}'[redacted]'")
	s = longDigits.ReplaceAllStringFunc(s, func(m string) string {
		n := 0
		for _, r := range m {
			if r >= '0' && r <= '9' {
				n++
			}
		}
		if n >= 12 {
			return "[redacted]"
		}
		return m
	})
	if k := c.cfg.TransactionKey; len(k) >= 4 {
		s = strings.ReplaceAll(s, k, "[redacted]")
	}
	return s
}

// Invoice digests. Coffer's references are longer than the 20 characters
// that refId and invoiceNumber allow, so each is a base32 SHA-256 digest
// with a one-letter kind: A for an authorization or sale (they share a
// reference space, as in the simulator), V for a verification, R for a
// refund. A refund's digest starts with 9 characters of its capture's own
// digest so that Lookup can sum a capture's refunds from a transaction list.

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return b32.EncodeToString(h.Sum(nil))
}

func authInvoice(merchantID, reference string) string {
	return "A" + digest("auth", merchantID, reference)[:19]
}

func verifyInvoice(merchantID, reference string) string {
	return "V" + digest("verify", merchantID, reference)[:19]
}

func refundPrefix(captureID string) string {
	return "R" + digest("capture", captureID)[:9]
}

func refundInvoice(captureID, reference string) string {
	return refundPrefix(captureID) + digest("refund", captureID, reference)[:10]
}

// description is order.description: the reference in full and the currency,
// so that the merchant's reports show Coffer's own reference and Lookup can
// tell the currency and rule out a digest collision.
func description(kind, currency, reference string) string {
	d := "Coffer " + kind + " " + currency + " " + reference
	if len(d) > 255 {
		d = d[:255]
	}
	return d
}

func parseDescription(d string) (kind, currency, reference string, ok bool) {
	parts := strings.SplitN(d, " ", 4)
	if len(parts) != 4 || parts[0] != "Coffer" {
		return "", "", "", false
	}
	return parts[1], parts[2], parts[3], true
}

// currencies Authorize.net accepts; all have two decimals.
var currencies = map[string]bool{"USD": true, "CAD": true, "EUR": true, "GBP": true, "AUD": true,
	"NZD": true, "CHF": true, "DKK": true, "NOK": true, "PLN": true, "SEK": true}

func amountString(minor int64) string {
	return fmt.Sprintf("%d.%02d", minor/100, minor%100)
}

func checkAmount(minor int64, currency string, zeroOK bool) error {
	if minor < 0 || (minor == 0 && !zeroOK) {
		return fmt.Errorf("%w: amount must be positive", processor.ErrInvalidRequest)
	}
	if !currencies[strings.ToUpper(currency)] {
		return fmt.Errorf("%w: currency %q is not supported by Authorize.net", processor.ErrInvalidRequest, currency)
	}
	return nil
}

func (c *Client) remember(invoice string, o outcome) {
	c.mu.Lock()
	c.known[invoice] = o
	c.mu.Unlock()
}

func (c *Client) recall(invoice string) (outcome, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.known[invoice]
	return o, ok
}
