package sensepass

import (
	"context"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// Service is what the SensePass dialect needs of the payment core: only the
// calls it makes, so that the core can be split or faked without this
// package knowing. app passes the concrete *payment.Service.
type Service interface {
	Authenticate(ctx context.Context, secretKey string) (*store.Merchant, error)
	AuthenticateDevice(ctx context.Context, key string) (*store.Merchant, error)
	CancelPayment(ctx context.Context, merchantID, paymentID string) (payment.PaymentView, error)
	CancelSession(ctx context.Context, merchantID, sessionID string) (payment.SessionView, error)
	CreatePayment(ctx context.Context, m *store.Merchant, params payment.PaymentParams) (payment.PaymentView, error)
	CreateSession(ctx context.Context, m *store.Merchant, p payment.SessionParams) (payment.SessionView, error)
	CreateTokens(ctx context.Context, m *store.Merchant, items []payment.TokenParams) []payment.BatchResult
	GetMerchant(ctx context.Context, merchantID string) (*store.Merchant, error)
	GetPayment(ctx context.Context, merchantID, paymentID string) (payment.PaymentView, error)
	GetSession(ctx context.Context, merchantID, sessionID string) (payment.SessionView, error)
	GetToken(ctx context.Context, merchantID, tokenID string) (*store.Token, error)
	HMACSecret(ctx context.Context, m *store.Merchant) (string, error)
	SessionEvents(ctx context.Context, merchantID, sessionID string, afterSeq int64) ([]*store.Event, error)
	SessionURL(sessionID string) string
	ValidateToken(ctx context.Context, m *store.Merchant, tokenID, cvc string) (*payment.Validation, error)
}
