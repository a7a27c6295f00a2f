package processor

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Card is what an acquirer needs to authorize. It holds the PAN and CVC in clear, so every way Go
// has of turning a value into text (fmt, slog, encoding/json) is overridden to show only the
// first six and last four digits and never the CVC. A Card that ends up in a log line, an error
// or a JSON body by accident must therefore be harmless. The holder's name and address are
// personal data rather than card data, but nothing that reads a log needs them either, so they are
// reduced to whether they were present.
type Card struct {
	Number       string
	ExpMonth     int
	ExpYear      int    // 4 digits
	CVC          string // may be empty
	HolderName   string
	AddressLine1 string // optional, for AVS
	PostalCode   string // optional, for AVS
	Country      string // optional, for AVS
}

// mask keeps what PCI DSS allows to be displayed. Only digits count, so a number that arrives with
// spaces or dashes is masked the same way; a number too short to be a PAN shows nothing, because
// six plus four of it could be most of it.
func mask(number string) string {
	digits := make([]byte, 0, len(number))
	for i := 0; i < len(number); i++ {
		if c := number[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	n := len(digits)
	if n < 13 {
		return strings.Repeat("*", n)
	}
	return string(digits[:6]) + strings.Repeat("*", n-10) + string(digits[n-4:])
}

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// String is the form fmt uses for %v, %+v and %s.
func (c Card) String() string {
	return fmt.Sprintf("Card(%s, %02d/%04d)", mask(c.Number), c.ExpMonth, c.ExpYear)
}

// GoString is the form fmt uses for %#v.
func (c Card) GoString() string {
	return fmt.Sprintf("processor.Card{Number:%q, ExpMonth:%d, ExpYear:%d, CVC:%q, HolderName:%q, AddressLine1:%q, PostalCode:%q, Country:%q}",
		mask(c.Number), c.ExpMonth, c.ExpYear, redacted(c.CVC), redacted(c.HolderName),
		redacted(c.AddressLine1), redacted(c.PostalCode), c.Country)
}

// Format exists because fmt only consults String for a few verbs: without it, %d or %x of a Card
// (or of a struct holding one) would print the raw fields.
func (c Card) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, c.GoString())
	case verb == 'q':
		io.WriteString(f, strconv.Quote(c.String()))
	default:
		io.WriteString(f, c.String())
	}
}

// LogValue makes slog log the masked form whichever handler is used.
func (c Card) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("mask", mask(c.Number)),
		slog.Int("exp_month", c.ExpMonth),
		slog.Int("exp_year", c.ExpYear),
		slog.Bool("has_cvc", c.CVC != ""),
	}
	if c.Country != "" {
		attrs = append(attrs, slog.String("country", c.Country))
	}
	return slog.GroupValue(attrs...)
}

// maskedCard is the JSON form. Its key is "mask", not "number", so that nobody mistakes the output
// for something that round-trips: json.Marshal of a Card is for logs and debugging, never storage.
type maskedCard struct {
	Mask     string `json:"mask"`
	ExpMonth int    `json:"exp_month"`
	ExpYear  int    `json:"exp_year"`
	HasCVC   bool   `json:"has_cvc"`
	Country  string `json:"country,omitempty"`
}

// MarshalJSON writes the masked form, so a Card inside any logged or serialized struct stays safe.
func (c Card) MarshalJSON() ([]byte, error) {
	return json.Marshal(maskedCard{
		Mask:     mask(c.Number),
		ExpMonth: c.ExpMonth,
		ExpYear:  c.ExpYear,
		HasCVC:   c.CVC != "",
		Country:  c.Country,
	})
}
