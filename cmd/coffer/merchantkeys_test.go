package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
)

// runIn runs the coffer command line in this process (no server: these
// commands open the store themselves). A serve that should have been
// refused ends after 20 s, with no error.
func runIn(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var o, e bytes.Buffer
	err = run(ctx, args, func(k string) string { return env[k] }, &o, &e)
	return o.String(), e.String(), err
}

// TestMerchantListAndRollKey: merchant list shows each merchant with its
// keys' prefix and last four only; roll-key prints a new key once, which
// list then shows, and refuses a bad type or overlap as a usage error
// naming the flag.
func TestMerchantListAndRollKey(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	out, errOut, err := runIn(t, nil, "merchant", "create", "--name", "Kedai", "--data", data, "--json")
	if err != nil {
		t.Fatalf("merchant create: %v %s", err, errOut)
	}
	var c struct {
		ID             string `json:"id"`
		SecretKey      string `json:"secret_key"`
		PublishableKey string `json:"publishable_key"`
		HMACSecret     string `json:"hmac_secret"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.SecretKey == "" {
		t.Fatalf("merchant create printed %q (%v)", out, err)
	}

	list := func() string {
		out, errOut, err := runIn(t, nil, "merchant", "list", "--data", data)
		if err != nil {
			t.Fatalf("merchant list: %v %s", err, errOut)
		}
		for _, k := range []string{c.SecretKey, c.PublishableKey, c.HMACSecret} {
			if k != "" && strings.Contains(out, k) {
				t.Fatalf("merchant list shows a whole key:\n%s", out)
			}
		}
		return out
	}
	out = list()
	if !strings.Contains(out, c.ID) || !strings.Contains(out, "Kedai") ||
		!strings.Contains(out, "sk_…"+c.SecretKey[len(c.SecretKey)-4:]) || !strings.Contains(out, "pk_…"+c.PublishableKey[len(c.PublishableKey)-4:]) {
		t.Fatalf("merchant list:\n%s", out)
	}

	out, errOut, err = runIn(t, nil, "merchant", "roll-key", "--merchant", c.ID, "--type", "secret", "--expires-in", "0s", "--data", data, "--json")
	if err != nil {
		t.Fatalf("merchant roll-key: %v %s", err, errOut)
	}
	var r struct {
		Type      string `json:"type"`
		SecretKey string `json:"secret_key"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Type != "secret" || !strings.HasPrefix(r.SecretKey, "sk_") || r.SecretKey == c.SecretKey {
		t.Fatalf("merchant roll-key --json printed %q (%v)", out, err)
	}
	c.SecretKey = r.SecretKey
	if out = list(); !strings.Contains(out, "sk_…"+r.SecretKey[len(r.SecretKey)-4:]) {
		t.Fatalf("merchant list after the roll does not show the new key's last four:\n%s", out)
	}
	out, _, err = runIn(t, nil, "merchant", "roll-key", "--merchant", c.ID, "--type", "hmac", "--data", data)
	if err != nil || !strings.Contains(out, "shown only now") {
		t.Fatalf("merchant roll-key --type hmac: %v\n%s", err, out)
	}

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--type", "private"}, "--type"},
		{[]string{"--type", "secret", "--expires-in", "200h"}, "--expires-in"},
		{[]string{"--type", "secret", "--expires-in", "1500ms"}, "whole seconds"},
	} {
		args := append([]string{"merchant", "roll-key", "--merchant", c.ID, "--data", data}, bad.args...)
		var ue usageError
		if _, _, err := runIn(t, nil, args...); !errors.As(err, &ue) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: err %v, want a usage error naming %s", bad.args, err, bad.want)
		}
	}
	if _, _, err := runIn(t, nil, "merchant", "roll-key", "--merchant", "mer_nosuchmerchant0000000000", "--type", "secret", "--data", data); err == nil {
		t.Error("rolling an unknown merchant's key succeeded")
	}
}

// TestRateLimitSetting: --rate-limit, COFFER_RATE_LIMIT and the config
// key rate-limit reach app.Config.RateLimit, the flag winning; serve reads
// it, the merchant commands do not.
func TestRateLimitSetting(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "coffer.conf")
	if err := os.WriteFile(conf, []byte("rate-limit = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want int
	}{
		{nil, nil, 0},
		{[]string{"--config", conf}, nil, 3},
		{[]string{"--config", conf}, map[string]string{"COFFER_RATE_LIMIT": "5"}, 5},
		{[]string{"--config", conf, "--rate-limit", "7"}, map[string]string{"COFFER_RATE_LIMIT": "5"}, 7},
	} {
		fs, set, _ := find("serve").flagSet()
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		var cfg app.Config
		if _, err := set.Resolve(&cfg, func(k string) string { return tc.env[k] }); err != nil || cfg.RateLimit != tc.want {
			t.Errorf("%v %v: RateLimit %d (%v), want %d", tc.args, tc.env, cfg.RateLimit, err, tc.want)
		}
	}
	fs, _, _ := find("merchant roll-key").flagSet()
	if fs.Lookup("rate-limit") != nil {
		t.Error("merchant roll-key takes --rate-limit, a setting of serve only")
	}
}
