package e2e

import "github.com/coffer-vault/coffer/internal/payment"

func paymentPatch() payment.SettingsPatch { return payment.SettingsPatch{} }

// cardWith returns a copy of a card body with fields overridden; a nil value
// deletes the field.
func cardWith(base map[string]any, kv ...any) map[string]any {
	m := make(map[string]any, len(base))
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}
