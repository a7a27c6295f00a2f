package app

import (
	"errors"
	"net/http"
	"strings"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/authorizenet"
	"github.com/coffer-vault/coffer/internal/processor/stripe"
)

// connectors are the acquirers a processor account may be at, besides the
// built-in simulator.
func connectors() map[string]payment.Connector {
	return map[string]payment.Connector{
		payment.AccountStripe: {
			Credentials: []string{"secret_key"},
			Check: func(c map[string]string) error {
				k := c["secret_key"]
				if !strings.HasPrefix(k, "sk_") && !strings.HasPrefix(k, "rk_") {
					return errors.New("credentials.secret_key must be a Stripe secret (sk_…) or restricted (rk_…) key")
				}
				return nil
			},
			New: func(baseURL string, c map[string]string, client *http.Client) (processor.Processor, error) {
				return stripe.New(stripe.Config{SecretKey: c["secret_key"], BaseURL: baseURL, HTTPClient: client}), nil
			},
		},
		payment.AccountAuthorizeNet: {
			Credentials: []string{"api_login_id", "transaction_key"},
			New: func(baseURL string, c map[string]string, client *http.Client) (processor.Processor, error) {
				return authorizenet.New(authorizenet.Config{APILoginID: c["api_login_id"], TransactionKey: c["transaction_key"],
					BaseURL: baseURL, HTTPClient: client}), nil
			},
		},
	}
}

// registerConnectors makes svc able to route to every connector Coffer ships.
func registerConnectors(svc *payment.Service) {
	for typ, c := range connectors() {
		svc.RegisterConnector(typ, c)
	}
}
