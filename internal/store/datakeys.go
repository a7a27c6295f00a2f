package store

import (
	"time"

	"github.com/coffer-vault/coffer/internal/vault"
)

// DataKeyTx stores the vault's wrapped data keys and the key-check values
// that prove which key-encryption keys a database was written with.
type DataKeyTx interface {
	InsertDataKey(dk vault.DataKey) error
	GetDataKey(id string) (vault.DataKey, error)
	// ActiveDataKey returns the newest data key of a merchant for a purpose.
	ActiveDataKey(merchantID, purpose string) (vault.DataKey, error)
	// ListDataKeys pages through all data keys in id order, after afterID.
	ListDataKeys(afterID string, limit int) ([]vault.DataKey, error)
	UpdateDataKeyWrap(id string, kekVersion uint32, wrapped []byte) error

	// KEKChecks returns the key-check value recorded for each KEK version.
	KEKChecks() (map[uint32][]byte, error)
	// InsertKEKCheck records a version's key-check value; ErrConflict when
	// the version has one (it is never replaced).
	InsertKEKCheck(version uint32, value []byte, at time.Time) error
	// KEKSample returns one data key of each KEK version data keys are
	// wrapped under, to prove a key ring can unwrap them.
	KEKSample() ([]vault.DataKey, error)
}
