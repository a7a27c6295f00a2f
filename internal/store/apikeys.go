package store

import "time"

// APIKeyTx stores the keys a merchant has beside its current secret key,
// publishable key and HMAC secret (those stay on the Merchant, the fast
// path of every request): restricted keys, and the keys a roll retired,
// which keep working until they expire. It also records when each key was
// last used.
type APIKeyTx interface {
	InsertAPIKey(k *APIKey) error
	// GetAPIKeyByHash finds a key by its digest, whatever its state (expired
	// or revoked too): the caller judges.
	GetAPIKeyByHash(hash []byte) (*APIKey, error)
	GetAPIKey(merchantID, id string) (*APIKey, error)
	// ListAPIKeys pages through a merchant's keys of one kind, newest first,
	// revoked and expired ones too.
	ListAPIKeys(merchantID string, f APIKeyFilter) ([]*APIKey, bool, error)
	// ListRetiringKeys lists a merchant's retired keys (secret, publishable
	// and HMAC) still working at now, oldest first.
	ListRetiringKeys(merchantID string, now time.Time) ([]*APIKey, error)
	// RevokeAPIKey stops a live key (ErrNotFound when there is none).
	RevokeAPIKey(merchantID, id string, at time.Time) error
	// ExpireAPIKey brings a key's expiry forward to at (never later).
	ExpireAPIKey(merchantID, id string, at time.Time) error
	// SetMerchantKeys replaces a merchant's current keys with m's: the
	// secret key's digest and last four, the publishable key and the
	// sealed HMAC secret (a roll).
	SetMerchantKeys(m *Merchant) error
	// RecordKeyUses notes each key's last use; a use older than the one
	// recorded changes nothing.
	RecordKeyUses(uses []KeyUse) error
	// KeyLastUsed is the last recorded use of the merchant's key with this
	// digest; nil when none was recorded.
	KeyLastUsed(merchantID string, hash []byte) (*time.Time, error)
}

// Kinds of APIKey.
const (
	// KeyRestricted is an rk_ key: scoped, named, revocable.
	KeyRestricted = "restricted"
	// KeySecret, KeyPublishable and KeyHMAC are keys a roll retired.
	KeySecret      = "secret"
	KeyPublishable = "publishable"
	KeyHMAC        = "hmac"
)

// APIKey is a restricted key or a retired one.
type APIKey struct {
	ID         string
	MerchantID string
	Kind       string
	Name       string
	// KeyHash is the SHA-256 of the key; nil for an HMAC secret, which is
	// kept sealed in SecretCT instead (inbound checks need it in clear).
	KeyHash  []byte
	SecretCT []byte
	Last4    string
	Scopes   []string
	Created  time.Time
	// Expires is when a retired key stops working; nil for none.
	Expires *time.Time
	Revoked *time.Time
	// LastUsed is read, never written, with the key: RecordKeyUses keeps it.
	LastUsed *time.Time
}

// Live reports whether the key works at now.
func (k *APIKey) Live(now time.Time) bool {
	return k.Revoked == nil && (k.Expires == nil || now.Before(*k.Expires))
}

// APIKeyFilter selects a page of one kind of key.
type APIKeyFilter struct {
	Kind          string
	Limit         int
	StartingAfter string
}

// KeyUse is one key's latest use, by digest.
type KeyUse struct {
	Hash       []byte
	MerchantID string
	At         time.Time
}
