package store

import "time"

// MerchantTx stores merchants (with their settings) and the device keys that
// authenticate as them.
type MerchantTx interface {
	InsertMerchant(m *Merchant) error
	GetMerchant(id string) (*Merchant, error)
	GetMerchantBySecretHash(hash []byte) (*Merchant, error)
	// GetMerchantByPublishableKey finds the merchant whose current
	// publishable key is pk (the drop-in card fields name only that).
	GetMerchantByPublishableKey(pk string) (*Merchant, error)
	UpdateMerchantSettings(id string, s Settings) error
	CountMerchants() (int, error)
	// ListMerchants pages through every merchant in id order, after the
	// given id (the operator's list).
	ListMerchants(after string, limit int) ([]*Merchant, error)

	InsertDeviceKey(k *DeviceKey) error
	// GetDeviceKeyByHash finds a key (revoked or not) by its digest.
	GetDeviceKeyByHash(hash []byte) (*DeviceKey, error)
	GetDeviceKey(merchantID, id string) (*DeviceKey, error)
	// ListDeviceKeys lists a merchant's keys, oldest first, revoked ones too.
	ListDeviceKeys(merchantID string) ([]*DeviceKey, error)
	// RevokeDeviceKey marks a key revoked (ErrNotFound when there is none).
	RevokeDeviceKey(merchantID, id string, at time.Time) error
}

// Merchant is an account. Secrets are stored as a hash (the API key) or sealed
// by the vault (the HMAC secret, which dialects need in clear to sign).
type Merchant struct {
	ID             string
	Name           string
	SecretKeyHash  []byte
	SecretKeyLast4 string // to tell keys apart; "" for keys made before it was kept
	PublishableKey string
	HMACSecretCT   []byte
	Settings       Settings
	Created        time.Time
}

// Settings are the merchant's options; later features add fields here.
type Settings struct {
	DefaultCurrency         string   `json:"default_currency"`
	RequireCVCForSavedCards bool     `json:"require_cvc_for_saved_cards"`
	TokenizationRequires3DS bool     `json:"tokenization_requires_3ds"`
	TokenizationReturnURL   string   `json:"tokenization_return_url"`
	TokenizationCallbackURL string   `json:"tokenization_callback_url"`
	FrameAncestors          []string `json:"frame_ancestors"`
	// AcceptRawCardData opens the dialect endpoints that take card numbers
	// in clear from the merchant's server (senangPay's deprecated
	// get_payment_token, SensePass's pay with creditCardDetails). Off by
	// default: those flows put the merchant in PCI scope and skip 3-D Secure.
	AcceptRawCardData bool `json:"accept_raw_card_data"`
	// CardTesting overrides the card-testing limits; zero keeps a default
	// (internal/radar.Defaults, documented in README).
	CardTesting CardTestingLimits `json:"card_testing"`
	// SenangPayLegacyAuth lets senangPay's server-to-server calls use the
	// form senangPay documents (Basic auth with the merchant id and an empty
	// password) instead of the hmac_secret as password, and only from
	// SenangPayLegacyAuthCIDRs: the merchant id alone is public.
	SenangPayLegacyAuth      bool     `json:"senangpay_legacy_auth"`
	SenangPayLegacyAuthCIDRs []string `json:"senangpay_legacy_auth_cidrs"`
	// RelayDestinations are the origins (scheme://host[:port]) POST
	// /v1/relay may send the merchant's cards to.
	RelayDestinations []string `json:"relay_destinations"`
}

// CardTestingLimits are a merchant's card-testing thresholds.
type CardTestingLimits struct {
	SuffixCards         int     `json:"suffix_cards_per_hour,omitempty"`
	UnverifiedPerMinute int     `json:"unverified_per_minute,omitempty"`
	DeclineMin          int     `json:"decline_min_attempts,omitempty"`
	DeclineRatio        float64 `json:"decline_ratio,omitempty"`
	CVCFailures         int     `json:"cvc_failures_per_hour,omitempty"`
}

// DeviceKey is a secondary credential a merchant creates for a device (a
// point of sale): it authenticates as the merchant in the dialects that
// take a device id. Only a keyed digest of the key is stored.
type DeviceKey struct {
	ID         string
	MerchantID string
	Name       string
	KeyHash    []byte
	Last4      string // the key's last four characters, to tell keys apart
	Created    time.Time
	Revoked    *time.Time
}
