// Command coffer is the card vault: `coffer serve | merchant | keys | version`.
// main only parses flags and environment and calls internal/app.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/payment"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on one line and says how to exit: 0 for success, 2
// for a command line that could not be understood (the usage was printed),
// 1 for anything else — a refusal to start (a wrong or missing key) or a
// failure.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	fmt.Fprintln(stderr, "coffer:", err)
	return 1
}

type usageError struct{ error }

const usage = `usage:
  coffer serve [--addr 127.0.0.1:8080] [--data ./coffer-data] [--database-url postgres://…] [--key-file PATH] [--rate-limit N]
  coffer merchant create --name NAME [--data DIR | --database-url URL] [--json] [settings flags]
  coffer merchant update --id mer_… [--data DIR | --database-url URL] [--json] [settings flags]
  coffer merchant list [--data DIR | --database-url URL] [--json]
  coffer merchant roll-key --merchant mer_… --type secret|publishable|hmac [--expires-in 24h] [--json]
  coffer keys rotate [--data DIR | --database-url URL] [--key-file PATH]
  coffer keys rewrap [--data DIR | --database-url URL]
  coffer bench [--url URL --key sk_…] [--scenario tokenize|validate|healthz] [--concurrency 32] [--duration 10s] [--warmup 1s] [--baseline] [--json] [--server-log PATH]
  coffer version
environment: COFFER_ADDR, COFFER_DATA, COFFER_DATABASE_URL, COFFER_MASTER_KEY, COFFER_KEY_FILE, COFFER_RATE_LIMIT`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usageError{errors.New("no command")}
	}
	switch args[0] {
	case "serve":
		fs, cfg := flags("serve", getenv, stdout, stderr)
		checkRate := rateLimitFlag(fs, cfg, getenv)
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if err := checkRate(); err != nil {
			return err
		}
		return app.Serve(ctx, *cfg)
	case "merchant":
		return merchant(ctx, args[1:], getenv, stdout, stderr)
	case "keys":
		return keysCmd(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "coffer", app.Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return usageError{fmt.Errorf("unknown command %q", args[0])}
}

// flags declares the options every command shares, defaulted from the environment.
func flags(name string, getenv func(string) string, stdout, stderr io.Writer) (*flag.FlagSet, *app.Config) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &app.Config{Stdout: stdout, Stderr: stderr, MasterKey: getenv("COFFER_MASTER_KEY")}
	fs.StringVar(&cfg.Addr, "addr", envOr(getenv, "COFFER_ADDR", "127.0.0.1:8080"), "listen address")
	fs.StringVar(&cfg.DataDir, "data", envOr(getenv, "COFFER_DATA", "./coffer-data"), "data folder (SQLite database, development key file)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", getenv("COFFER_DATABASE_URL"), "PostgreSQL URL; SQLite in the data folder when empty")
	fs.StringVar(&cfg.KeyFile, "key-file", getenv("COFFER_KEY_FILE"), "KEK file (default: development key file in the data folder)")
	fs.Func("webhooks-allow-private", "let webhooks reach private/loopback addresses: true|false (default: true only in the development setup, without a KEK)", func(v string) error {
		b, err := strconv.ParseBool(v)
		cfg.WebhooksAllowPrivate = &b
		return err
	})
	if v := getenv("COFFER_WEBHOOKS_ALLOW_PRIVATE"); v != "" {
		b, _ := strconv.ParseBool(v)
		cfg.WebhooksAllowPrivate = &b
	}
	fs.StringVar(&cfg.PublicURL, "public-url", getenv("COFFER_PUBLIC_URL"), "base URL card holders' browsers reach this server at (3-D Secure pages); default http://<addr>")
	return fs, cfg
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// settingsFlags binds the merchant settings; only flags given are applied.
func settingsFlags(fs *flag.FlagSet) func() (payment.SettingsPatch, error) {
	currency := fs.String("default-currency", "", "default currency (ISO 4217)")
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
		for name, f := range map[string]struct {
			dst **bool
			v   *string
		}{"require-cvc-for-saved-cards": {&p.RequireCVCForSavedCards, cvc}, "tokenization-requires-3ds": {&p.TokenizationRequires3DS, tds},
			"accept-raw-card-data": {&p.AcceptRawCardData, raw}, "senangpay-legacy-auth": {&p.SenangPayLegacyAuth, spLegacy}} {
			if !set[name] {
				continue
			}
			dst := f.dst
			b, err := strconv.ParseBool(*f.v)
			if err != nil {
				return p, fmt.Errorf("--%s must be true or false", name)
			}
			*dst = &b
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

func merchant(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "list" {
		return merchantList(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "roll-key" {
		return merchantRollKey(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "create" && args[0] != "update") {
		fmt.Fprintln(stderr, usage)
		return usageError{errors.New("merchant: want create, update, list or roll-key")}
	}
	fs, cfg := flags("merchant "+args[0], getenv, stdout, stderr)
	name := fs.String("name", "", "merchant name (create)")
	mid := fs.String("id", "", "merchant id (update)")
	asJSON := fs.Bool("json", false, "print JSON")
	patch := settingsFlags(fs)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	p, err := patch()
	if err != nil {
		return err
	}
	if args[0] == "create" {
		creds, err := app.CreateMerchant(ctx, *cfg, *name, p)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(creds)
		}
		fmt.Fprintf(stdout, "merchant %s created\nsecret key:      %s\npublishable key: %s\nhmac secret:     %s\n(these are shown only now)\n",
			creds.ID, creds.SecretKey, creds.PublishableKey, creds.HMACSecret)
		return nil
	}
	if *mid == "" {
		return errors.New("merchant update: --id is required")
	}
	m, err := app.UpdateMerchant(ctx, *cfg, *mid, p)
	if err != nil {
		return err
	}
	out := map[string]any{"id": m.ID, "name": m.Name, "settings": m.Settings}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(out)
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Fprintf(stdout, "%s\n", b)
	return nil
}

func keysCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "rewrap") {
		fmt.Fprintln(stderr, usage)
		return usageError{errors.New("keys: want rotate or rewrap")}
	}
	fs, cfg := flags("keys "+args[0], getenv, stdout, stderr)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if args[0] == "rewrap" {
		n, err := app.Rewrap(ctx, *cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rewrapped %d data keys\n", n)
		return nil
	}
	v, n, err := app.RotateKeys(ctx, *cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "KEK version %d is now current; rewrapped %d data keys\n", v, n)
	return nil
}
