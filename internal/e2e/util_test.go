package e2e

import "github.com/coffer-vault/coffer/internal/payment"

func paymentPatch() payment.SettingsPatch { return payment.SettingsPatch{} }
