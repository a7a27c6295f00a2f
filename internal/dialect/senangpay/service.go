package senangpay

import (
	"context"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// Service is what the senangPay dialect needs of the payment core: only the
// calls it makes, so that the core can be split or faked without this
// package knowing. app passes the concrete *payment.Service.
type Service interface {
	CreatePayment(ctx context.Context, m *store.Merchant, params payment.PaymentParams) (payment.PaymentView, error)
	CreateSession(ctx context.Context, m *store.Merchant, p payment.SessionParams) (payment.SessionView, error)
	CreateToken(ctx context.Context, m *store.Merchant, p payment.TokenParams) (tok *store.Token, created bool, err error)
	DeleteToken(ctx context.Context, merchantID, tokenID string) error
	DisableToken(ctx context.Context, merchantID, tokenID string) (*store.Token, error)
	EnableToken(ctx context.Context, merchantID, tokenID string) (*store.Token, error)
	GetMerchant(ctx context.Context, merchantID string) (*store.Merchant, error)
	GetSession(ctx context.Context, merchantID, sessionID string) (payment.SessionView, error)
	GetToken(ctx context.Context, merchantID, tokenID string) (*store.Token, error)
	HMACSecret(ctx context.Context, m *store.Merchant) (string, error)
	HMACSecrets(ctx context.Context, m *store.Merchant) ([]string, error)
	ListPayments(ctx context.Context, merchantID string, f store.PaymentFilter) ([]payment.PaymentView, bool, error)
	PublicURL() string
	ValidateToken(ctx context.Context, m *store.Merchant, tokenID, cvc string) (*payment.Validation, error)
}
