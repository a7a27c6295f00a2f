package main

import (
	"flag"
	"fmt"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/bench"
)

// cliRunIn runs a short command in dir with COFFER_ variables of its own.
func cliRunIn(t *testing.T, bin, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return harness.RunCommand(t, bin, dir, harness.Environ(env...), args...)
}

// emptyDir fails the test when dir holds anything.
func emptyDir(t *testing.T, dir, what string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%s left %v in %s", what, names, dir)
	}
}

// flagBlock is the help entry of --name: its line and the usage line below.
func flagBlock(help, name string) string {
	for _, head := range []string{"  --" + name + " ", "  --" + name + "\n", "  " + name + " "} {
		if i := strings.Index(help, head); i >= 0 {
			rest := help[i+len(head):]
			lines := strings.SplitN(rest, "\n", 3)
			return head + strings.Join(lines[:min(2, len(lines))], "\n")
		}
	}
	return ""
}

// TestCLIHelp: `coffer --help`, `coffer help`, `coffer CMD --help` and
// `coffer help CMD` exit 0 and print to stdout every command, and for each
// command every flag its real flag set declares, each setting with its
// environment variable; the general help also lists every setting and
// bench scenario.
func TestCLIHelp(t *testing.T) {
	bin := cliBuild(t)
	dir := t.TempDir()
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		out, errOut, code := cliRunIn(t, bin, dir, nil, args...)
		if code != 0 || errOut != "" {
			t.Fatalf("coffer %v: exit %d, stderr %q", args, code, errOut)
		}
		for _, c := range commands {
			if !strings.Contains(out, synopsis(c)) {
				t.Errorf("coffer %v does not list %q", args, synopsis(c))
			}
		}
		for _, st := range settings {
			if b := flagBlock(out, st.Name); !strings.Contains(b, st.Env) || st.Default != "" && !strings.Contains(b, "default "+st.Default) {
				t.Errorf("coffer %v: the entry of %s lacks %s or its default: %q", args, st.Name, st.Env, b)
			}
		}
		for _, sc := range bench.Scenarios {
			if !strings.Contains(out, sc) {
				t.Errorf("coffer %v does not name the bench scenario %s", args, sc)
			}
		}
		for _, s := range []string{"COFFER_CONFIG", "name = value", "exit status"} {
			if !strings.Contains(out, s) {
				t.Errorf("coffer %v does not mention %q", args, s)
			}
		}
	}

	for _, c := range commands {
		words := strings.Fields(c.name)
		for _, args := range [][]string{slices.Concat(words, []string{"--help"}), slices.Concat(words, []string{"-h"}), slices.Concat([]string{"help"}, words)} {
			out, errOut, code := cliRunIn(t, bin, dir, nil, args...)
			if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: "+synopsis(c)) {
				t.Errorf("coffer %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
				continue
			}
			fs, set, _ := c.flagSet()
			fs.VisitAll(func(f *flag.Flag) {
				b := flagBlock(out, f.Name)
				if b == "" {
					t.Errorf("coffer %v does not list --%s", args, f.Name)
				}
				if f.DefValue != "" && f.DefValue != "false" && !strings.Contains(b, "default "+f.DefValue) {
					t.Errorf("coffer %v: --%s without its default %s: %q", args, f.Name, f.DefValue, b)
				}
			})
			if set == nil {
				continue
			}
			for _, st := range set.Settings() {
				if b := flagBlock(out, st.Name); !strings.Contains(b, st.Env) || st.Default != "" && !strings.Contains(b, "default "+st.Default) {
					t.Errorf("coffer %v: the entry of %s lacks %s or its default: %q", args, st.Name, st.Env, b)
				}
			}
			if !strings.Contains(flagBlock(out, "config"), "COFFER_CONFIG") {
				t.Errorf("coffer %v does not list --config with COFFER_CONFIG", args)
			}
		}
	}
	for _, g := range []struct {
		args  []string
		group string
	}{{[]string{"merchant", "--help"}, "merchant"}, {[]string{"keys", "-h"}, "keys"}, {[]string{"help", "merchant"}, "merchant"}} {
		out, errOut, code := cliRunIn(t, bin, dir, nil, g.args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: coffer "+g.group+" ") {
			t.Errorf("coffer %v: exit %d, stdout %q, stderr %q", g.args, code, out, errOut)
		}
		for _, c := range subcommands(g.group) {
			if !strings.Contains(out, "usage: "+synopsis(c)) {
				t.Errorf("coffer %v does not show %s", g.args, c.name)
			}
		}
	}
	emptyDir(t, dir, "help")
}

// TestCLIUsageErrors: a command line or configuration that cannot be used
// exits 2 with one line naming the flag, variable or key at fault, prints
// nothing on stdout, and creates nothing (the default data folder is
// ./coffer-data, in an empty working folder here). A runtime refusal exits 1.
func TestCLIUsageErrors(t *testing.T) {
	bin := cliBuild(t)
	conf := func(body string) string {
		p := filepath.Join(t.TempDir(), "coffer.conf")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unknownKey := conf("# a typo\ndata = ./elsewhere\nadress = 127.0.0.1:1\n")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"serve", "--frob"}, "--frob"},
		{nil, []string{"serve", "--addr"}, "--addr"},
		{nil, []string{"serve", "--addr", "nowhere"}, "--addr"},
		{nil, []string{"serve", "--public-url", "ftp://example.com"}, "--public-url"},
		{nil, []string{"serve", "--webhooks-allow-private", "maybe"}, "--webhooks-allow-private"},
		{nil, []string{"serve", "--rate-limit", "-3"}, "--rate-limit"},
		{nil, []string{"serve", "--rate-limit", "2.5"}, "--rate-limit"},
		{[]string{"COFFER_RATE_LIMIT=lots"}, []string{"serve"}, "COFFER_RATE_LIMIT"},
		{nil, []string{"serve", "extra"}, `"extra"`},
		{[]string{"COFFER_WEBHOOKS_ALLOW_PRIVATE=maybe"}, []string{"serve"}, "COFFER_WEBHOOKS_ALLOW_PRIVATE"},
		{[]string{"COFFER_ADDR=nowhere"}, []string{"merchant", "create", "--name", "X", "--addr", "127.0.0.1:1"}, "--addr"}, // not a merchant flag
		{nil, []string{"serve", "--config", unknownKey}, `"adress"`},
		{[]string{"COFFER_CONFIG=" + unknownKey}, []string{"merchant", "create", "--name", "X"}, `"adress"`},
		{nil, []string{"serve", "--config", filepath.Join(t.TempDir(), "missing.conf")}, "--config"},
		{nil, []string{"merchant", "create"}, "--name"},
		{nil, []string{"merchant", "create", "--name", " "}, "--name"},
		{nil, []string{"merchant", "create", "--name", "X", "--default-currency", "ringgit"}, "--default-currency"},
		{nil, []string{"merchant", "create", "--name", "X", "--require-cvc-for-saved-cards", "maybe"}, "--require-cvc-for-saved-cards"},
		{nil, []string{"merchant", "create", "--name", "X", "--senangpay-legacy-auth-cidrs", "localhost"}, "--senangpay-legacy-auth-cidrs"},
		{nil, []string{"merchant", "create", "--name", "X", "--tokenization-callback-url", "http://0x7f.1/"}, "--tokenization-callback-url"},
		{nil, []string{"merchant", "update", "--require-cvc-for-saved-cards", "true"}, "--id"},
		{nil, []string{"merchant", "roll-key", "--type", "secret"}, "--merchant"},
		{nil, []string{"merchant", "roll-key", "--merchant", "mer_x"}, "--type"},
		{nil, []string{"merchant", "roll-key", "--merchant", "mer_x", "--type", "private"}, "--type"},
		{nil, []string{"merchant", "roll-key", "--merchant", "mer_x", "--type", "hmac", "--expires-in", "169h"}, "--expires-in"},
		{nil, []string{"merchant", "roll-key", "--merchant", "mer_x", "--type", "hmac", "--expires-in", "1.5s"}, "--expires-in"},
		{nil, []string{"merchant", "list", "--name", "X"}, "--name"},
		{nil, []string{"keys", "rotate", "--json"}, "--json"},
		{nil, []string{"bench", "--scenario", "nope"}, "--scenario"},
		{nil, []string{"bench", "--concurrency", "0"}, "--concurrency"},
		{nil, []string{"bench", "--duration", "0s"}, "--duration"},
		{nil, []string{"bench", "--warmup", "soon"}, "--warmup"},
		{nil, []string{"bench", "--url", "http://127.0.0.1:1", "--server-log", "x.log"}, "--server-log"},
		{nil, []string{"version", "--short"}, "--short"},
		{nil, []string{"serve", "--tls-cert", "cert.pem"}, "--tls-key is not"},
		{[]string{"COFFER_TLS_KEY=key.pem"}, []string{"serve", "--tls-cert", ""}, "--tls-key is set (from COFFER_TLS_KEY)"},
		{nil, []string{"config", "check", "--config", conf("tls-cert = cert.pem\n")}, "--tls-cert is set (from config file line 1)"},
		{nil, []string{"backup"}, "--out"},
		{nil, []string{"backup", "--out", "b.backup", "--key-file", "k"}, "--key-file"}, // a backup needs no key
		{nil, []string{"restore", "--from", "b.backup"}, "--data"},
		{[]string{"COFFER_DATA=new"}, []string{"restore", "--from", "b.backup"}, "--data"}, // named on purpose only
		{nil, []string{"restore", "--data", "new"}, "--from"},
		{nil, []string{"restore", "--data", "new", "--from", "b.backup", "--out", "x"}, "--out"},
	} {
		dir := t.TempDir()
		out, errOut, code := cliRunIn(t, bin, dir, tc.env, tc.args...)
		line := strings.TrimSpace(errOut)
		if code != 2 || out != "" || strings.Count(line, "\n") != 0 || !strings.HasPrefix(line, "coffer: ") || !strings.Contains(line, tc.want) {
			t.Errorf("%v coffer %v: exit %d, want 2 with one line naming %s\nstdout: %q\nstderr: %q", tc.env, tc.args, code, tc.want, out, errOut)
		}
		emptyDir(t, dir, fmt.Sprintf("coffer %v", tc.args))
	}

	// Commands that change an existing store make none: exit 1. (keys
	// rotate refuses COFFER_MASTER_KEY before it looks.)
	withKey := []string{"COFFER_MASTER_KEY=" + newKey()}
	for _, tc := range []struct {
		env  []string
		args []string
	}{
		{withKey, []string{"merchant", "update", "--id", "mer_doesnotexist00000000000000", "--default-currency", "USD"}},
		{withKey, []string{"keys", "rewrap"}},
		{withKey, []string{"merchant", "list"}},
		{withKey, []string{"merchant", "roll-key", "--merchant", "mer_doesnotexist00000000000000", "--type", "secret"}},
		{nil, []string{"keys", "rotate"}},
	} {
		dir := t.TempDir()
		_, errOut, code := cliRunIn(t, bin, dir, tc.env, tc.args...)
		if code != 1 || !strings.Contains(errOut, "no database") {
			t.Errorf("coffer %v on an empty folder: exit %d, stderr %q", tc.args, code, errOut)
		}
		emptyDir(t, dir, fmt.Sprintf("coffer %v", tc.args))
	}
}

// TestCLIServeBusyPort: serve on a port another process holds exits 1
// before it makes the data folder, a key file or a development merchant.
func TestCLIServeBusyPort(t *testing.T) {
	bin := cliBuild(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	data := filepath.Join(dir, "coffer-data")
	out, errOut, code := cliRunIn(t, bin, dir, nil, "serve", "--addr", ln.Addr().String(), "--data", data)
	if code != 1 || out != "" || !strings.Contains(errOut, "address already in use") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("serve on a busy port: exit %d, want 1 with one line\nstdout: %q\nstderr: %q", code, out, errOut)
	}
	emptyDir(t, dir, "serve on a busy port")
}

// writeConf writes a config file into a new folder.
func writeConf(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "coffer.conf")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkLine is the value and origin `config check` shows for a setting.
func checkLine(t *testing.T, out, name string) (value, from string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, name+" = "); ok {
			value, from, _ = strings.Cut(v, "# ")
			return strings.TrimSpace(value), strings.TrimSpace(from)
		}
	}
	t.Fatalf("config check shows no %s:\n%s", name, out)
	return "", ""
}

// TestCLIConfigPrecedence: a config file (--config or COFFER_CONFIG) is
// overridden by the environment, which a flag overrides; `config check`
// says where each value came from, and the commands really use the values
// so chosen (a merchant lands in the data folder that won; serve listens
// on the address from the file).
func TestCLIConfigPrecedence(t *testing.T) {
	bin := cliBuild(t)
	root := t.TempDir()
	fileData, envData, flagData := filepath.Join(root, "file-data"), filepath.Join(root, "env-data"), filepath.Join(root, "flag-data")
	file := writeConf(t, "# precedence", "data = "+fileData, `public-url = "https://file.example"`, "addr = 127.0.0.1:7001", "webhooks-allow-private = false")

	env := []string{"COFFER_CONFIG=" + file, "COFFER_PUBLIC_URL=https://env.example", "COFFER_ADDR=127.0.0.1:7002"}
	out, errOut, code := cliRunIn(t, bin, root, env, "config", "check", "--addr", "127.0.0.1:7003")
	if code != 0 {
		t.Fatalf("config check: exit %d %s", code, errOut)
	}
	for _, w := range []struct{ name, value, from string }{
		{"data", fileData, "config file line 2"},
		{"public-url", "https://env.example", "COFFER_PUBLIC_URL"},
		{"addr", "127.0.0.1:7003", "--addr"},
		{"webhooks-allow-private", "false", "config file line 5"},
		{"key-file", "", "default (not set)"},
	} {
		if v, from := checkLine(t, out, w.name); v != w.value || from != w.from {
			t.Errorf("config check: %s = %q from %q, want %q from %q\n%s", w.name, v, from, w.value, w.from, out)
		}
	}
	if !strings.Contains(out, "config file: "+file+" (from COFFER_CONFIG)") {
		t.Errorf("config check does not name the config file and where it was named:\n%s", out)
	}
	// --config beats COFFER_CONFIG (whose file would be refused).
	bad := writeConf(t, "nonsense = 1")
	if out, errOut, code := cliRunIn(t, bin, root, []string{"COFFER_CONFIG=" + bad}, "config", "check", "--config", file); code != 0 || !strings.Contains(out, "(from --config)") {
		t.Errorf("--config over COFFER_CONFIG: exit %d %q %q", code, out, errOut)
	}

	// The chosen data folder is the one used: file < env < flag.
	for _, step := range []struct {
		env    []string
		args   []string
		wanted string
	}{
		{nil, nil, fileData},
		{[]string{"COFFER_DATA=" + envData}, nil, envData},
		{[]string{"COFFER_DATA=" + envData}, []string{"--data", flagData}, flagData},
	} {
		args := append([]string{"merchant", "create", "--name", "Shop", "--json", "--config", file}, step.args...)
		if out, errOut, code := cliRunIn(t, bin, root, step.env, args...); code != 0 || !strings.Contains(out, `"secret_key":"sk_`) {
			t.Fatalf("coffer %v: exit %d %q %q", args, code, out, errOut)
		}
		if _, err := os.Stat(filepath.Join(step.wanted, "coffer.db")); err != nil {
			t.Errorf("%v coffer %v: no database in %s: %v", step.env, args, step.wanted, err)
		}
	}

	// serve listens where the file says.
	for attempt := 0; ; attempt++ {
		addr := cliFreePort(t)
		conf := writeConf(t, "addr = "+addr, "data = "+filepath.Join(root, "serve-data"))
		if served(t, bin, conf, addr) {
			break
		}
		if attempt == 3 {
			t.Fatal("serve --config found no free port in 4 attempts")
		}
	}
}

// served starts serve with only --config and reports whether it answered at
// addr (false: another process took the port first).
func served(t *testing.T, bin, conf, addr string) bool {
	t.Helper()
	s := &cliServer{stdout: &cliBuffer{}, stderr: &cliBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "--config", conf)
	s.cmd.Env = cliEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	defer func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-s.done:
			if strings.Contains(s.stderr.String(), "address already in use") {
				return false
			}
			t.Fatalf("serve --config exited: %v\n%s", s.err, s.stderr.String())
		default:
		}
		if res, err := client.Get("http://" + addr + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				s.stop(t)
				return true
			}
		}
	}
	t.Fatalf("serve --config did not answer at %s in 20s\n%s", addr, s.stderr.String())
	return false
}

// TestCLIConfigCheckRedacts: `config check` shows where the master key and
// the database come from but never the key or a password, whichever source
// gives them, and a bad secret value is refused without being quoted.
func TestCLIConfigCheckRedacts(t *testing.T) {
	bin := cliBuild(t)
	dir := t.TempDir()
	key := newKey()
	const pw, qpw, dsnpw = "Pw-9f3kQ", "Qpw-77zzK", "Dsn pw 4Lq"
	for _, tc := range []struct {
		env  []string
		args []string
		from string
	}{
		{[]string{"COFFER_MASTER_KEY=" + key}, []string{"--database-url", "postgres://coffer:" + pw + "@127.0.0.1:5432/vault?sslmode=disable&password=" + qpw}, "--database-url"},
		{nil, []string{"--config", writeConf(t, "master-key = "+key, "database-url = postgres://coffer:"+pw+"@127.0.0.1/vault")}, "config file line 2"},
		{[]string{"COFFER_MASTER_KEY=" + key, "COFFER_DATABASE_URL=host=127.0.0.1 user=coffer password='" + dsnpw + "' dbname=vault"}, nil, "COFFER_DATABASE_URL"},
	} {
		out, errOut, code := cliRunIn(t, bin, dir, tc.env, append([]string{"config", "check"}, tc.args...)...)
		if code != 0 {
			t.Fatalf("config check: exit %d %s", code, errOut)
		}
		for _, secret := range []string{key, pw, qpw, dsnpw, "Dsn", "4Lq"} {
			if strings.Contains(out+errOut, secret) {
				t.Errorf("config check shows the secret %q:\n%s", secret, out)
			}
		}
		if v, _ := checkLine(t, out, "master-key"); v != "<redacted>" {
			t.Errorf("master-key shown as %q", v)
		}
		if v, from := checkLine(t, out, "database-url"); !strings.Contains(v, "coffer") || !strings.Contains(v, "<redacted>") || from != tc.from {
			t.Errorf("database-url shown as %q from %q: want the user and host kept, the password redacted, from %s", v, from, tc.from)
		}
	}
	// A value that cannot be read is refused without echoing it.
	for _, conf := range []string{
		writeConf(t, `database-url = "postgres://coffer:`+pw+`@db/vault`),
		writeConf(t, `master-key = "`+key),
	} {
		out, errOut, code := cliRunIn(t, bin, dir, nil, "config", "check", "--config", conf)
		if code != 2 || strings.Contains(out+errOut, pw) || strings.Contains(out+errOut, key) {
			t.Errorf("a bad quoted secret: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	}
	emptyDir(t, dir, "config check")
}

// TestSettingsTable keeps the settings table consistent as rows are added:
// unique names, each environment variable COFFER_ + the name in capitals,
// a usage line, a scope, and a value to set.
func TestSettingsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, st := range settings {
		if seen[st.Name] || st.Name == "config" {
			t.Errorf("setting %q is declared twice (or is --config)", st.Name)
		}
		seen[st.Name] = true
		if want := "COFFER_" + strings.ToUpper(strings.ReplaceAll(st.Name, "-", "_")); st.Env != want {
			t.Errorf("setting %s: environment variable %s, want %s", st.Name, st.Env, want)
		}
		if st.Usage == "" || st.Scope == 0 || st.Value.Kind == "" {
			t.Errorf("setting %s lacks a usage, a scope or a value", st.Name)
		}
	}
}

// bench --memprofile and --trace leave a profile and a trace that Go's tools read.
func TestBenchProfiles(t *testing.T) {
	bin := cliBuild(t)
	dir := t.TempDir()
	mem, tr := filepath.Join(dir, "mem.pprof"), filepath.Join(dir, "run.trace")
	_, stderr, code := cliRunIn(t, bin, dir, nil, "bench", "--scenario", "healthz", "--duration", "10s", "--warmup", "0s",
		"--requests", "200", "--concurrency", "2", "--memprofile", mem, "--trace", tr)
	if code != 0 {
		t.Fatalf("bench: exit %d: %s", code, stderr)
	}
	for _, args := range [][]string{{"pprof", "-top", mem}, {"trace", "-d=footprint", tr}} {
		out, err := exec.Command("go", append([]string{"tool"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("go tool %v: %v\n%s", args, err, out)
		}
	}
}
