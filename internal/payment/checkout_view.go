package payment

import "time"

// CheckoutView is what the hosted checkout page shows for a session. It
// holds no card data beyond saved cards' masked numbers.
type CheckoutView struct {
	SessionID    string
	MerchantName string
	// Amount is formatted for the currency ("MYR 30.00"); "" when the
	// session only saves a card (SaveOnly).
	Amount   string
	SaveOnly bool
	OrderID  string
	// State is the session's status: the page shows the card form only
	// while "open"; for any other state Redirect (if set) is where the
	// browser goes (success_url, failure_url, expired_url or cancel_url with
	// the session id in the query), else a final page says what happened.
	State    string
	Redirect string
	Message  string // the final page's text, or why the last attempt failed (open)
	// SaveCard is the merchant's choice: "off", "optional" (the holder may
	// tick the box) or "always" (the page says the card will be saved).
	SaveCard   string
	SavedCards []SavedCard
	// SavedCardNeedsCVC: paying with a saved card asks for its CVC (the
	// merchant's require_cvc_for_saved_cards); otherwise one click.
	SavedCardNeedsCVC bool
	// KeyJWK is the session's RSA-OAEP-256 public key as a JWK (JSON), and
	// KeyID its kid: the page's script encrypts the card to it, with the
	// session id as the OAEP label, so no card number is ever a form field.
	KeyJWK     string
	KeyID      string
	Cancelable bool   // the merchant gave a cancel_url
	PageURL    string // this page's absolute URL (for the QR code)
	// FrameAncestors are the origins allowed to frame the page (the
	// merchant's frame_ancestors setting); empty: no framing.
	FrameAncestors []string
	TestMode       bool
	ExpiresAt      time.Time
}

// SavedCard is a customer's active saved card as the page lists it.
type SavedCard struct {
	Token    string
	Brand    string
	Mask     string
	Last4    string
	ExpMonth int
	ExpYear  int
}

// PageConfirm is what the checkout page's script posts: a card encrypted to
// the session's key, or a saved card's token with its CVC if asked for.
type PageConfirm struct {
	EncryptedCard string `json:"encrypted_card"`
	Token         string `json:"token"`
	CVC           string `json:"cvc"`
	SaveCard      bool   `json:"save_card"`
}

// PageResult answers the page's confirmation: where the browser goes next
// (success_url, the 3-D Secure challenge, failure_url …), or why the
// attempt failed while the session stays open for another card.
type PageResult struct {
	Redirect string     `json:"redirect,omitempty"`
	Error    *PageError `json:"error,omitempty"`
}

// PageError is a failed attempt as the card holder sees it.
type PageError struct {
	Message string `json:"message"`
	// Field is the form field at fault: number | expiry | cvc |
	// holder_name | card (the card as a whole, e.g. declined) | "".
	Field string `json:"field,omitempty"`
}
