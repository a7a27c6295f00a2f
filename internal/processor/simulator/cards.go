package simulator

import "github.com/coffer-vault/coffer/internal/processor"

// Test cards, one per row of API.md's table. Any other Luhn-valid number with a future expiry is
// approved.
const (
	CardSuccessVisa       = "4242424242424242"
	CardSuccessMastercard = "5555555555554444"
	CardSuccessAmex       = "378282246310005"
	CardGenericDecline    = "4000000000000002"
	CardInsufficientFunds = "4000000000009995"
	CardLostCard          = "4000000000009987"
	CardExpiredCard       = "4000000000000069"
	CardIncorrectCVC      = "4000000000000127"
	CardProcessingError   = "4000000000000119"
	// CardThreeDSSuccess asks for a 3-D Secure challenge; once the caller has done it, the
	// authorization succeeds.
	CardThreeDSSuccess = "4000002500003155"
	// CardThreeDSDecline asks for a 3-D Secure challenge; the authorization itself declines.
	CardThreeDSDecline = "4000008400001629"
	// CardThreeDSAttempted's issuer is not enrolled in 3-D Secure: when the merchant mandates
	// authentication the directory server answers "attempted" for it (the proof is that the
	// merchant tried, and liability still shifts), and otherwise nothing is required. The
	// authorization succeeds.
	CardThreeDSAttempted = "4000000000003055"
	// CardDeclineAfterVerify passes Verify, so it can be tokenized, but every Authorize declines.
	CardDeclineAfterVerify = "4000000000000341"
	CardAVSFail            = "4000000000000010"
)

// ThreeDSOTP is the one-time password the simulated ACS accepts. It is exported on purpose: this
// is the test acquirer, and test-mode challenge pages may show it.
const ThreeDSOTP = "123456"

// ThreeDSMode says how the simulated issuer takes part in 3-D Secure.
type ThreeDSMode string

const (
	// Frictionless: the issuer authenticates without asking the card holder anything.
	Frictionless ThreeDSMode = "frictionless"
	// Challenge: the issuer always wants the card holder challenged, mandated or not.
	Challenge ThreeDSMode = "challenge"
	// NotEnrolled: the issuer does not take part, so authentication can only be attempted.
	NotEnrolled ThreeDSMode = "not_enrolled"
)

// ThreeDS reports how the simulated issuer treats pan in 3-D Secure. It is a plain lookup, shared
// by Authenticate and by callers that want to know before they ask, so the two cannot disagree.
func ThreeDS(pan string) ThreeDSMode {
	switch pan {
	case CardThreeDSSuccess, CardThreeDSDecline:
		return Challenge
	case CardThreeDSAttempted:
		return NotEnrolled
	}
	return Frictionless
}

// behaviour is how the simulated issuer answers for one test card.
type behaviour struct {
	code, declineCode string // empty code: approve
	avsFail, cvcFail  bool
	// chargesOnly makes the decline apply to Authorize but not to Verify, so the card tokenizes.
	chargesOnly bool
}

var testCards = map[string]behaviour{
	CardGenericDecline:     {code: processor.CodeCardDeclined, declineCode: processor.DeclineGeneric},
	CardInsufficientFunds:  {code: processor.CodeCardDeclined, declineCode: processor.DeclineInsufficientFunds},
	CardLostCard:           {code: processor.CodeCardDeclined, declineCode: processor.DeclineLostCard},
	CardExpiredCard:        {code: processor.CodeExpiredCard, declineCode: processor.CodeExpiredCard},
	CardIncorrectCVC:       {code: processor.CodeIncorrectCVC, declineCode: processor.CodeIncorrectCVC, cvcFail: true},
	CardProcessingError:    {code: processor.CodeProcessingError, declineCode: processor.CodeProcessingError},
	CardThreeDSDecline:     {code: processor.CodeCardDeclined, declineCode: processor.DeclineGeneric},
	CardDeclineAfterVerify: {code: processor.CodeCardDeclined, declineCode: processor.DeclineGeneric, chargesOnly: true},
	CardAVSFail:            {avsFail: true},
}

// messages are shown to card holders. Lost and stolen cards get the generic text on purpose: the
// person holding such a card should not learn that it has been reported.
var messages = map[string]string{
	processor.DeclineGeneric:           "Your card was declined.",
	processor.DeclineInsufficientFunds: "Your card has insufficient funds.",
	processor.DeclineLostCard:          "Your card was declined.",
	processor.DeclineStolenCard:        "Your card was declined.",
	processor.DeclineDoNotHonor:        "Your card was declined.",
	processor.DeclineCardBlocked:       "Your card was declined.",
	processor.CodeExpiredCard:          "Your card has expired.",
	processor.CodeIncorrectCVC:         "Your card's security code is incorrect.",
	processor.CodeInvalidCVC:           "Your card's security code is invalid.",
	processor.CodeIncorrectNumber:      "Your card number is incorrect.",
	processor.CodeInvalidExpiry:        "Your card's expiration date is invalid.",
	processor.CodeProcessingError:      "An error occurred while processing your card. Try again in a little bit.",
	processor.CodeAuthenticationFailed: "The card holder could not be authenticated.",
}
