package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/payment"
)

// merchantList is `coffer merchant list`: id, name, created and the keys'
// prefixes and last four characters — never a whole key.
func merchantList(fs *flag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print the merchants as one JSON array")
	return func(ctx context.Context, inv *invocation) error {
		ms, err := app.ListMerchants(ctx, *inv.cfg)
		if err != nil {
			return err
		}
		if *asJSON {
			if ms == nil {
				ms = []payment.MerchantSummary{}
			}
			return json.NewEncoder(inv.stdout).Encode(ms)
		}
		tw := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED\tSECRET KEY\tPUBLISHABLE KEY")
		for _, m := range ms {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.ID, m.Name, m.Created.Format(time.RFC3339), m.SecretKey, m.PublishableKey)
		}
		return tw.Flush()
	}
}

// merchantRollKey is `coffer merchant roll-key`: prints the new key, once.
// Its flags are checked as the API checks a roll (payment.CheckRoll)
// before the store is opened, so a typo opens nothing.
func merchantRollKey(fs *flag.FlagSet) runFunc {
	mid := fs.String("merchant", "", "merchant id mer_… (required)")
	typ := fs.String("type", "", "which key: secret, publishable or hmac (required)")
	overlap := fs.Duration("expires-in", payment.DefaultKeyOverlap*time.Second,
		"how long the key replaced keeps working, whole seconds: 0 stops it at once (a leaked key), at most 168h")
	asJSON := fs.Bool("json", false, "print the new key as one JSON object")
	return func(ctx context.Context, inv *invocation) error {
		if *mid == "" {
			return usageErrorf("merchant roll-key: --merchant is required")
		}
		if *overlap%time.Second != 0 {
			return usageErrorf("merchant roll-key: --expires-in: invalid value %s: want whole seconds", *overlap)
		}
		secs := int64(*overlap / time.Second)
		if err := payment.CheckRoll(payment.RollParams{Type: *typ, ExpiresIn: &secs}); err != nil {
			return usageErrorf("merchant roll-key: %s%v", flagOf(err), err)
		}
		r, err := app.RollMerchantKey(ctx, *inv.cfg, *mid, *typ, *overlap)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(inv.stdout).Encode(r)
		}
		fmt.Fprintf(inv.stdout, "new %s key of %s: %s\n(shown only now; the key replaced works until %s)\n",
			r.Type, *mid, r.Key(), r.PreviousExpires.Format(time.RFC3339))
		return nil
	}
}
