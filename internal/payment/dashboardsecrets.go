package payment

import "context"

// sealKindTOTP binds a sealed TOTP secret to its dashboard user: a secret
// copied onto another user's row does not open.
const sealKindTOTP = "dashboard.totp_secret"

// SealDashboardTOTP seals a dashboard user's TOTP secret under the
// merchant's data key, as processor credentials and webhook secrets are
// sealed: a stolen database holds no usable secret.
func (s *Sealer) SealDashboardTOTP(ctx context.Context, merchantID, userID string, secret []byte) ([]byte, error) {
	return s.seal(ctx, merchantID, sealKindTOTP, userID, secret)
}

// OpenDashboardTOTP opens what SealDashboardTOTP sealed for the same
// merchant and user.
func (s *Sealer) OpenDashboardTOTP(ctx context.Context, merchantID, userID string, ct []byte) ([]byte, error) {
	return s.open(ctx, merchantID, sealKindTOTP, userID, ct)
}
