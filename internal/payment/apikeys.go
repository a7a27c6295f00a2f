package payment

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// Restricted keys (rk_…) are secret keys that may do only what their scopes
// list: a reporting job that reads payments, a service that only
// tokenizes. Each native route names the one scope it needs
// (internal/httpapi/routes.go). They are for the native API only: the
// dialects, whose callers expect the merchant's whole secret key, refuse
// them (Authenticate takes only secret keys).

// Scopes are what a restricted key may be granted.
var Scopes = []string{
	"customers:read", "customers:write",
	"events:read", "events:write",
	"merchant:read", "merchant:write",
	"payments:read", "payments:write",
	"processor_accounts:read", "processor_accounts:write",
	"relay:write",
	"sessions:read", "sessions:write",
	"tokens:read", "tokens:write",
	"webhooks:read", "webhooks:write",
}

// KeyScopes guard the routes that manage credentials (rolling keys,
// restricted keys, device keys). No restricted key can hold them, nor can a
// secret key a roll retired: a leaked key must not be able to mint another
// or to lock out the merchant's current one.
var KeyScopes = []string{"keys:read", "keys:write"}

// MaxRestrictedKeys bounds a merchant's live restricted keys.
const MaxRestrictedKeys = 100

// Grant is what an authenticated key may do.
type Grant struct {
	// KeyHash is the key's digest: what its last use and its rate are
	// counted by.
	KeyHash string
	// KeyID is the restricted or retired key's id; "" for the current
	// secret key.
	KeyID string
	// Restricted keys may do only what Scopes list.
	Restricted bool
	Scopes     []string
	// Retiring is a secret key a roll replaced, working until it expires.
	Retiring bool
}

// Allows reports whether the key may call a route that needs scope.
func (g Grant) Allows(scope string) bool {
	if slices.Contains(KeyScopes, scope) {
		return !g.Restricted && !g.Retiring
	}
	return !g.Restricted || slices.Contains(g.Scopes, scope)
}

// APIKeyParams create a restricted key.
type APIKeyParams struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

// KeyView is a key as the API shows it: never the key itself (Key only in
// the answer that creates it), only its last four characters.
type KeyView struct {
	ID       string     `json:"id,omitempty"`
	Object   string     `json:"object"`
	Type     string     `json:"type"`
	Name     string     `json:"name,omitempty"`
	Key      string     `json:"key,omitempty"`
	Redacted string     `json:"redacted"`
	Scopes   []string   `json:"scopes,omitempty"`
	Created  *time.Time `json:"created,omitempty"`
	Expires  *time.Time `json:"expires"`
	Revoked  *time.Time `json:"revoked,omitempty"`
	LastUsed *time.Time `json:"last_used"`
}

// keyPrefix is the prefix each kind of key carries.
var keyPrefix = map[string]string{store.KeyRestricted: "rk", store.KeySecret: "sk", store.KeyPublishable: "pk", store.KeyHMAC: ""}

// redact shows a key as its prefix and last four: enough to tell keys apart.
func redact(kind, last4 string) string {
	p := keyPrefix[kind]
	if p != "" {
		p += "_"
	}
	if last4 == "" {
		return p + "…"
	}
	return p + "…" + last4
}

func viewAPIKey(k *store.APIKey) KeyView {
	created := k.Created
	v := KeyView{ID: k.ID, Object: "api_key", Type: k.Kind, Name: k.Name, Redacted: redact(k.Kind, k.Last4), Created: &created,
		Expires: k.Expires, Revoked: k.Revoked, LastUsed: k.LastUsed}
	if k.Kind == store.KeyRestricted {
		v.Scopes = slices.Clone(k.Scopes)
		if v.Scopes == nil {
			v.Scopes = []string{}
		}
	}
	return v
}

// checkScopes validates a restricted key's scopes: known, grantable, each
// once; sorted for display.
func checkScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, invalid("scopes", "parameter_missing", "scopes must list at least one scope, such as payments:read")
	}
	if len(scopes) > len(Scopes) {
		return nil, invalid("scopes", "parameter_invalid", "scopes lists at most %d scopes", len(Scopes))
	}
	out := make([]string, 0, len(scopes))
	for i, sc := range scopes {
		switch {
		case slices.Contains(KeyScopes, sc):
			return nil, invalid("scopes", "parameter_invalid", "scopes[%d]: %s cannot be granted: restricted keys cannot manage keys", i, sc)
		case !slices.Contains(Scopes, sc):
			return nil, invalid("scopes", "parameter_invalid", "scopes[%d] is not a scope; the scopes are %s", i, strings.Join(Scopes, ", "))
		case slices.Contains(out, sc):
			return nil, invalid("scopes", "parameter_invalid", "scopes[%d]: %s is listed twice", i, sc)
		}
		out = append(out, sc)
	}
	slices.Sort(out)
	return out, nil
}

// CreateAPIKey makes a restricted key; its value is shown only in the answer.
func (s *Merchants) CreateAPIKey(ctx context.Context, merchantID string, p APIKeyParams) (KeyView, error) {
	if err := checkFreeText("name", p.Name, 100); err != nil {
		return KeyView{}, err
	}
	scopes, err := checkScopes(p.Scopes)
	if err != nil {
		return KeyView{}, err
	}
	key := id.NewBits("rk", 192)
	k := &store.APIKey{ID: id.New("key"), MerchantID: merchantID, Kind: store.KeyRestricted, Name: strings.TrimSpace(p.Name),
		KeyHash: HashSecretKey(key), Last4: key[len(key)-4:], Scopes: scopes, Created: s.now()}
	err = s.store.Write(ctx, func(tx store.Tx) error {
		// Reading the merchant locks its row where writes take row locks,
		// so two creations are counted one after the other.
		if _, err := tx.GetMerchant(merchantID); err != nil {
			return err
		}
		live, after := 0, ""
		for range MaxRestrictedKeys + 1 { // bounded: pages of 100 until the live count is known to exceed the cap
			page, more, err := tx.ListAPIKeys(merchantID, store.APIKeyFilter{Kind: store.KeyRestricted, Limit: 100, StartingAfter: after})
			if err != nil {
				return err
			}
			for _, k := range page {
				if k.Revoked == nil {
					live++
				}
			}
			if !more || live >= MaxRestrictedKeys {
				break
			}
			after = page[len(page)-1].ID
		}
		if live >= MaxRestrictedKeys {
			return invalid("", "limit_reached", "a merchant may have at most %d live restricted keys; revoke one first", MaxRestrictedKeys)
		}
		return tx.InsertAPIKey(k)
	})
	if err != nil {
		return KeyView{}, err
	}
	v := viewAPIKey(k)
	v.Key = key
	return v, nil
}

// ListAPIKeys pages through a merchant's restricted keys, newest first,
// revoked ones too, each with its last recorded use.
func (s *Merchants) ListAPIKeys(ctx context.Context, merchantID string, limit int, after string) ([]KeyView, bool, error) {
	var keys []*store.APIKey
	var more bool
	err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		keys, more, err = tx.ListAPIKeys(merchantID, store.APIKeyFilter{Kind: store.KeyRestricted, Limit: limit, StartingAfter: after})
		return err
	})
	if isNotFound(err) {
		return nil, false, notFound("starting_after", "api_key", after)
	}
	if err != nil {
		return nil, false, err
	}
	out := make([]KeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, viewAPIKey(k))
	}
	return out, more, nil
}

// RevokeAPIKey stops a restricted key, or a retired one before it expires
// (GET /v1/merchant/keys lists those). This process refuses it at once;
// other instances within authTTL, how long they keep an authenticated key.
func (s *Merchants) RevokeAPIKey(ctx context.Context, merchantID, keyID string) (KeyView, error) {
	var k *store.APIKey
	err := s.store.Write(ctx, func(tx store.Tx) error {
		var err error
		if k, err = tx.GetAPIKey(merchantID, keyID); err != nil {
			return err
		}
		if k.Revoked != nil {
			return nil // revoking twice is what the caller wanted
		}
		now := s.now()
		k.Revoked = &now
		return tx.RevokeAPIKey(merchantID, keyID, now)
	})
	if isNotFound(err) {
		return KeyView{}, notFound("id", "api_key", keyID)
	}
	if err != nil {
		return KeyView{}, err
	}
	s.forgetMerchant(merchantID)
	return viewAPIKey(k), nil
}
