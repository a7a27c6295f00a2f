package event

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// Format renders deliveries in a provider's shape instead of Coffer's own
// Standard Webhooks JSON: each provider dialect that sends callbacks
// implements one and the server registers it by name (Config.Formats); a
// session's CallbackFormat picks it. The outbox, leases, parking, address
// checks and the delivery log stay the dispatcher's; a Format only says what
// one attempt sends and what counts as delivered.
type Format interface {
	// Request builds one attempt's request for ev to target. It is called
	// afresh for each attempt, so a signature may carry a nonce or time.
	// ErrSkip: this format sends nothing for ev (a provider that only tells
	// of outcomes); the delivery ends as skipped, without an attempt.
	Request(ctx context.Context, merchantID string, ev *store.Event, target string) (*http.Request, error)
	// Delivered judges the receiver's answer from its status and the start
	// of its body (at most 64 KiB, never stored): "" when delivered, else a
	// few words for the delivery log on why not (never the body itself).
	Delivered(status int, body []byte) string
}

// Scheduler is a Format with its own retry schedule (a provider's
// documented one); without it the dispatcher's backoff applies.
type Scheduler interface {
	// Retry is the delay after the nth failed attempt, whose answer had
	// status (0 when none came); false gives up now (the provider does not
	// retry such an answer, or its schedule is over).
	Retry(n, status int) (time.Duration, bool)
}

// ErrSkip is what Format.Request returns for an event it does not send.
var ErrSkip = errors.New("event: this format does not send the event")

// Delivered2xx is the usual judgement: any 2xx is delivered; a redirect is
// not followed.
func Delivered2xx(status int, _ []byte) string {
	switch {
	case status >= 200 && status < 300:
		return ""
	case status >= 300 && status < 400:
		return "redirects are not followed (HTTP " + itoa(status) + ")"
	}
	return "HTTP " + itoa(status)
}

func itoa(n int) string { return strconv.Itoa(n) }
