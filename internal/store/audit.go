package store

import "time"

// AuditTx stores the audit trail: access to card data in clear, and what
// dashboard users did.
type AuditTx interface {
	InsertAudit(a *Audit) error
	ListAudit(merchantID, objectID string) ([]*Audit, error)
}

// Audit records access to card data in clear (detokenization) or a
// dashboard user's action (sign-in, refund, redelivery…).
type Audit struct {
	ID         string
	MerchantID string
	Action     string
	ObjectID   string
	Purpose    string
	RequestID  string
	// Actor is the dashboard user who acted; "" for the API.
	Actor   string
	Created time.Time
}
