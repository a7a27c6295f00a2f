package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/keys"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/postgres"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
	"github.com/coffer-vault/coffer/internal/vault"
)

// checkStoreKeys compares the key ring with what the store remembers of its
// keys, reading only: a wrong key is refused before anything is written.
func checkStoreKeys(ctx context.Context, c *Config, kp *keys.Provider) error {
	var checks map[uint32][]byte
	var sample []vault.DataKey
	var err error
	if c.DatabaseURL != "" {
		checks, sample, err = postgres.PeekKeys(ctx, c.DatabaseURL)
	} else {
		checks, sample, _, err = sqlite.PeekKeys(ctx, c.DataDir)
	}
	if err != nil {
		return err
	}
	if err := vault.VerifyRing(kp.Ring(), checks, sample); err != nil {
		return keyError(kp, err)
	}
	return nil
}

// keyError is the one line an operator sees for a key that does not fit.
func keyError(kp *keys.Provider, err error) error {
	var km *vault.KeyMismatchError
	if !errors.As(err, &km) {
		return err
	}
	return fmt.Errorf("the master key (%s) is wrong for this store: %s; start with the key it was set up with", kp, km.Reason)
}

// verifyKeys checks a ring against the store's key-check values and one data
// key of each KEK version in use.
func verifyKeys(ctx context.Context, st store.Store, r *keys.Ring) error {
	var checks map[uint32][]byte
	var sample []vault.DataKey
	err := st.Read(ctx, func(tx store.Tx) error {
		var err error
		if checks, err = tx.KEKChecks(); err != nil {
			return err
		}
		sample, err = tx.KEKSample()
		return err
	})
	if err != nil {
		return err
	}
	return vault.VerifyRing(r, checks, sample)
}

// bindKeys records a key-check value for each KEK version the store has
// none for (a new store, or a version added by a rotation), then verifies
// the ring against everything recorded: if another process bound the store
// to another key meanwhile, its values won and this ring is refused.
func bindKeys(ctx context.Context, st store.Store, kp *keys.Provider) error {
	r := kp.Ring()
	err := st.Write(ctx, func(tx store.Tx) error {
		have, err := tx.KEKChecks()
		if err != nil {
			return err
		}
		for _, ver := range r.Versions() {
			if _, ok := have[ver]; ok {
				continue
			}
			k, _ := r.Key(ver)
			if err := tx.InsertKEKCheck(ver, vault.KEKCheckValue(k), time.Now().UTC()); err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return verifyKeys(ctx, st, r)
}

// readiness is the store as /readyz sees it: reachable, and holding data the
// vault's current keys open (its key-check values match).
type readiness struct {
	store.Store
	keys *keys.Provider
}

func (r readiness) Ping(ctx context.Context) error {
	if err := r.Store.Ping(ctx); err != nil {
		return err
	}
	var checks map[uint32][]byte
	if err := r.Store.Read(ctx, func(tx store.Tx) error {
		var err error
		checks, err = tx.KEKChecks()
		return err
	}); err != nil {
		return err
	}
	if len(checks) == 0 {
		return errors.New("the store has no key-check value: the vault's keys were never bound to it")
	}
	return keyError(r.keys, vault.VerifyRing(r.keys.Ring(), checks, nil))
}
