package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
// list then shows, and refuses a bad type or overlap naming it.
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
		{[]string{"--type", "private"}, "type"},
		{[]string{"--type", "secret", "--expires-in", "200h"}, "expires_in"},
		{[]string{"--type", "secret", "--expires-in", "1500ms"}, "whole seconds"},
	} {
		args := append([]string{"merchant", "roll-key", "--merchant", c.ID, "--data", data}, bad.args...)
		if _, _, err := runIn(t, nil, args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: err %v, want one naming %s", bad.args, err, bad.want)
		}
	}
	if _, _, err := runIn(t, nil, "merchant", "roll-key", "--merchant", "mer_nosuchmerchant0000000000", "--type", "secret", "--data", data); err == nil {
		t.Error("rolling an unknown merchant's key succeeded")
	}
}

// TestRateLimitFlag: --rate-limit and COFFER_RATE_LIMIT are refused unless
// a number ≥ 0 (the flag overriding the variable).
func TestRateLimitFlag(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if _, _, err := runIn(t, nil, "serve", "--data", data, "--rate-limit", "-3"); err == nil {
		t.Error("--rate-limit -3 accepted")
	}
	if _, _, err := runIn(t, map[string]string{"COFFER_RATE_LIMIT": "lots"}, "serve", "--data", data); err == nil ||
		!strings.Contains(err.Error(), "COFFER_RATE_LIMIT") {
		t.Errorf("COFFER_RATE_LIMIT=lots: %v", err)
	}
}
