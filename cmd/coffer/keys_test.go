package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/coffer-vault/coffer/internal/store/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	if cliBinary.dir != "" {
		os.RemoveAll(cliBinary.dir)
	}
	os.Exit(code)
}

// newKey is a COFFER_MASTER_KEY value: base64 of 32 random bytes.
func newKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// cliRunEnv runs a short command with COFFER_ variables of its own.
func cliRunEnv(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return harness.RunCommand(t, bin, "", harness.Environ(env...), args...)
}

// serveEnv starts `coffer serve` with extra arguments and environment and
// waits until it answers /healthz.
func serveEnv(t *testing.T, bin string, env []string, args ...string) *cliServer {
	t.Helper()
	for attempt := 0; attempt < 4; attempt++ {
		addr := cliFreePort(t)
		s := &cliServer{url: "http://" + addr, stdout: &cliBuffer{}, stderr: &cliBuffer{}, done: make(chan struct{}),
			client: &http.Client{Timeout: 30 * time.Second}}
		s.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
		s.cmd.Env = append(cliEnv(), env...)
		s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { s.err = s.cmd.Wait(); close(s.done) }()
		t.Cleanup(func() {
			select {
			case <-s.done:
			default:
				s.cmd.Process.Kill()
				<-s.done
			}
		})
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			select {
			case <-s.done:
				if strings.Contains(s.stderr.String(), "address already in use") {
					goto retry
				}
				t.Fatalf("coffer serve exited: %v\nstdout: %s\nstderr: %s", s.err, s.stdout.String(), s.stderr.String())
			default:
			}
			if res, err := s.client.Get(s.url + "/healthz"); err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					return s
				}
			}
		}
		t.Fatalf("coffer serve did not answer /healthz in 20s\nstderr: %s", s.stderr.String())
	retry:
	}
	t.Fatal("coffer serve found no free port")
	return nil
}

// folderState is every file of a folder with its size, mode, time and
// digest, and the folder's own time: equal states mean nothing was written.
func folderState(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		lines = append(lines, fmt.Sprintf("%s %d %v %s %s", e.Name(), fi.Size(), fi.Mode(), fi.ModTime().Format(time.RFC3339Nano), hex.EncodeToString(sum[:8])))
	}
	sort.Strings(lines)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n") + "\nfolder " + fi.ModTime().Format(time.RFC3339Nano)
}

// refused checks a command that must not start: exit 1, one line on stderr
// saying why (containing want), nothing on stdout, no server started.
func refused(t *testing.T, what string, want string, out, errOut string, code int) {
	t.Helper()
	line := strings.TrimSpace(errOut)
	if code != 1 || out != "" || strings.Count(line, "\n") != 0 || !strings.HasPrefix(line, "coffer: ") || !strings.Contains(line, want) {
		t.Errorf("%s: exit %d, want 1 with one line containing %q\nstdout: %q\nstderr: %q", what, code, want, out, errOut)
	}
	if strings.Contains(errOut, "coffer listening") {
		t.Errorf("%s: the server started listening before refusing", what)
	}
}

// wrongKeySays is what a command given a wrong COFFER_MASTER_KEY says:
// `keys rotate` refuses any COFFER_MASTER_KEY (that key rotates by hand).
func wrongKeySays(args []string) string {
	if args[0] == "keys" && args[1] == "rotate" {
		return "the KEK comes from COFFER_MASTER_KEY"
	}
	return "is wrong for this store"
}

// keyCommands are the commands that open a store; each must refuse a key
// that does not fit it.
func keyCommands(where ...string) [][]string {
	return [][]string{
		append([]string{"serve", "--addr", "127.0.0.1:0"}, where...),
		append([]string{"merchant", "create", "--name", "Nope", "--json"}, where...),
		append([]string{"merchant", "update", "--id", "mer_doesnotexist00000000000000", "--require-cvc-for-saved-cards", "true"}, where...),
		append([]string{"keys", "rotate"}, where...),
		append([]string{"keys", "rewrap"}, where...),
	}
}

// TestCLIWrongKeySQLite: on an existing SQLite folder, every command given
// the wrong master key — in COFFER_MASTER_KEY, in another key file, or with
// the development key file gone — exits 1 with a one-line reason before it
// writes anything (the folder's files are byte for byte and time for time
// the same) or listens; `keys rewrap` does not claim to have rewrapped 0.
// With the right key everything is still there. A running server whose
// store stops matching its keys is not ready.
func TestCLIWrongKeySQLite(t *testing.T) {
	bin := cliBuild(t)
	data := filepath.Join(t.TempDir(), "coffer-data")
	srv := cliServe(t, bin, data)
	dev := srv.devMerchant(t)
	tok := srv.tokenize(t, dev.SecretKey, "4242424242424242", "123")

	// /readyz says ready only while the store holds data the vault's keys
	// open: with its key-check value changed under it, it is not.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "coffer.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var kcv []byte
	if err := db.QueryRow(`SELECT check_value FROM kek_checks WHERE kek_version = 1`).Scan(&kcv); err != nil {
		t.Fatalf("no key-check value recorded: %v", err)
	}
	if st, body := srv.do(t, "GET", "/readyz", "", nil); st != 200 {
		t.Fatalf("/readyz: %d %s", st, body)
	}
	if _, err := db.Exec(`UPDATE kek_checks SET check_value = ? WHERE kek_version = 1`, bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	if st, body := srv.do(t, "GET", "/readyz", "", nil); st != 503 {
		t.Errorf("/readyz with keys that do not fit the store: %d %s, want 503", st, body)
	}
	if _, err := db.Exec(`UPDATE kek_checks SET check_value = ? WHERE kek_version = 1`, kcv); err != nil {
		t.Fatal(err)
	}
	if st, body := srv.do(t, "GET", "/readyz", "", nil); st != 200 {
		t.Errorf("/readyz after the value was put back: %d %s", st, body)
	}
	db.Close()
	srv.stop(t)

	before := folderState(t, data)
	otherFile := filepath.Join(t.TempDir(), "other.key")
	if out, errOut, code := cliRunEnv(t, bin, nil, "merchant", "create", "--name", "Elsewhere", "--data", filepath.Dir(otherFile)); code != 0 {
		t.Fatalf("making another folder's key file: %d %s %s", code, out, errOut)
	}
	if err := os.Rename(filepath.Join(filepath.Dir(otherFile), "master.key"), otherFile); err != nil {
		t.Fatal(err)
	}
	for _, args := range keyCommands("--data", data) {
		out, errOut, code := cliRunEnv(t, bin, []string{"COFFER_MASTER_KEY=" + newKey()}, args...)
		refused(t, "wrong COFFER_MASTER_KEY: coffer "+strings.Join(args[:2], " "), wrongKeySays(args), out, errOut, code)
		out, errOut, code = cliRunEnv(t, bin, nil, append(args, "--key-file", otherFile)...)
		refused(t, "wrong --key-file: coffer "+strings.Join(args[:2], " "), "is wrong for this store", out, errOut, code)
	}
	if after := folderState(t, data); after != before {
		t.Errorf("a refused command wrote to the data folder:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// The development key file gone: no new one is made for a folder that
	// holds a database.
	hidden := filepath.Join(t.TempDir(), "master.key")
	if err := os.Rename(filepath.Join(data, "master.key"), hidden); err != nil {
		t.Fatal(err)
	}
	missing := folderState(t, data)
	for _, args := range keyCommands("--data", data) {
		out, errOut, code := cliRunEnv(t, bin, nil, args...)
		refused(t, "missing key file: coffer "+strings.Join(args[:2], " "), "is missing", out, errOut, code)
	}
	if after := folderState(t, data); after != missing {
		t.Errorf("a refused command wrote to the data folder:\nbefore:\n%s\nafter:\n%s", missing, after)
	}
	if err := os.Rename(hidden, filepath.Join(data, "master.key")); err != nil {
		t.Fatal(err)
	}

	// The right key: everything is there, and no development merchant is
	// made again.
	srv = cliServe(t, bin, data)
	if strings.Contains(srv.stdout.String(), "Development merchant") {
		t.Errorf("a restart printed a development merchant: %s", srv.stdout.String())
	}
	srv.validate(t, dev.SecretKey, tok, "123")
	srv.stop(t)
	if out, errOut, code := cliRun(t, bin, "keys", "rewrap", "--data", data); code != 0 || !strings.Contains(out, "rewrapped 0 data keys") {
		t.Errorf("keys rewrap with the right key: %d %q %q", code, out, errOut)
	}
}

// TestCLIDevelopmentMerchantOnlyInDevelopment: a fresh SQLite folder with a
// master key of its own (production on SQLite) gets no development key file
// and no development merchant; its merchants come from `merchant create`.
func TestCLIDevelopmentMerchantOnlyInDevelopment(t *testing.T) {
	bin := cliBuild(t)
	data := filepath.Join(t.TempDir(), "coffer-data")
	env := []string{"COFFER_MASTER_KEY=" + newKey()}
	srv := serveEnv(t, bin, env, "--data", data)
	if out := srv.stdout.String(); strings.Contains(out, "Development merchant") || strings.Contains(out, "sk_") {
		t.Errorf("a store with its own master key printed a development merchant: %q", out)
	}
	if _, err := os.Stat(filepath.Join(data, "master.key")); err == nil {
		t.Errorf("a development key file was made although COFFER_MASTER_KEY is set")
	}
	out, errOut, code := cliRunEnv(t, bin, env, "merchant", "create", "--name", "Shop", "--data", data, "--json")
	if code != 0 || !strings.Contains(out, `"secret_key":"sk_`) {
		t.Fatalf("merchant create: %d %s %s", code, out, errOut)
	}
	srv.stop(t)
	srv = serveEnv(t, bin, env, "--data", data)
	if out := srv.stdout.String(); strings.Contains(out, "Development merchant") {
		t.Errorf("restart printed a development merchant: %q", out)
	}
	srv.stop(t)
}

// TestCLIPostgresKeys: PostgreSQL is production. Without a master key every
// command refuses (no development key file is made, no development merchant
// is printed); with one, the first command binds the store to it, and any
// other key — or a ring that lacks the version the data keys are wrapped
// under — is refused by every command, rewrap included, before it writes.
func TestCLIPostgresKeys(t *testing.T) {
	bin := cliBuild(t)
	url := pgtest.DSN(t)
	data := t.TempDir()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := func() string {
		t.Helper()
		var out []string
		for _, table := range []string{"merchants", "data_keys", "kek_checks", "tokens", "schema_migrations"} {
			var n int
			var sum sql.NullString
			if err := db.QueryRow(`SELECT COUNT(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM `+table+` t`).Scan(&n, &sum); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %d %s", table, n, sum.String))
		}
		return strings.Join(out, "; ")
	}

	for _, args := range keyCommands("--database-url", url, "--data", data) {
		out, errOut, code := cliRunEnv(t, bin, nil, args...)
		refused(t, "PostgreSQL without a key: coffer "+strings.Join(args[:2], " "), "PostgreSQL database needs COFFER_MASTER_KEY", out, errOut, code)
	}
	if ents, _ := os.ReadDir(data); len(ents) != 0 {
		t.Errorf("a refused command wrote to the data folder: %v", ents)
	}
	var tables int
	if err := db.QueryRow(`SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("a refused command created %d tables (%v)", tables, err)
	}

	k1 := newKey()
	env := []string{"COFFER_MASTER_KEY=" + k1}
	out, errOut, code := cliRunEnv(t, bin, env, "merchant", "create", "--name", "Shop", "--database-url", url, "--data", data, "--json")
	if code != 0 {
		t.Fatalf("merchant create: %d %s %s", code, out, errOut)
	}
	var shop cliCreds
	if err := jsonUnmarshal(out, &shop); err != nil {
		t.Fatal(err)
	}
	srv := serveEnv(t, bin, env, "--database-url", url, "--data", data)
	if o := srv.stdout.String(); strings.Contains(o, "Development merchant") || strings.Contains(o, "sk_") {
		t.Errorf("PostgreSQL printed a development merchant: %q", o)
	}
	if st, body := srv.do(t, "GET", "/readyz", "", nil); st != 200 {
		t.Errorf("/readyz: %d %s", st, body)
	}
	tok := srv.tokenize(t, shop.SecretKey, "5555555555554444", "321")
	srv.stop(t)

	before := rows()
	for _, bad := range []string{newKey(), "2:" + newKey()} {
		for _, args := range keyCommands("--database-url", url, "--data", data) {
			out, errOut, code := cliRunEnv(t, bin, []string{"COFFER_MASTER_KEY=" + bad}, args...)
			refused(t, "PostgreSQL, wrong key: coffer "+strings.Join(args[:2], " "), wrongKeySays(args), out, errOut, code)
		}
	}
	if after := rows(); after != before {
		t.Errorf("a refused command wrote to the database:\nbefore %s\nafter  %s", before, after)
	}

	// A rotation by COFFER_MASTER_KEY: add version 2, rewrap, retire 1.
	k2 := newKey()
	both := []string{"COFFER_MASTER_KEY=1:" + k1 + ",2:" + k2}
	out, errOut, code = cliRunEnv(t, bin, both, "keys", "rewrap", "--database-url", url, "--data", data)
	if code != 0 || !strings.Contains(out, "rewrapped 2 data keys") {
		t.Fatalf("keys rewrap to version 2: %d %q %q", code, out, errOut)
	}
	// Version 1 alone no longer opens anything: the data keys are under 2.
	out, errOut, code = cliRunEnv(t, bin, env, "keys", "rewrap", "--database-url", url, "--data", data)
	refused(t, "rewrap with only the retired version", "which the key ring does not hold", out, errOut, code)
	only2 := []string{"COFFER_MASTER_KEY=2:" + k2}
	srv = serveEnv(t, bin, only2, "--database-url", url, "--data", data)
	srv.validate(t, shop.SecretKey, tok, "")
	srv.stop(t)
	// Version 2 under the wrong key is refused even though no data key
	// disagrees with a check value of version 1.
	out, errOut, code = cliRunEnv(t, bin, []string{"COFFER_MASTER_KEY=1:" + k1 + ",2:" + newKey()}, "keys", "rewrap", "--database-url", url, "--data", data)
	refused(t, "rewrap with a wrong version 2", "is wrong for this store", out, errOut, code)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
