package payment

import (
	"context"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// FieldsView is what the drop-in card fields (GET /v1/fields/{field}) need
// to know of the merchant whose publishable key mounted them: who may frame
// them. Nothing else of the merchant reaches a page.
type FieldsView struct {
	// FrameAncestors are the merchant's frame_ancestors: the only origins
	// that may frame the fields and talk to them.
	FrameAncestors []string
	TestMode       bool
}

// FieldsByPublishableKey finds the merchant of a publishable key (its
// current one, or one a roll retired that still works). Anything else,
// including a secret key, is not found: the key arrives in a page's URL.
func (s *Merchants) FieldsByPublishableKey(ctx context.Context, pk string) (FieldsView, error) {
	nf := notFound("pk", "publishable key", "")
	if !strings.HasPrefix(pk, "pk_") || len(pk) > 128 {
		return FieldsView{}, nf
	}
	m, err := read(ctx, s.store, func(tx store.Tx) (*store.Merchant, error) {
		m, err := tx.GetMerchantByPublishableKey(pk)
		if !isNotFound(err) {
			return m, err
		}
		k, err := tx.GetAPIKeyByHash(HashSecretKey(pk))
		if err != nil {
			return nil, err
		}
		if k.Kind != store.KeyPublishable || !k.Live(time.Now()) {
			return nil, store.ErrNotFound
		}
		return tx.GetMerchant(k.MerchantID)
	})
	if isNotFound(err) {
		return FieldsView{}, nf
	}
	if err != nil {
		return FieldsView{}, err
	}
	return FieldsView{FrameAncestors: m.Settings.FrameAncestors, TestMode: s.testMode}, nil
}
