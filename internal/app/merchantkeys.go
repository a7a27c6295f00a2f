package app

import (
	"context"
	"time"

	"github.com/coffer-vault/coffer/internal/payment"
)

// ListMerchants lists every merchant with its keys shown only as prefix and
// last four; safe while a server runs on the same store.
func ListMerchants(ctx context.Context, c Config) ([]payment.MerchantSummary, error) {
	d, err := open(ctx, &c, c.Logger(), false)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.svc.ListMerchants(ctx)
}

// RollMerchantKey gives a merchant a new key of typ (secret, publishable or
// hmac); the one it replaces keeps working for overlap. Servers running on
// the same store stop accepting a key rolled with no overlap within a few
// seconds (how long they keep an authenticated key).
func RollMerchantKey(ctx context.Context, c Config, merchantID, typ string, overlap time.Duration) (payment.RolledKey, error) {
	d, err := open(ctx, &c, c.Logger(), false)
	if err != nil {
		return payment.RolledKey{}, err
	}
	defer d.Close()
	secs := int64(overlap / time.Second)
	return d.svc.RollKey(ctx, merchantID, payment.RollParams{Type: typ, ExpiresIn: &secs})
}
