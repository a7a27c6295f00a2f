package stripe

import "github.com/coffer-vault/coffer/internal/processor"

// mapped is a Coffer decline: Code and, for card_declined, DeclineCode.
type mapped struct{ code, decline string }

// declines maps Stripe's decline_code and error code values to Coffer's
// (API.md's card error codes). decline_code is looked up first, as it is the
// issuer's reason; a value found in neither is a generic decline.
var declines = map[string]mapped{
	"card_declined":      {processor.CodeCardDeclined, processor.DeclineGeneric},
	"generic_decline":    {processor.CodeCardDeclined, processor.DeclineGeneric},
	"insufficient_funds": {processor.CodeCardDeclined, processor.DeclineInsufficientFunds},
	"lost_card":          {processor.CodeCardDeclined, processor.DeclineLostCard},
	"stolen_card":        {processor.CodeCardDeclined, processor.DeclineStolenCard},
	"do_not_honor":       {processor.CodeCardDeclined, processor.DeclineDoNotHonor},
	"pickup_card":        {processor.CodeCardDeclined, processor.DeclineCardBlocked},
	"restricted_card":    {processor.CodeCardDeclined, processor.DeclineCardBlocked},

	"expired_card":            {processor.CodeExpiredCard, processor.CodeExpiredCard},
	"incorrect_cvc":           {processor.CodeIncorrectCVC, processor.CodeIncorrectCVC},
	"invalid_cvc":             {processor.CodeInvalidCVC, processor.CodeInvalidCVC},
	"incorrect_number":        {processor.CodeIncorrectNumber, processor.CodeIncorrectNumber},
	"invalid_number":          {processor.CodeIncorrectNumber, processor.CodeIncorrectNumber},
	"invalid_expiry_month":    {processor.CodeInvalidExpiry, processor.CodeInvalidExpiry},
	"invalid_expiry_year":     {processor.CodeInvalidExpiry, processor.CodeInvalidExpiry},
	"processing_error":        {processor.CodeProcessingError, processor.CodeProcessingError},
	"authentication_required": {processor.CodeAuthenticationFailed, processor.CodeAuthenticationFailed},
}

// defaultDeclineMessage is shown when Stripe's error is not a card error
// (its message would then be about the API, not the card).
const defaultDeclineMessage = "Your card was declined."

// decline turns Stripe's error (a 402 card_error, a last_payment_error or
// a last_setup_error; nil when Stripe gave none) into a *processor.Decline.
func (c *Client) decline(e *apiError) *processor.Decline {
	d := &processor.Decline{
		Code:        processor.CodeCardDeclined,
		DeclineCode: processor.DeclineGeneric,
		Message:     defaultDeclineMessage,
	}
	if e == nil {
		return d
	}
	for _, k := range []string{e.DeclineCode, e.Code} {
		if m, ok := declines[k]; ok && k != "" {
			d.Code, d.DeclineCode = m.code, m.decline
			break
		}
	}
	if e.Type == "card_error" && e.Message != "" {
		d.Message = c.clean(e.Message)
	}
	if d.Code == processor.CodeIncorrectCVC {
		d.CVCResult = processor.CheckFail
	}
	return d
}

// authenticationDecline is the answer when Stripe wants the card holder to
// authenticate but no page can be shown to them.
func authenticationDecline() *processor.Decline {
	return &processor.Decline{
		Code:        processor.CodeAuthenticationFailed,
		DeclineCode: processor.CodeAuthenticationFailed,
		Message:     "Your card requires authentication, which could not be performed.",
	}
}
