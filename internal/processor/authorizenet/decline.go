package authorizenet

import (
	"fmt"

	"github.com/coffer-vault/coffer/internal/processor"
)

// Authorize.net's responseCode values.
const (
	rcApproved = "1"
	rcDeclined = "2"
	rcError    = "3"
	rcHeld     = "4"
)

// reasonDecline maps a response reason code about the card (whatever its
// responseCode: an invalid number comes back as an error, 3) to Coffer's
// card error. Reason codes that are not here and arrive with responseCode 2
// are a generic decline.
var reasonDecline = map[string]struct{ code, declineCode, msg string }{
	"2":   {processor.CodeCardDeclined, processor.DeclineGeneric, "The card was declined."},
	"3":   {processor.CodeCardDeclined, processor.DeclineDoNotHonor, "The card was declined (referral)."},
	"4":   {processor.CodeCardDeclined, processor.DeclineLostCard, "The card was declined."},
	"6":   {processor.CodeIncorrectNumber, processor.CodeIncorrectNumber, "The card number is incorrect."},
	"37":  {processor.CodeIncorrectNumber, processor.CodeIncorrectNumber, "The card number is incorrect."},
	"200": {processor.CodeIncorrectNumber, processor.CodeIncorrectNumber, "The card number is incorrect."},
	"315": {processor.CodeIncorrectNumber, processor.CodeIncorrectNumber, "The card number is incorrect."},
	"7":   {processor.CodeInvalidExpiry, processor.CodeInvalidExpiry, "The card's expiration date is invalid."},
	"201": {processor.CodeInvalidExpiry, processor.CodeInvalidExpiry, "The card's expiration date is invalid."},
	"316": {processor.CodeInvalidExpiry, processor.CodeInvalidExpiry, "The card's expiration date is invalid."},
	"8":   {processor.CodeExpiredCard, processor.CodeExpiredCard, "The card has expired."},
	"317": {processor.CodeExpiredCard, processor.CodeExpiredCard, "The card has expired."},
	"78":  {processor.CodeInvalidCVC, processor.CodeInvalidCVC, "The card's security code is invalid."},
	"17":  {processor.CodeCardDeclined, processor.DeclineGeneric, "This card type is not accepted."},
	"28":  {processor.CodeCardDeclined, processor.DeclineGeneric, "This card type is not accepted."},
	"27":  {processor.CodeCardDeclined, processor.DeclineGeneric, "The address does not match the card's billing address."},
	"44":  {processor.CodeIncorrectCVC, processor.CodeIncorrectCVC, "The card's security code is incorrect."},
	"45":  {processor.CodeIncorrectCVC, processor.CodeIncorrectCVC, "The card's security code and address do not match."},
	"65":  {processor.CodeIncorrectCVC, processor.CodeIncorrectCVC, "The card's security code is incorrect."},
	"41":  {processor.CodeCardDeclined, processor.DeclineGeneric, "The card was declined."},
	"250": {processor.CodeCardDeclined, processor.DeclineGeneric, "The card was declined."},
	"251": {processor.CodeCardDeclined, processor.DeclineGeneric, "The card was declined."},
	"254": {processor.CodeCardDeclined, processor.DeclineGeneric, "The card was declined."},
}

// retryLater are responseCode 3 reasons meaning the gateway or the processor
// behind it failed ("An error occurred during processing. Please try again"):
// nothing was authorized, so they are ErrUnavailable, not a decline.
var retryLater = map[string]bool{"19": true, "20": true, "21": true, "22": true, "23": true,
	"25": true, "26": true, "35": true, "57": true, "58": true, "59": true, "60": true,
	"61": true, "62": true, "63": true, "120": true, "121": true, "122": true, "181": true}

func avsResult(code string, sent bool) string {
	if !sent {
		return processor.CheckUnavailable
	}
	switch code {
	case "Y", "X":
		return processor.CheckPass
	case "A", "Z", "W", "N":
		return processor.CheckFail
	}
	return processor.CheckUnavailable // B E G P R S U, or nothing
}

func cvcResult(code string, sent bool) string {
	if !sent {
		return processor.CheckUnchecked
	}
	switch code {
	case "M":
		return processor.CheckPass
	case "N":
		return processor.CheckFail
	}
	return processor.CheckUnchecked // P S U, or nothing
}

// declineFor builds the Decline for a refused transaction; held says it was
// held for review (responseCode 4).
func declineFor(reason string, held bool, avs, cvc string) *processor.Decline {
	d := &processor.Decline{Code: processor.CodeCardDeclined, DeclineCode: processor.DeclineGeneric,
		Message: "The card was declined.", AVSResult: avs, CVCResult: cvc}
	if held {
		d.Message = "The payment was held for review by the merchant's fraud filters and has been declined."
		return d
	}
	if m, ok := reasonDecline[reason]; ok {
		d.Code, d.DeclineCode, d.Message = m.code, m.declineCode, m.msg
	}
	switch reason {
	case "27":
		d.AVSResult = processor.CheckFail
	case "44", "65":
		d.CVCResult = processor.CheckFail
	case "45":
		d.AVSResult, d.CVCResult = processor.CheckFail, processor.CheckFail
	}
	return d
}

// isCardError reports whether a responseCode 3 reason is about the card
// (and so a Decline rather than a malformed request).
func isCardError(reason string) bool {
	_, ok := reasonDecline[reason]
	return ok
}

func firstError(tr *transactionResponse) (code, text string) {
	if len(tr.Errors) > 0 {
		return string(tr.Errors[0].ErrorCode), tr.Errors[0].ErrorText
	}
	if len(tr.Messages) > 0 {
		return string(tr.Messages[0].Code), tr.Messages[0].Description
	}
	return "", ""
}

// txError is a responseCode 3 answer that is not about the card.
type txError struct {
	Reason, Text string
}

func (e *txError) Error() string {
	return fmt.Sprintf("authorize.net reason %s: %s", e.Reason, e.Text)
}
