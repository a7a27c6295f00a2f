package store

import "time"

// ProcessorAccountTx is the repository of a merchant's accounts at real
// acquirers (connectors).
type ProcessorAccountTx interface {
	InsertProcessorAccount(a *ProcessorAccount) error
	// GetProcessorAccount finds a live or deleted account: a payment made
	// through an account that was deleted since is still captured, refunded
	// and reconciled through it.
	GetProcessorAccount(merchantID, id string) (*ProcessorAccount, error)
	// ListProcessorAccounts lists the merchant's live accounts, by priority
	// then age.
	ListProcessorAccounts(merchantID string) ([]*ProcessorAccount, error)
	DeleteProcessorAccount(merchantID, id string, at time.Time) error
}

// ProcessorAccount is a merchant's account at an acquirer: which connector
// speaks to it, with what credentials (sealed like card data, never shown
// again), and when to use it.
type ProcessorAccount struct {
	ID         string
	MerchantID string
	Type       string // "stripe", "authorize_net" or "simulator"
	Name       string
	Mode       string // "test" or "live"
	// Currencies the account takes (ISO codes); empty takes every currency.
	Currencies []string
	// Priority orders the accounts that can take a payment: lowest first.
	Priority int
	// BaseURL overrides the provider's address (a test server); "" for the
	// provider's own.
	BaseURL       string
	CredentialsCT []byte
	Created       time.Time
	Deleted       *time.Time
}
