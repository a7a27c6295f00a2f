package simulator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"

	// Aliased: the package's tests already use the name card.
	paycard "github.com/coffer-vault/coffer/internal/card"
	"github.com/coffer-vault/coffer/internal/processor"
)

// The simulator is its own directory server and every issuer's ACS. Authorize, Sale and Verify
// deliberately ignore the Authentication a request carries, whatever it holds: whether a payment
// needed authenticating, and whether it passed, is the caller's decision to enforce, and the test
// acquirer would only hide a caller's mistake by second-guessing it.
var _ processor.Authenticator = (*Simulator)(nil)

// threeDSVersion is the EMV 3-D Secure protocol version the simulated servers speak.
const threeDSVersion = "2.2.0"

// otpDigest is compared with the digest of an answer, never the answer itself, so that the
// comparison takes the same time whatever the answer's length (ConstantTimeCompare returns at
// once on a length mismatch, which would tell an attacker how long the OTP is).
var otpDigest = sha256.Sum256([]byte(ThreeDSOTP))

// Authenticate implements processor.Authenticator. It keeps no state: a challenge's transaction
// id is all AnswerChallenge needs, so any instance, before or after a restart, can judge the answer.
func (s *Simulator) Authenticate(ctx context.Context, r processor.AuthenticateRequest) (processor.Authentication, error) {
	if err := ctx.Err(); err != nil {
		return processor.Authentication{}, err
	}
	if r.Card.Number == "" {
		return processor.Authentication{}, fmt.Errorf("%w: card number is required", processor.ErrInvalidRequest)
	}
	if r.Amount < 0 {
		return processor.Authentication{}, fmt.Errorf("%w: amount must not be negative", processor.ErrInvalidRequest)
	}
	brand := paycard.DetectBrand(r.Card.Number)
	switch ThreeDS(r.Card.Number) {
	case Challenge:
		// The ECI is unknown until the card holder answers.
		return processor.Authentication{Status: processor.AuthChallengeRequired, TransactionID: newUUID(),
			Version: threeDSVersion}, nil
	case NotEnrolled:
		if !r.Mandated {
			return processor.Authentication{Status: processor.AuthNotRequired}, nil
		}
		return processor.Authentication{Status: processor.AuthAttempted, TransactionID: newUUID(),
			Version: threeDSVersion, ECI: eci(brand, processor.AuthAttempted)}, nil
	}
	if !r.Mandated {
		return processor.Authentication{Status: processor.AuthNotRequired}, nil
	}
	return processor.Authentication{Status: processor.AuthAuthenticated, TransactionID: newUUID(),
		Version: threeDSVersion, ECI: eci(brand, processor.AuthAuthenticated)}, nil
}

// AnswerChallenge implements processor.Authenticator. The simulated ACS does not remember the
// challenges it issued, so it cannot tell a stale or replayed transaction id from a live one;
// attempts, expiry and replay are the caller's, as the interface says.
func (s *Simulator) AnswerChallenge(ctx context.Context, a processor.ChallengeAnswer) (processor.Authentication, bool, error) {
	if err := ctx.Err(); err != nil {
		return processor.Authentication{}, false, err
	}
	if a.TransactionID == "" {
		return processor.Authentication{}, false, fmt.Errorf("%w: transaction id is required", processor.ErrInvalidRequest)
	}
	got := sha256.Sum256([]byte(a.Answer))
	brand := paycard.Brand(a.Brand)
	if subtle.ConstantTimeCompare(got[:], otpDigest[:]) == 1 {
		return processor.Authentication{Status: processor.AuthAuthenticated, TransactionID: a.TransactionID,
			Version: threeDSVersion, ECI: eci(brand, processor.AuthAuthenticated)}, true, nil
	}
	return processor.Authentication{Status: processor.AuthFailed, TransactionID: a.TransactionID,
		Version: threeDSVersion, ECI: eci(brand, processor.AuthFailed)}, false, nil
}

// eci is the electronic commerce indicator a scheme assigns to a 3-D Secure status. Mastercard
// (Maestro is its debit brand) numbers them differently from Visa, whose values the other schemes
// adopted.
func eci(b paycard.Brand, status string) string {
	mastercard := b == paycard.Mastercard || b == paycard.Maestro
	switch status {
	case processor.AuthAuthenticated:
		if mastercard {
			return "02"
		}
		return "05"
	case processor.AuthAttempted:
		if mastercard {
			return "01"
		}
		return "06"
	case processor.AuthFailed:
		if mastercard {
			return "00"
		}
		return "07"
	}
	return ""
}

// newUUID returns a random (version 4) UUID, the form EMV 3-D Secure gives transaction ids.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])         // never fails; see crypto/rand.Read
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}
