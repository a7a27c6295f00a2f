package payment

// ChallengeView is what the 3-D Secure challenge page shows a card holder.
// It holds no card data beyond the masked number.
type ChallengeView struct {
	ID           string
	MerchantName string
	Amount       string // formatted for the currency, e.g. "MYR 1.00"
	// SavesCard says the challenge verifies a card to be saved: the amount
	// is a hold released at once, not a charge.
	SavesCard bool
	Brand     string
	Mask      string // 400000******3155
	// State is what the page is about:
	//   "pending"   ask for the OTP (Error may say the last one was wrong)
	//   "succeeded" the challenge passed and its authorization ended well
	//   "failed"    the challenge or the authorization after it failed
	//   "expired"   nobody answered in time
	//   "completed" the challenge had already ended (a replayed submission)
	State        string
	AttemptsLeft int
	Error        string // shown above the form: why the last answer was refused
	Message      string // shown on a final page: what happened, in the holder's words
	// ReturnURL is where the card holder goes next: on a final page with
	// the outcome in its query; on a pending one as the merchant gave it
	// (the answer's redirect goes there). "" when the merchant gave none,
	// and the final page says to close it.
	ReturnURL string
	// FormTargets are further URLs the answer's redirects may end at (a
	// checkout session's success/failure pages after its own return hop):
	// browsers apply the page's form-action to every redirect after a form
	// post, so their origins must be allowed.
	FormTargets []string
	// FrameAncestors are the origins that may frame the page: the
	// merchant's frame_ancestors, so a challenge reached from an embedded
	// checkout page opens in the same frame. Empty: no framing.
	FrameAncestors []string
	TestMode       bool // the simulator's ACS: the page may say which OTP works
	// HTTPStatus is the status the page is served with.
	HTTPStatus int
}

// ChallengeOutcome answers a submitted OTP: either a page to show, or — when
// the challenge has ended and the merchant gave a return URL — a redirect.
type ChallengeOutcome struct {
	View     ChallengeView
	Redirect string // non-empty: send the browser here (303)
}
