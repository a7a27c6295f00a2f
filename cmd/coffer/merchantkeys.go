package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
)

// merchantList is `coffer merchant list`: id, name, created and the keys'
// prefixes and last four characters — never a whole key.
func merchantList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, cfg := flags("merchant list", getenv, stdout, stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	ms, err := app.ListMerchants(ctx, *cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		if ms == nil {
			return json.NewEncoder(stdout).Encode([]any{})
		}
		return json.NewEncoder(stdout).Encode(ms)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tSECRET KEY\tPUBLISHABLE KEY")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.ID, m.Name, m.Created.Format(time.RFC3339), m.SecretKey, m.PublishableKey)
	}
	return tw.Flush()
}

// merchantRollKey is `coffer merchant roll-key --merchant mer_… --type
// secret|publishable|hmac [--expires-in 24h]`: prints the new key, once.
func merchantRollKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, cfg := flags("merchant roll-key", getenv, stdout, stderr)
	mid := fs.String("merchant", "", "merchant id (mer_…)")
	typ := fs.String("type", "", "which key: secret, publishable or hmac")
	overlap := fs.Duration("expires-in", 24*time.Hour, "how long the old key keeps working (0: stops at once; at most 168h)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *mid == "" || *typ == "" {
		return errors.New("merchant roll-key: --merchant and --type are required")
	}
	if *overlap%time.Second != 0 {
		return errors.New("merchant roll-key: --expires-in must be whole seconds")
	}
	r, err := app.RollMerchantKey(ctx, *cfg, *mid, *typ, *overlap)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	fmt.Fprintf(stdout, "new %s key of %s: %s\n(shown only now; the old key works until %s)\n",
		r.Type, *mid, r.Key(), r.PreviousExpires.Format(time.RFC3339))
	return nil
}

// rateLimitFlag binds serve's --rate-limit (COFFER_RATE_LIMIT): requests a
// second per API key on this instance, 0 for none. The check it returns
// refuses a bad COFFER_RATE_LIMIT once the flags are parsed (a flag given
// overrides it).
func rateLimitFlag(fs *flag.FlagSet, cfg *app.Config, getenv func(string) string) (check func() error) {
	env := getenv("COFFER_RATE_LIMIT")
	envOK := true
	if env != "" {
		cfg.RateLimit, envOK = parseRate(env)
	}
	given := false
	fs.Func("rate-limit", "requests a second each API key may make (bursts of twice as many); 0 for no limit", func(v string) error {
		n, ok := parseRate(v)
		if !ok {
			return errors.New("want a number of requests a second, 0 for no limit")
		}
		cfg.RateLimit, given = n, true
		return nil
	})
	return func() error {
		if !envOK && !given {
			return errors.New("COFFER_RATE_LIMIT must be a number of requests a second, 0 for no limit")
		}
		return nil
	}
}

func parseRate(v string) (float64, bool) {
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, false
	}
	return n, true
}
