package payment

import (
	"context"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/vault"
)

// Merchants are the accounts that use Coffer: their settings, secret and
// publishable keys, device keys, and a short cache of authenticated
// merchants.
type Merchants struct {
	*deps
	sealer *Sealer
	events *Events // validates callback addresses

	authMu    sync.Mutex
	authCache map[string]authEntry // key digest → merchant and grant, briefly

	uses *keyUses // when each key was last used
}

// authTTL bounds how long a merchant (and its settings) is served from
// memory. Authenticating every request against the database costs about a
// fifth of a tokenization's CPU; another process's settings change (the CLI,
// another instance) is seen within this time, this process's at once.
const authTTL = 3 * time.Second

type authEntry struct {
	m       *store.Merchant
	grant   Grant
	expires time.Time
}

// Credentials are shown once, when a merchant is created; only the
// publishable key and (sealed) HMAC secret are kept in a recoverable form.
type Credentials struct {
	ID             string `json:"id"`
	SecretKey      string `json:"secret_key"`
	PublishableKey string `json:"publishable_key"`
	HMACSecret     string `json:"hmac_secret"`
}

// DefaultSettings are a new merchant's settings.
func DefaultSettings() store.Settings {
	return store.Settings{DefaultCurrency: "MYR", FrameAncestors: []string{}}
}

// CreateMerchant creates a merchant with fresh keys and its data keys, in one
// transaction: a merchant without its fingerprint key could never be completed.
func (s *Merchants) CreateMerchant(ctx context.Context, name string, settings store.Settings) (*Credentials, error) {
	name = strings.TrimSpace(name)
	if err := CheckNewMerchant(name, &settings, s.allowPrivateWebhooks); err != nil {
		return nil, err
	}
	c := &Credentials{
		ID:             id.New("mer"),
		SecretKey:      id.NewBits("sk", 192),
		PublishableKey: id.NewBits("pk", 128),
		HMACSecret:     randomHex(32),
	}
	cardKey, err := s.vault.NewDataKey(c.ID, vault.PurposeCard)
	if err != nil {
		return nil, err
	}
	fpKey, err := s.vault.NewDataKey(c.ID, vault.PurposeFingerprint)
	if err != nil {
		return nil, err
	}
	hct, err := s.vault.Seal(cardKey, vault.AAD(c.ID, "merchant.hmac_secret", c.ID), []byte(c.HMACSecret))
	if err != nil {
		return nil, err
	}
	m := &store.Merchant{ID: c.ID, Name: name, SecretKeyHash: HashSecretKey(c.SecretKey), SecretKeyLast4: keyLast4(c.SecretKey),
		PublishableKey: c.PublishableKey, HMACSecretCT: hct, Settings: settings, Created: s.now()}
	err = s.store.Write(ctx, func(tx store.Tx) error {
		if err := tx.InsertMerchant(m); err != nil {
			return err
		}
		if err := tx.InsertDataKey(cardKey); err != nil {
			return err
		}
		return tx.InsertDataKey(fpKey)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// CountMerchants lets serve decide whether a fresh database needs a development merchant.
func (s *Merchants) CountMerchants(ctx context.Context) (n int, err error) {
	err = s.store.Read(ctx, func(tx store.Tx) error {
		n, err = tx.CountMerchants()
		return err
	})
	return n, err
}

// Authenticate finds the merchant of a secret key: the current one, or one
// a roll retired that has not expired yet. Restricted keys are refused
// (store.ErrNotFound): the callers of this method — the dialects, the
// session stream — take the merchant's whole key.
func (s *Merchants) Authenticate(ctx context.Context, secretKey string) (*store.Merchant, error) {
	m, g, err := s.AuthenticateKey(ctx, secretKey)
	if err == nil && g.Restricted {
		return nil, store.ErrNotFound
	}
	return m, err
}

// AuthenticateKey finds the merchant of a secret or restricted key, and what
// the key may do. The lookup is by digest, so no comparison ever touches the
// key itself. Its use is noted for last_used, off the request's path.
func (s *Merchants) AuthenticateKey(ctx context.Context, key string) (*store.Merchant, Grant, error) {
	h := string(HashSecretKey(key))
	now := time.Now()
	s.authMu.Lock()
	e, ok := s.authCache[h]
	s.authMu.Unlock()
	if !ok || !now.Before(e.expires) {
		var err error
		if e, err = s.lookupKey(ctx, h, now); err != nil {
			return nil, Grant{}, err // misses are not cached: a new merchant's key works at once
		}
		s.authMu.Lock()
		if len(s.authCache) > 10000 { // bounded: drop everything rather than track ages
			clear(s.authCache)
		}
		s.authCache[h] = e
		s.authMu.Unlock()
	}
	s.uses.touch(h, e.m.ID, now)
	return e.m, e.grant, nil
}

// lookupKey reads a key's merchant and grant: the merchant's current secret
// key, else a live retired secret key or restricted key. A retired key is
// kept in memory no longer than it works.
func (s *Merchants) lookupKey(ctx context.Context, h string, now time.Time) (authEntry, error) {
	var e authEntry
	err := s.store.Read(ctx, func(tx store.Tx) error {
		e = authEntry{grant: Grant{KeyHash: h}, expires: now.Add(authTTL)}
		var err error
		if e.m, err = tx.GetMerchantBySecretHash([]byte(h)); !isNotFound(err) {
			return err
		}
		k, err := tx.GetAPIKeyByHash([]byte(h))
		if err != nil {
			return err
		}
		if !k.Live(now) || k.Kind != store.KeySecret && k.Kind != store.KeyRestricted {
			return store.ErrNotFound
		}
		e.grant.KeyID, e.grant.Retiring = k.ID, k.Kind == store.KeySecret
		e.grant.Restricted, e.grant.Scopes = k.Kind == store.KeyRestricted, k.Scopes
		if k.Expires != nil && k.Expires.Before(e.expires) {
			e.expires = *k.Expires
		}
		e.m, err = tx.GetMerchant(k.MerchantID)
		return err
	})
	return e, err
}

// forgetMerchant drops cached copies of a merchant after it changed.
func (s *Merchants) forgetMerchant(merchantID string) {
	s.authMu.Lock()
	for h, e := range s.authCache {
		if e.m.ID == merchantID {
			delete(s.authCache, h)
		}
	}
	s.authMu.Unlock()
}

// GetMerchant reads one merchant.
func (s *Merchants) GetMerchant(ctx context.Context, merchantID string) (*store.Merchant, error) {
	var m *store.Merchant
	err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		m, err = tx.GetMerchant(merchantID)
		return err
	})
	if isNotFound(err) {
		return nil, notFound("id", "merchant", merchantID)
	}
	return m, err
}

// HMACSecret returns a merchant's HMAC secret in clear, for signing.
func (s *Merchants) HMACSecret(ctx context.Context, m *store.Merchant) (string, error) {
	b, err := s.sealer.open(ctx, m.ID, "merchant.hmac_secret", m.ID, m.HMACSecretCT)
	return string(b), err
}

// SettingsPatch changes only the fields that are set.
type SettingsPatch struct {
	DefaultCurrency         *string   `json:"default_currency"`
	RequireCVCForSavedCards *bool     `json:"require_cvc_for_saved_cards"`
	TokenizationRequires3DS *bool     `json:"tokenization_requires_3ds"`
	TokenizationReturnURL   *string   `json:"tokenization_return_url"`
	TokenizationCallbackURL *string   `json:"tokenization_callback_url"`
	FrameAncestors          *[]string `json:"frame_ancestors"`
	AcceptRawCardData       *bool     `json:"accept_raw_card_data"`
	// CardTesting replaces the card-testing limits as a whole.
	CardTesting *store.CardTestingLimits `json:"card_testing"`

	// senangPay's legacy empty-password auth and its source allowlist.
	SenangPayLegacyAuth      *bool     `json:"senangpay_legacy_auth"`
	SenangPayLegacyAuthCIDRs *[]string `json:"senangpay_legacy_auth_cidrs"`

	// RelayDestinations replaces the relay allowlist as a whole.
	RelayDestinations *[]string `json:"relay_destinations"`
}

// Apply sets the patch's fields on st.
func (p SettingsPatch) Apply(st *store.Settings) {
	if p.DefaultCurrency != nil {
		st.DefaultCurrency = *p.DefaultCurrency
	}
	if p.RequireCVCForSavedCards != nil {
		st.RequireCVCForSavedCards = *p.RequireCVCForSavedCards
	}
	if p.TokenizationRequires3DS != nil {
		st.TokenizationRequires3DS = *p.TokenizationRequires3DS
	}
	if p.TokenizationReturnURL != nil {
		st.TokenizationReturnURL = *p.TokenizationReturnURL
	}
	if p.TokenizationCallbackURL != nil {
		st.TokenizationCallbackURL = *p.TokenizationCallbackURL
	}
	if p.FrameAncestors != nil {
		st.FrameAncestors = *p.FrameAncestors
	}
	if p.AcceptRawCardData != nil {
		st.AcceptRawCardData = *p.AcceptRawCardData
	}
	if p.CardTesting != nil {
		st.CardTesting = *p.CardTesting
	}
	if p.SenangPayLegacyAuth != nil {
		st.SenangPayLegacyAuth = *p.SenangPayLegacyAuth
	}
	if p.SenangPayLegacyAuthCIDRs != nil {
		st.SenangPayLegacyAuthCIDRs = slices.Clone(*p.SenangPayLegacyAuthCIDRs)
	}
	if p.RelayDestinations != nil {
		st.RelayDestinations = slices.Clone(*p.RelayDestinations)
	}
}

// UpdateSettings applies a patch atomically (read-modify-write in one transaction).
func (s *Merchants) UpdateSettings(ctx context.Context, merchantID string, p SettingsPatch) (*store.Merchant, error) {
	if err := s.events.checkCallbackAddress(p.TokenizationCallbackURL); err != nil {
		return nil, err
	}
	if err := s.checkRelayAddresses(p.RelayDestinations); err != nil {
		return nil, err
	}
	var m *store.Merchant
	err := s.store.Write(ctx, func(tx store.Tx) error {
		var err error
		if m, err = tx.GetMerchant(merchantID); err != nil {
			return err
		}
		p.Apply(&m.Settings)
		if err := validateSettings(&m.Settings); err != nil {
			return err
		}
		return tx.UpdateMerchantSettings(merchantID, m.Settings)
	})
	s.forgetMerchant(merchantID)
	if isNotFound(err) {
		return nil, notFound("id", "merchant", merchantID)
	}
	return m, err
}

func validateSettings(st *store.Settings) error {
	st.DefaultCurrency = strings.TrimSpace(st.DefaultCurrency)
	if err := money.ValidateCurrency(st.DefaultCurrency); err != nil {
		return invalid("default_currency", "parameter_invalid", "default_currency must be an upper-case ISO 4217 code such as MYR")
	}
	for _, f := range []struct{ name, v string }{
		{"tokenization_return_url", st.TokenizationReturnURL},
		{"tokenization_callback_url", st.TokenizationCallbackURL},
	} {
		if f.v != "" && !isHTTPURL(f.v) {
			return invalid(f.name, "url_invalid", "%s must be an absolute http(s) URL"+urlHostRule, f.name)
		}
	}
	ct := st.CardTesting
	for _, f := range []struct {
		name string
		v    int
	}{{"suffix_cards_per_hour", ct.SuffixCards}, {"unverified_per_minute", ct.UnverifiedPerMinute},
		{"decline_min_attempts", ct.DeclineMin}, {"cvc_failures_per_hour", ct.CVCFailures}} {
		if f.v < 0 || f.v > 1_000_000 {
			return invalid("card_testing."+f.name, "parameter_invalid", "card_testing.%s must be between 0 (the default) and 1000000", f.name)
		}
	}
	if ct.DeclineRatio < 0 || ct.DeclineRatio > 1 {
		return invalid("card_testing.decline_ratio", "parameter_invalid", "card_testing.decline_ratio must be between 0 (the default) and 1")
	}
	if st.FrameAncestors == nil {
		st.FrameAncestors = []string{}
	}
	if len(st.FrameAncestors) > 20 {
		return invalid("frame_ancestors", "parameter_invalid", "at most 20 frame_ancestors")
	}
	for i, fa := range st.FrameAncestors {
		if fa != "'self'" && !isOrigin(fa) {
			return invalid("frame_ancestors", "parameter_invalid", "frame_ancestors[%d] must be 'self' or an origin like https://shop.example", i)
		}
	}
	if err := validateRelayDestinations(st); err != nil {
		return err
	}
	return validateLegacyAuth(st)
}

// maxLegacyCIDRs bounds the senangPay legacy allowlist: a merchant's own
// servers, not a list of the internet.
const maxLegacyCIDRs = 50

// validateLegacyAuth checks senangPay's legacy allowlist and stores each
// block in its canonical form (203.0.113.7/24 → 203.0.113.0/24), so that
// what GET /v1/merchant shows is what is enforced. Legacy auth without a
// block would open nothing, and a /0 would open everything: both refused.
func validateLegacyAuth(st *store.Settings) error {
	const name = "senangpay_legacy_auth_cidrs"
	if st.SenangPayLegacyAuthCIDRs == nil {
		st.SenangPayLegacyAuthCIDRs = []string{}
	}
	if len(st.SenangPayLegacyAuthCIDRs) > maxLegacyCIDRs {
		return invalid(name, "parameter_invalid", "at most %d %s", maxLegacyCIDRs, name)
	}
	for i, c := range st.SenangPayLegacyAuthCIDRs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil || p.Addr().Zone() != "" {
			return invalid(name, "parameter_invalid", "%s[%d] must be a CIDR block like 203.0.113.0/24 or 2001:db8::/48", name, i)
		}
		if p.Bits() == 0 {
			return invalid(name, "parameter_invalid", "%s[%d] would allow every address; list the merchant's own servers", name, i)
		}
		st.SenangPayLegacyAuthCIDRs[i] = p.Masked().String()
	}
	if st.SenangPayLegacyAuth && len(st.SenangPayLegacyAuthCIDRs) == 0 {
		return invalid(name, "parameter_invalid",
			"senangpay_legacy_auth needs %s: the address blocks of the servers allowed to call without the secret", name)
	}
	return nil
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > 2048 {
		return false
	}
	// The origin goes into pages' Content-Security-Policy (form-action,
	// frame-ancestors), whose host grammar is letters, digits, hyphens and
	// dots: an IPv6 literal, an underscore or a non-ASCII name (send its
	// xn-- form) could not be allowed there, and the card holder would be
	// stranded on our page.
	return cspHostName.MatchString(u.Hostname())
}

// urlHostRule ends the message for a URL isHTTPURL refuses.
const urlHostRule = " with a DNS name or IPv4 address as its host (no IPv6 literal or underscore; international names in their xn-- form)"

var cspHostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// isOrigin accepts scheme://host[:port] with no path, as CSP frame-ancestors
// needs; anything else could smuggle extra CSP directives into the header.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return false
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return false
	}
	return !strings.ContainsAny(s, " ;,'\"")
}
