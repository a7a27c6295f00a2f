package processor

import "context"

// 3-D Secure authentication results (the card holder's authentication, as
// the directory server and the issuer's ACS report it).
const (
	// AuthAuthenticated: the issuer authenticated the card holder, with or
	// without a challenge. Liability for fraud shifts to the issuer.
	AuthAuthenticated = "authenticated"
	// AuthAttempted: the issuer does not take part in 3-D Secure; the attempt
	// itself is the proof (ECI 06/01).
	AuthAttempted = "attempted"
	// AuthNotRequired: nobody asked for authentication and the issuer did not
	// want it; the authorization goes without.
	AuthNotRequired = "not_required"
	// AuthFailed: the card holder failed the challenge.
	AuthFailed = "failed"
	// AuthChallengeRequired: the issuer wants the card holder challenged
	// before it will authenticate; the result comes from AnswerChallenge.
	AuthChallengeRequired = "challenge_required"
)

// AuthenticateRequest starts 3-D Secure for one authorization.
type AuthenticateRequest struct {
	MerchantID string
	Reference  string // the token or payment the authentication is for
	Card       Card
	Amount     int64
	Currency   string
	// Mandated says the merchant wants the card holder authenticated
	// (three_d_secure: required). Without it an issuer that sees no need
	// answers AuthNotRequired; a card whose issuer always challenges is
	// challenged either way.
	Mandated bool
}

// Authentication is a 3-D Secure result.
type Authentication struct {
	Status        string // one of the Auth… constants
	TransactionID string // the directory server's transaction id (a UUID)
	Version       string // the protocol version, e.g. "2.2.0"; "" when not_required
	ECI           string // electronic commerce indicator; "" when not_required or challenge_required
}

// ChallengeAnswer is what the card holder typed on the ACS's challenge page.
type ChallengeAnswer struct {
	TransactionID string // from Authenticate's challenge_required result
	Brand         string // the card's brand: ECI values differ by scheme
	Answer        string
}

// Authenticator is a 3-D Secure server with its issuers' access control
// servers. Attempts, expiry and replay of a challenge are the caller's to
// enforce (it keeps the challenge's state durably); the ACS only judges an
// answer. Implementations must be safe for concurrent use.
type Authenticator interface {
	// Authenticate runs 3-D Secure for a card: frictionless results come
	// back at once; AuthChallengeRequired means the card holder must answer
	// a challenge first.
	Authenticate(ctx context.Context, r AuthenticateRequest) (Authentication, error)
	// AnswerChallenge checks the card holder's answer in constant time. ok
	// is false for a wrong answer; the returned Authentication is then the
	// failed result to record if the caller has no tries left.
	AnswerChallenge(ctx context.Context, a ChallengeAnswer) (auth Authentication, ok bool, err error)
}
