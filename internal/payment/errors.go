package payment

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/logging"
	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/processor"
)

// Kind classifies an Error; the HTTP layer maps it to a status and type.
type Kind int

const (
	KindInvalidRequest Kind = iota + 1 // 400
	KindCard                           // 402: declined or failed verification
	KindNotFound                       // 404, also for other merchants' objects
	KindConflict                       // 409
	KindInvalidState                   // 422
	KindUpstream                       // 502: the processor failed, not the card
	KindRateLimit                      // 429: card testing suspected; Error.RetryAfter says when to come back
)

// HTTPStatus is the status every API shape (native and dialects) answers a
// kind with; 500 for none.
func (k Kind) HTTPStatus() int {
	switch k {
	case KindInvalidRequest:
		return 400
	case KindCard:
		return 402
	case KindNotFound:
		return 404
	case KindConflict:
		return 409
	case KindInvalidState:
		return 422
	case KindUpstream:
		return 502
	case KindRateLimit:
		return 429
	}
	return 500
}

// Error is a client-facing failure. Messages never contain card data.
type Error struct {
	Kind        Kind
	Code        string
	Param       string
	Message     string
	DeclineCode string
	Payment     *PaymentView // the recorded failed payment, for declines of a payment
	// RetryAfter, for KindRateLimit, is what every API shape sends as
	// the Retry-After header (whole seconds).
	RetryAfter time.Duration
}

// RetryAfterSeconds is the Retry-After header value of a rate-limit error,
// or "" for any other error.
func RetryAfterSeconds(err error) string {
	var pe *Error
	if !errors.As(err, &pe) || pe.Kind != KindRateLimit {
		return ""
	}
	return strconv.Itoa(max(1, int(math.Ceil(pe.RetryAfter.Seconds()))))
}

func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Param, e.Message)
	}
	return e.Code + ": " + e.Message
}

func invalid(param, code, format string, args ...any) *Error {
	return &Error{Kind: KindInvalidRequest, Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

// notFound echoes the requested id only when it has the shape of a Coffer id
// (prefix_base32): a client that put a card number in a URL must not get it
// back in a response.
func notFound(param, what, id string) *Error {
	if !idShape.MatchString(id) || logging.Redact(id) != id {
		return &Error{Kind: KindNotFound, Code: "resource_missing", Param: param, Message: fmt.Sprintf("No such %s.", what)}
	}
	return &Error{Kind: KindNotFound, Code: "resource_missing", Param: param, Message: fmt.Sprintf("No such %s: '%s'", what, id)}
}

var idShape = regexp.MustCompile(`^[a-z]{2,5}_[a-z0-9]{10,64}$`)

func badState(format string, args ...any) *Error {
	return &Error{Kind: KindInvalidState, Code: "invalid_state", Message: fmt.Sprintf(format, args...)}
}

// fromCardField converts a card validation failure, prefixing the field path
// (e.g. "card.number") so clients can point at the input.
func fromCardField(prefix string, err error) error {
	var fe *card.FieldError
	if errors.As(err, &fe) {
		return &Error{Kind: KindInvalidRequest, Code: fe.Code, Param: prefix + fe.Field, Message: prefix + fe.Field + " " + fe.Message}
	}
	return err
}

func fromMoney(err error) error {
	var me *money.Error
	if errors.As(err, &me) {
		return &Error{Kind: KindInvalidRequest, Code: "parameter_invalid", Param: me.Field, Message: me.Message}
	}
	return err
}

// fromDecline turns a processor refusal into a card error; any other
// processor failure is upstream trouble, never the client's fault.
func fromDecline(err error) error {
	var d *processor.Decline
	var e *Error
	if errors.As(err, &e) {
		return e // the request's own fault (e.g. a processor account that cannot take it)
	}
	if errors.As(err, &d) {
		msg := d.Message
		if msg == "" {
			msg = "The card was declined."
		}
		return &Error{Kind: KindCard, Code: d.Code, DeclineCode: d.DeclineCode, Message: msg}
	}
	return &Error{Kind: KindUpstream, Code: "processing_error", Message: "The card processor could not be reached; try again."}
}
