package main

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestUserCreate: user create reads the password from stdin only, refuses
// a missing flag, a short password, an unknown merchant or a taken e-mail
// as usage errors naming the flag, and never prints the password.
func TestUserCreate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	out, errOut, err := runIn(t, nil, "merchant", "create", "--name", "Kedai", "--data", data, "--json")
	if err != nil {
		t.Fatalf("merchant create: %v %s", err, errOut)
	}
	var m struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	old := stdin
	t.Cleanup(func() { stdin = old })
	create := func(pw string, args ...string) (string, error) {
		stdin = strings.NewReader(pw)
		out, errOut, err := runIn(t, nil, append([]string{"user", "create", "--data", data}, args...)...)
		if strings.Contains(out+errOut, "s3cret-pass") {
			t.Fatalf("the password was printed: %s %s", out, errOut)
		}
		return out, err
	}
	out, err = create("s3cret-pass-1\n", "--merchant", m.ID, "--email", "Ops@Example.com", "--password-stdin", "--json")
	if err != nil || !strings.Contains(out, `"email":"ops@example.com"`) || !strings.Contains(out, `"id":"usr_`) {
		t.Fatalf("user create: %q %v", out, err)
	}
	for _, tc := range []struct {
		pw   string
		args []string
		want string
	}{
		{"s3cret-pass-2\n", []string{"--merchant", m.ID, "--email", "a@example.com"}, "--password-stdin is required"},
		{"s3cret-pass-2\n", []string{"--email", "a@example.com", "--password-stdin"}, "--merchant is required"},
		{"short\n", []string{"--merchant", m.ID, "--email", "a@example.com", "--password-stdin"}, "--password-stdin: must be at least"},
		{"s3cret-pass-2\n", []string{"--merchant", m.ID, "--email", "not an email", "--password-stdin"}, "--email: not an e-mail"},
		{"s3cret-pass-2\n", []string{"--merchant", "mer_nope", "--email", "a@example.com", "--password-stdin"}, "--merchant: no merchant"},
		{"s3cret-pass-2\n", []string{"--merchant", m.ID, "--email", "ops@example.com", "--password-stdin"}, "--email: a user with this e-mail exists"},
	} {
		_, err := create(tc.pw, tc.args...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("user create %v: err %v, want a usage error with %q", tc.args, err, tc.want)
		}
	}
}
