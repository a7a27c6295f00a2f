package pivot

import (
	"context"

	"github.com/coffer-vault/coffer/internal/idempotency"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// Service is what the Pivot dialect needs of the payment core: only the
// calls it makes, so that the core can be split or faked without this
// package knowing. app passes the concrete *payment.Service.
type Service interface {
	// Sealer keeps the idempotent replies (a client's key, the stored
	// response, sealed).
	idempotency.Sealer

	Authenticate(ctx context.Context, secretKey string) (*store.Merchant, error)
	CallbackSecretString(ctx context.Context, merchantID string) (string, error)
	CancelSession(ctx context.Context, merchantID, sessionID string) (payment.SessionView, error)
	ConfirmSession(ctx context.Context, m *store.Merchant, sessionID string, p payment.ConfirmParams) (payment.SessionView, error)
	CreateSession(ctx context.Context, m *store.Merchant, p payment.SessionParams) (payment.SessionView, error)
	FindCustomer(ctx context.Context, merchantID, reference string) (*store.Customer, error)
	GetCustomer(ctx context.Context, merchantID, customerID string) (*store.Customer, []*store.Token, error)
	GetMerchant(ctx context.Context, merchantID string) (*store.Merchant, error)
	GetPayment(ctx context.Context, merchantID, paymentID string) (payment.PaymentView, error)
	GetSession(ctx context.Context, merchantID, sessionID string) (payment.SessionView, error)
	GetToken(ctx context.Context, merchantID, tokenID string) (*store.Token, error)
	SessionURL(sessionID string) string
}
