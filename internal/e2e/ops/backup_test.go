package ops

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// loadPANs are the cards the load tokenizes (all approved by the simulator).
// Not 4242424242424242: a stored token row puts its last 4, BIN and mask
// side by side ("4242" "424242" "424242******4242"), which spells that
// number without it being stored.
var loadPANs = []string{"4000056655665556", "5555555555554444", "378282246310005", "4111111111111111"}

// newMasterKey is a COFFER_MASTER_KEY value and its raw bytes.
func newMasterKey(t *testing.T) (string, []byte) {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b), b
}

// tokenRec is one tokenization of the load: when it was sent and answered.
type tokenRec struct {
	id, bin, last4   string
	sent, answeredAt time.Time
}

// tokenizeLoad runs workers goroutines tokenizing loadPANs until stop
// closes (each bounded to 300 requests and 60 s); every answer must be a 201.
func tokenizeLoad(t *testing.T, s *server, sk string, workers int, stop <-chan struct{}) (wait func() []tokenRec, acked *atomic.Int32) {
	var mu sync.Mutex
	var recs []tokenRec
	var wg sync.WaitGroup
	acked = new(atomic.Int32)
	deadline := time.Now().Add(60 * time.Second)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300 && time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				pan := loadPANs[(w+i)%len(loadPANs)]
				sent := time.Now()
				st, body, err := s.call("POST", "/v1/tokens", sk, map[string]any{"card": harness.Card(pan)})
				if err != nil || st != 201 {
					t.Errorf("tokenize under load: %d %s %v", st, body, err)
					return
				}
				mu.Lock()
				recs = append(recs, tokenRec{id: harness.JSONField(body, "id"), bin: pan[:6], last4: pan[len(pan)-4:], sent: sent, answeredAt: time.Now()})
				mu.Unlock()
				acked.Add(1)
			}
		}()
	}
	return func() []tokenRec { wg.Wait(); return recs }, acked
}

// waitCount waits (bounded) until c reaches n.
func waitCount(t *testing.T, c *atomic.Int32, n int32, what string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); c.Load() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: only %d of %d within 30 s", what, c.Load(), n)
		}
	}
}

// tarNames lists the entries of a tar file.
func tarNames(t *testing.T, raw []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		} else if err != nil {
			t.Fatalf("backup is not a tar: %v", err)
		}
		names = append(names, h.Name)
	}
}

// noSecrets fails if raw holds any of the secrets or card numbers.
func noSecrets(t *testing.T, what string, raw []byte, secrets map[string][]byte) {
	t.Helper()
	for name, s := range secrets {
		if bytes.Contains(raw, s) {
			t.Errorf("%s contains %s", what, name)
		}
	}
	for _, pan := range loadPANs {
		if bytes.Contains(raw, []byte(pan)) {
			t.Errorf("%s contains a card number in clear (%s…)", what, pan[:6])
		}
	}
}

// TestBackupUnderLoad backs up the built binary's SQLite store while four
// clients tokenize, restores it into a new folder, serves it with the same
// master key and finds every token acknowledged before the backup began —
// and none sent after it ended. The backup holds no key and no card number.
func TestBackupUnderLoad(t *testing.T) {
	t.Parallel()
	dir := harness.TempDir(t)
	data, file := filepath.Join(dir, "data"), filepath.Join(dir, "coffer.backup")
	mk, mkRaw := newMasterKey(t)
	env := []string{"COFFER_MASTER_KEY=" + mk}
	out, errOut, code := run(t, env, "merchant", "create", "--name", "Backup", "--json", "--data", data)
	var creds harness.Creds
	if code != 0 || json.Unmarshal([]byte(out), &creds) != nil || creds.SecretKey == "" {
		t.Fatalf("merchant create: exit %d %s %s", code, out, errOut)
	}
	s := serve(t, env, "http", &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}, "--data", data)

	stop := make(chan struct{})
	wait, acked := tokenizeLoad(t, s, creds.SecretKey, 4, stop)
	waitCount(t, acked, 20, "tokens before the backup")
	backupStart := time.Now()
	bout, berr, bcode := run(t, nil, "backup", "--data", data, "--out", file)
	backupEnd := time.Now()
	waitCount(t, acked, acked.Load()+8, "tokens after the backup")
	close(stop)
	recs := wait()
	s.stop(t)
	if bcode != 0 || !strings.Contains(bout, "backup written to "+file) || !strings.Contains(bout, "version(s) [1]") {
		t.Fatalf("coffer backup: exit %d\nstdout: %s\nstderr: %s", bcode, bout, berr)
	}

	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	// The test acquirer's ledger lives in the database: no journal file.
	if got := tarNames(t, raw); !slices.Equal(got, []string{"manifest.json", "coffer.db"}) {
		t.Errorf("backup entries %v", got)
	}
	noSecrets(t, "the backup", raw, map[string][]byte{"the master key (base64)": []byte(mk), "the master key (raw)": mkRaw})

	restored := filepath.Join(dir, "restored")
	rout, rerr, rcode := run(t, env, "restore", "--data", restored, "--from", file)
	if rcode != 0 || !strings.Contains(rout, "key check: passed") || !strings.Contains(rout, "version(s) [1]") {
		t.Fatalf("coffer restore: exit %d\nstdout: %s\nstderr: %s", rcode, rout, rerr)
	}
	var files []string
	entries, _ := os.ReadDir(restored)
	for _, e := range entries {
		files = append(files, e.Name())
	}
	if !slices.Equal(files, []string{"coffer.db"}) {
		t.Errorf("restored folder holds %v", files)
	}

	s2 := serve(t, env, "http", &http.Client{Timeout: 30 * time.Second}, "--data", restored)
	var before, after int
	for _, r := range recs {
		st, body, err := s2.call("GET", "/v1/tokens/"+r.id, creds.SecretKey, nil)
		switch {
		case err != nil:
			t.Fatalf("GET token: %v", err)
		case r.answeredAt.Before(backupStart):
			before++
			c := decode(body)
			if st != 200 || harness.Str(c, "card", "bin") != r.bin || harness.Str(c, "card", "last4") != r.last4 {
				t.Errorf("token %s acknowledged before the backup: %d %s", r.id, st, body)
			}
		case r.sent.After(backupEnd):
			after++
			if st != 404 {
				t.Errorf("token %s sent after the backup ended is in it: %d", r.id, st)
			}
		}
	}
	t.Logf("%d tokens acknowledged before the backup, %d sent after it, %d during", before, after, len(recs)-before-after)
	if before < 20 || after < 1 {
		t.Fatalf("load too thin to judge: %d before, %d after", before, after)
	}
	// The sealed card opens under the same key after the restore.
	st, body, err := s2.call("POST", "/v1/tokens/"+recs[0].id+"/validate", creds.SecretKey, map[string]any{"cvc": harness.Card(recs[0].bin)["cvc"]})
	if err != nil || st != 200 || decode(body)["valid"] != true {
		t.Errorf("validate a restored token: %d %s %v", st, body, err)
	}
	s2.stop(t)

	restoreRefusals(t, dir, file, env)
	backupRefusals(t, dir, data)
}

// restoreRefusals: restore refuses a non-empty folder, a wrong key, a
// damaged file and a file that is no backup, leaving no folder behind; with
// no key it restores and says which key version the data needs.
func restoreRefusals(t *testing.T, dir, file string, env []string) {
	t.Helper()
	absent := func(what, p string) {
		t.Helper()
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s: %s was created", what, p)
		}
	}
	full := filepath.Join(dir, "restored")
	if _, errOut, code := run(t, env, "restore", "--data", full, "--from", file); code != 1 || !strings.Contains(errOut, "not empty") {
		t.Errorf("restore into a non-empty folder: exit %d %s", code, errOut)
	}
	wrong, _ := newMasterKey(t)
	p := filepath.Join(dir, "wrong-key")
	if _, errOut, code := run(t, []string{"COFFER_MASTER_KEY=" + wrong}, "restore", "--data", p, "--from", file); code != 1 ||
		!strings.Contains(errOut, "nothing restored") || !strings.Contains(errOut, "version(s) [1]") {
		t.Errorf("restore with a wrong key: exit %d %s", code, errOut)
	}
	absent("wrong key", p)

	raw, _ := os.ReadFile(file)
	damaged := bytes.Clone(raw)
	damaged[len(damaged)/2] ^= 0xff
	bad := filepath.Join(dir, "damaged.backup")
	os.WriteFile(bad, damaged, 0o600)
	p = filepath.Join(dir, "from-damaged")
	if _, errOut, code := run(t, env, "restore", "--data", p, "--from", bad); code != 1 || !strings.Contains(errOut, "damaged") {
		t.Errorf("restore of a damaged backup: exit %d %s", code, errOut)
	}
	absent("damaged backup", p)
	p = filepath.Join(dir, "from-not-a-backup")
	if _, errOut, code := run(t, env, "restore", "--data", p, "--from", filepath.Join(dir, "restored", "coffer.db")); code != 1 ||
		!strings.Contains(errOut, "not a Coffer backup") {
		t.Errorf("restore of a database file: exit %d %s", code, errOut)
	}
	absent("not a backup", p)

	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o700)
	out, errOut, code := run(t, nil, "restore", "--data", empty, "--from", file)
	if code != 0 || !strings.Contains(out, "key check: not done") || !strings.Contains(out, "needs master key (KEK) version(s) [1]; key-check ids: v1 ") {
		t.Errorf("restore without a key into an empty folder: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := run(t, nil, "restore", "--data", filepath.Join(dir, "x")); code != 2 {
		t.Errorf("restore without --from: exit %d %s", code, errOut)
	}
}

// backupRefusals: backup refuses an output inside the data folder and an
// existing file that is not a backup (left untouched), and wants --out.
func backupRefusals(t *testing.T, dir, data string) {
	t.Helper()
	if _, errOut, code := run(t, nil, "backup", "--data", data, "--out", filepath.Join(data, "b.backup")); code != 1 || !strings.Contains(errOut, "inside the data folder") {
		t.Errorf("backup into the data folder: exit %d %s", code, errOut)
	}
	precious := filepath.Join(dir, "precious.txt")
	os.WriteFile(precious, []byte("keep me\n"), 0o600)
	if _, errOut, code := run(t, nil, "backup", "--data", data, "--out", precious); code != 1 || !strings.Contains(errOut, "not a Coffer backup") {
		t.Errorf("backup over a file that is not a backup: exit %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(precious); string(b) != "keep me\n" {
		t.Error("backup replaced a file that was not a backup")
	}
	if _, errOut, code := run(t, nil, "backup", "--data", data); code != 2 || !strings.Contains(errOut, "--out") {
		t.Errorf("backup without --out: exit %d %s", code, errOut)
	}
	if _, errOut, code := run(t, nil, "backup", "--data", filepath.Join(dir, "nothing-here"), "--out", filepath.Join(dir, "n.backup")); code != 1 ||
		!strings.Contains(errOut, "no SQLite database") {
		t.Errorf("backup of a folder without a database: exit %d %s", code, errOut)
	}
}

// TestBackupDevelopmentKeyFile: the development set-up's key file lives in
// the data folder but never goes into the backup; backup says so, and the
// backup restores and serves with that key file given explicitly.
func TestBackupDevelopmentKeyFile(t *testing.T) {
	t.Parallel()
	dir := harness.TempDir(t)
	data, file := filepath.Join(dir, "data"), filepath.Join(dir, "dev.backup")
	s := serve(t, nil, "http", &http.Client{Timeout: 30 * time.Second}, "--data", data)
	sk := s.devMerchant(t)
	st, body, err := s.call("POST", "/v1/tokens", sk, map[string]any{"card": harness.Card("5555555555554444")})
	if err != nil || st != 201 {
		t.Fatalf("tokenize: %d %s %v", st, body, err)
	}
	tok := harness.JSONField(body, "id")
	out, errOut, code := run(t, nil, "backup", "--data", data, "--out", file)
	s.stop(t)
	if code != 0 || !strings.Contains(out, "DEVELOPMENT key file "+filepath.Join(data, "master.key")) {
		t.Fatalf("backup of a development set-up: exit %d\n%s\n%s", code, out, errOut)
	}
	var kf struct {
		Keys []struct{ Key string } `json:"keys"`
	}
	kb, _ := os.ReadFile(filepath.Join(data, "master.key"))
	if err := json.Unmarshal(kb, &kf); err != nil || len(kf.Keys) != 1 {
		t.Fatalf("master.key: %v %s", err, kb)
	}
	keyRaw, _ := base64.StdEncoding.DecodeString(kf.Keys[0].Key)
	raw, _ := os.ReadFile(file)
	noSecrets(t, "the backup", raw, map[string][]byte{"the key file": kb, "the key (base64)": []byte(kf.Keys[0].Key), "the key (raw)": keyRaw})
	if got := tarNames(t, raw); slices.Contains(got, "master.key") {
		t.Errorf("backup entries %v", got)
	}

	restored := filepath.Join(dir, "restored")
	keyFile := filepath.Join(data, "master.key")
	if out, errOut, code := run(t, nil, "restore", "--data", restored, "--from", file, "--key-file", keyFile); code != 0 ||
		!strings.Contains(out, "key check: passed (key file "+keyFile) {
		t.Fatalf("restore with the key file: exit %d\n%s\n%s", code, out, errOut)
	}
	s2 := serve(t, nil, "http", &http.Client{Timeout: 30 * time.Second}, "--data", restored, "--key-file", keyFile)
	if st, body, err := s2.call("GET", "/v1/tokens/"+tok, sk, nil); err != nil || st != 200 {
		t.Errorf("restored token: %d %s %v", st, body, err)
	}
	s2.stop(t)
}
