package payment

import (
	"strings"

	"github.com/coffer-vault/coffer/internal/store"
)

// CheckNewMerchant refuses what CreateMerchant refuses in a new merchant's
// name and settings (normalizing settings as it does), without a store:
// the CLI checks its arguments with it before it creates a data folder.
// allowPrivateCallbacks is the webhook address policy
// (Options.WebhooksAllowPrivate).
func CheckNewMerchant(name string, settings *store.Settings, allowPrivateCallbacks bool) error {
	if name = strings.TrimSpace(name); name == "" || len(name) > 200 {
		return invalid("name", "parameter_invalid", "name is required (at most 200 characters)")
	}
	if err := validateSettings(settings); err != nil {
		return err
	}
	return checkCallbackURL(settings.TokenizationCallbackURL, allowPrivateCallbacks)
}
