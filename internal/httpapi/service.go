package httpapi

import (
	"context"

	"github.com/coffer-vault/coffer/internal/idempotency"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/relay"
	"github.com/coffer-vault/coffer/internal/store"
)

// Service is what the native API needs of the payment core: only the calls
// it makes, so that the core can be split or faked without this package
// knowing. app passes the concrete *payment.Service.
type Service interface {
	// Sealer keeps the idempotent replies (a client's key, the stored
	// response, sealed).
	idempotency.Sealer

	AuditTrail(ctx context.Context, merchantID, objectID string) ([]*store.Audit, error)
	Authenticate(ctx context.Context, secretKey string) (*store.Merchant, error)
	AuthenticateKey(ctx context.Context, key string) (*store.Merchant, payment.Grant, error)
	CallbackSecretString(ctx context.Context, merchantID string) (string, error)
	CancelPayment(ctx context.Context, merchantID, paymentID string) (payment.PaymentView, error)
	CancelSession(ctx context.Context, merchantID, sessionID string) (payment.SessionView, error)
	CapturePayment(ctx context.Context, merchantID, paymentID string, amount *int64) (payment.PaymentView, error)
	ConfirmSession(ctx context.Context, m *store.Merchant, sessionID string, p payment.ConfirmParams) (payment.SessionView, error)
	CreateAPIKey(ctx context.Context, merchantID string, p payment.APIKeyParams) (payment.KeyView, error)
	CreateCustomer(ctx context.Context, merchantID string, p payment.CustomerParams) (*store.Customer, error)
	CreateDeviceKey(ctx context.Context, merchantID, name string) (payment.DeviceKeyView, error)
	CreateProcessorAccount(ctx context.Context, m *store.Merchant, p payment.ProcessorAccountParams) (payment.ProcessorAccountView, error)
	DeleteProcessorAccount(ctx context.Context, merchantID, accountID string) error
	GetProcessorAccount(ctx context.Context, merchantID, accountID string) (payment.ProcessorAccountView, error)
	ListProcessorAccounts(ctx context.Context, merchantID string) ([]payment.ProcessorAccountView, error)
	CreatePayment(ctx context.Context, m *store.Merchant, params payment.PaymentParams) (payment.PaymentView, error)
	CreateSession(ctx context.Context, m *store.Merchant, p payment.SessionParams) (payment.SessionView, error)
	CreateTokenRendered(ctx context.Context, m *store.Merchant, p payment.TokenParams) (tok *store.Token, created bool, view []byte, err error)
	CreateTokens(ctx context.Context, m *store.Merchant, items []payment.TokenParams) []payment.BatchResult
	CreateWebhookEndpoint(ctx context.Context, m *store.Merchant, p payment.WebhookEndpointParams) (payment.WebhookEndpointView, error)
	DeleteCustomer(ctx context.Context, merchantID, customerID string) error
	DeleteToken(ctx context.Context, merchantID, tokenID string) error
	DisableToken(ctx context.Context, merchantID, tokenID string) (*store.Token, error)
	EnableToken(ctx context.Context, merchantID, tokenID string) (*store.Token, error)
	DeleteWebhookEndpoint(ctx context.Context, merchantID, endpointID string) error
	FindCustomer(ctx context.Context, merchantID, reference string) (*store.Customer, error)
	GetCustomer(ctx context.Context, merchantID, customerID string) (*store.Customer, []*store.Token, error)
	GetEvent(ctx context.Context, merchantID, eventID string) (payment.EventView, error)
	GetPayment(ctx context.Context, merchantID, paymentID string) (payment.PaymentView, error)
	GetSession(ctx context.Context, merchantID, sessionID string) (payment.SessionView, error)
	GetToken(ctx context.Context, merchantID, tokenID string) (*store.Token, error)
	GetWebhookEndpoint(ctx context.Context, merchantID, endpointID string) (payment.WebhookEndpointView, error)
	ListAPIKeys(ctx context.Context, merchantID string, limit int, after string) ([]payment.KeyView, bool, error)
	ListDeviceKeys(ctx context.Context, merchantID string) ([]payment.DeviceKeyView, error)
	ListEvents(ctx context.Context, merchantID string, f store.EventFilter) ([]payment.EventView, bool, error)
	ListPayments(ctx context.Context, merchantID string, f store.PaymentFilter) ([]payment.PaymentView, bool, error)
	ListRefunds(ctx context.Context, merchantID, paymentID string) ([]payment.RefundView, error)
	ListTokens(ctx context.Context, merchantID string, f store.TokenFilter) ([]*store.Token, bool, error)
	ListWebhookEndpoints(ctx context.Context, merchantID string) ([]payment.WebhookEndpointView, error)
	MerchantKeys(ctx context.Context, m *store.Merchant) ([]payment.KeyView, error)
	RedeliverEvent(ctx context.Context, merchantID, eventID string) (payment.EventView, error)
	RefundPayment(ctx context.Context, merchantID, paymentID string, amount *int64, reason string) (payment.RefundView, error)
	Relay(ctx context.Context, m *store.Merchant, req relay.Request) (*relay.Response, error)
	RevokeAPIKey(ctx context.Context, merchantID, keyID string) (payment.KeyView, error)
	RevokeDeviceKey(ctx context.Context, merchantID, keyID string) (payment.DeviceKeyView, error)
	RollKey(ctx context.Context, merchantID string, p payment.RollParams) (payment.RolledKey, error)
	RotateWebhookSecret(ctx context.Context, merchantID, endpointID string) (payment.WebhookEndpointView, error)
	SessionClientAuth(ctx context.Context, publishableKey, sessionID, clientSecret string) (*store.Merchant, error)
	SessionEvents(ctx context.Context, merchantID, sessionID string, afterSeq int64) ([]*store.Event, error)
	SessionSecretAuth(ctx context.Context, sessionID, clientSecret string) (*store.Merchant, error)
	UpdateSettings(ctx context.Context, merchantID string, p payment.SettingsPatch) (*store.Merchant, error)
	ValidateToken(ctx context.Context, m *store.Merchant, tokenID, cvc string) (*payment.Validation, error)
	ViewToken(t *store.Token) payment.TokenView
}
