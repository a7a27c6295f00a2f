package config

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type testConfig struct {
	Addr    string
	Rate    int
	Secret  string
	Private *bool
}

var testTable = []Setting[testConfig]{
	{Name: "addr", Env: "T_ADDR", Default: "127.0.0.1:1", Usage: "address", Scope: 1, Check: HostPort,
		Value: String(func(c *testConfig) *string { return &c.Addr })},
	{Name: "api-key", Env: "T_API_KEY", Usage: "a key nobody marked secret", Scope: 1, NoFlag: true,
		Value: String(func(c *testConfig) *string { return &c.Secret })},
	{Name: "private", Env: "T_PRIVATE", Usage: "optional", Scope: 1,
		Value: OptionalBool(func(c *testConfig) **bool { return &c.Private })},
	{Name: "rate", Env: "T_RATE", Default: "0", Usage: "a count", Scope: 1, Check: NonNegative,
		Value: Int(func(c *testConfig) *int { return &c.Rate })},
	{Name: "elsewhere", Env: "T_ELSEWHERE", Usage: "another command's", Scope: 2,
		Value: String(func(c *testConfig) *string { return &c.Addr })},
}

func resolve(t *testing.T, args []string, env map[string]string) (testConfig, Resolution, error) {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	set := Register(fs, testTable, 1)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	var c testConfig
	res, err := set.Resolve(&c, func(k string) string { return env[k] })
	return c, res, err
}

func TestResolvePrecedence(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "c.conf")
	os.WriteFile(conf, []byte("addr = 127.0.0.1:3\napi-key = \"k e y\"\nelsewhere = x\n"), 0o600)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
		src  Source
	}{
		{nil, nil, "127.0.0.1:1", FromDefault},
		{[]string{"--config", conf}, nil, "127.0.0.1:3", FromFile},
		{[]string{"--config", conf}, map[string]string{"T_ADDR": "127.0.0.1:2"}, "127.0.0.1:2", FromEnv},
		{[]string{"--config", conf, "--addr", "127.0.0.1:4"}, map[string]string{"T_ADDR": "127.0.0.1:2"}, "127.0.0.1:4", FromFlag},
		{nil, map[string]string{"COFFER_CONFIG": conf}, "127.0.0.1:3", FromFile},
	} {
		c, res, err := resolve(t, tc.args, tc.env)
		if err != nil || c.Addr != tc.want || res.Values[0].Source != tc.src {
			t.Errorf("%v %v: addr %q from %v (%v), want %q from %v", tc.args, tc.env, c.Addr, res.Values[0].Source, err, tc.want, tc.src)
		}
		if c.Private != nil {
			t.Errorf("an optional bool nobody set became %v", *c.Private)
		}
	}
	c, res, err := resolve(t, []string{"--config", conf, "--private=false"}, nil)
	if err != nil || c.Secret != "k e y" || c.Private == nil || *c.Private {
		t.Fatalf("quoted value %q, private %v, err %v", c.Secret, c.Private, err)
	}
	if res.Values[1].Shown() != Redacted {
		t.Errorf("a setting named *-key is shown as %q", res.Values[1].Shown())
	}
}

func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, strings.Repeat("x", len(body)%7+1)+".conf")
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--addr", "nope"}, nil, `--addr: invalid value "nope"`},
		{nil, map[string]string{"T_PRIVATE": "maybe"}, "T_PRIVATE: invalid value"},
		{[]string{"--rate", "-1"}, nil, `--rate: invalid value "-1": want a whole number, 0 or more`},
		{[]string{"--rate", "2.5"}, nil, `--rate: invalid value "2.5"`},
		{nil, map[string]string{"T_RATE": "lots"}, `T_RATE: invalid value "lots"`},
		{[]string{"--config", write("adr = 1\n")}, nil, `line 1: unknown key "adr"`},
		{[]string{"--config", write("\n\naddr\n")}, nil, "line 3: want name = value"},
		{[]string{"--config", write("addr = :1\naddr = :2\n")}, nil, "line 2: addr is already set on line 1"},
		{[]string{"--config", write("config = x\n")}, nil, `unknown key "config"`},
		{[]string{"--config", filepath.Join(dir, "none")}, nil, "--config: config file"},
	} {
		_, _, err := resolve(t, tc.args, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want %q", tc.args, tc.env, err, tc.want)
		}
	}
	// A bad secret is not quoted.
	_, _, err := resolve(t, []string{"--config", write("api-key = \"hunter2\n")}, nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad quoted secret: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://coffer:pw@127.0.0.1:5432/db":            "postgres://coffer:<redacted>@127.0.0.1:5432/db",
		"postgres://coffer@127.0.0.1/db?password=pw":        "postgres://coffer@127.0.0.1/db?password=<redacted>",
		"postgres://127.0.0.1/db?sslmode=disable":           "postgres://127.0.0.1/db?sslmode=disable",
		"host=h user=u password='p w' dbname=d":             "host=h user=u password=<redacted> dbname=d",
		"host=h password=pw sslpassword=x":                  "host=h password=<redacted> sslpassword=<redacted>",
		"postgres://u:12#34@h/db":                           Redacted,
		"postgres://u:p/w@h/db":                             Redacted,
		"not a url at all":                                  Redacted,
		"postgres://coffer:%70w@127.0.0.1/db?sslkey=/k.pem": "postgres://coffer:<redacted>@127.0.0.1/db?sslkey=<redacted>",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrintFlags(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	set := Register(fs, testTable, 1)
	fs.Int("n", 3, "a number")
	var b bytes.Buffer
	PrintFlags(&b, fs, set)
	out := b.String()
	for _, s := range []string{"--n int\n        a number (default 3)", "--addr string\n        address (default 127.0.0.1:1; env T_ADDR)",
		"api-key string (no flag", "env T_API_KEY; secret", "--private true|false", "--config FILE", "env COFFER_CONFIG"} {
		if !strings.Contains(out, s) {
			t.Errorf("help lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "elsewhere") {
		t.Errorf("help lists another command's setting:\n%s", out)
	}
}
