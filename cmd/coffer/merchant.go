package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/payment"
)

// merchantCreate is `coffer merchant create`: its name and settings are
// checked before the data folder is opened (or made).
func merchantCreate(fs *flag.FlagSet) runFunc {
	name := fs.String("name", "", "merchant name (required, at most 200 characters)")
	asJSON := fs.Bool("json", false, "print the keys as one JSON object")
	patch := settingsFlags(fs)
	return func(ctx context.Context, inv *invocation) error {
		p, err := patch()
		if err != nil {
			return err
		}
		if strings.TrimSpace(*name) == "" {
			return usageErrorf("merchant create: --name is required")
		}
		if err := app.CheckNewMerchant(*inv.cfg, *name, p); err != nil {
			return usageErrorf("merchant create: %s%v", flagOf(err), err)
		}
		creds, err := app.CreateMerchant(ctx, *inv.cfg, *name, p)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(inv.stdout).Encode(creds)
		}
		fmt.Fprintf(inv.stdout, "merchant %s created\nsecret key:      %s\npublishable key: %s\nhmac secret:     %s\n(these are shown only now)\n",
			creds.ID, creds.SecretKey, creds.PublishableKey, creds.HMACSecret)
		return nil
	}
}

// merchantUpdate is `coffer merchant update`; the settings are checked
// against the merchant's own, in the store.
func merchantUpdate(fs *flag.FlagSet) runFunc {
	mid := fs.String("id", "", "merchant id mer_… (required)")
	asJSON := fs.Bool("json", false, "print the merchant as one JSON object")
	patch := settingsFlags(fs)
	return func(ctx context.Context, inv *invocation) error {
		p, err := patch()
		if err != nil {
			return err
		}
		if *mid == "" {
			return usageErrorf("merchant update: --id is required")
		}
		m, err := app.UpdateMerchant(ctx, *inv.cfg, *mid, p)
		if err != nil {
			return err
		}
		out := map[string]any{"id": m.ID, "name": m.Name, "settings": m.Settings}
		if *asJSON {
			return json.NewEncoder(inv.stdout).Encode(out)
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintf(inv.stdout, "%s\n", b)
		return nil
	}
}

// flagOf names the flag behind a refused merchant field ("--default-currency: ").
func flagOf(err error) string {
	var pe *payment.Error
	if !errors.As(err, &pe) || pe.Param == "" {
		return ""
	}
	field, _, _ := strings.Cut(pe.Param, "[")
	if field == "frame_ancestors" {
		return "--frame-ancestor: "
	}
	return "--" + strings.ReplaceAll(field, "_", "-") + ": "
}

// settingsFlags binds the merchant settings; only flags given are applied.
// A value that is not true or false is a usage error naming its flag.
func settingsFlags(fs *flag.FlagSet) func() (payment.SettingsPatch, error) {
	currency := fs.String("default-currency", "", "default currency (ISO 4217, such as MYR)")
	cvc := fs.String("require-cvc-for-saved-cards", "", "true|false")
	tds := fs.String("tokenization-requires-3ds", "", "true|false")
	raw := fs.String("accept-raw-card-data", "", "true|false: open the dialect endpoints that take card numbers in clear")
	spLegacy := fs.String("senangpay-legacy-auth", "", "true|false: senangPay calls with an empty password, from --senangpay-legacy-auth-cidrs only")
	spCIDRs := fs.String("senangpay-legacy-auth-cidrs", "", "comma-separated CIDR blocks allowed senangPay's legacy auth (\"\" clears)")
	ret := fs.String("tokenization-return-url", "", "tokenization return URL")
	cb := fs.String("tokenization-callback-url", "", "tokenization callback URL")
	var fa []string
	fs.Func("frame-ancestor", "origin allowed to frame the hosted pages (repeatable)", func(s string) error { fa = append(fa, s); return nil })
	return func() (payment.SettingsPatch, error) {
		var p payment.SettingsPatch
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if set["default-currency"] {
			p.DefaultCurrency = currency
		}
		for _, f := range []struct {
			name string
			dst  **bool
			v    *string
		}{{"require-cvc-for-saved-cards", &p.RequireCVCForSavedCards, cvc}, {"tokenization-requires-3ds", &p.TokenizationRequires3DS, tds},
			{"accept-raw-card-data", &p.AcceptRawCardData, raw}, {"senangpay-legacy-auth", &p.SenangPayLegacyAuth, spLegacy}} {
			if !set[f.name] {
				continue
			}
			b, err := strconv.ParseBool(*f.v)
			if err != nil {
				return p, usageErrorf("--%s: invalid value %q: want true or false", f.name, *f.v)
			}
			*f.dst = &b
		}
		if set["tokenization-return-url"] {
			p.TokenizationReturnURL = ret
		}
		if set["tokenization-callback-url"] {
			p.TokenizationCallbackURL = cb
		}
		if set["frame-ancestor"] {
			p.FrameAncestors = &fa
		}
		if set["senangpay-legacy-auth-cidrs"] {
			l := []string{}
			for _, c := range strings.Split(*spCIDRs, ",") {
				if c = strings.TrimSpace(c); c != "" {
					l = append(l, c)
				}
			}
			p.SenangPayLegacyAuthCIDRs = &l
		}
		return p, nil
	}
}
