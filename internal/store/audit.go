package store

import "time"

// AuditTx stores the audit trail of access to card data in clear.
type AuditTx interface {
	InsertAudit(a *Audit) error
	ListAudit(merchantID, objectID string) ([]*Audit, error)
}

// Audit records access to card data in clear (detokenization).
type Audit struct {
	ID         string
	MerchantID string
	Action     string
	ObjectID   string
	Purpose    string
	RequestID  string
	Created    time.Time
}
