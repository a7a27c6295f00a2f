package scaleout

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
)

// An upgrade from a version that kept the acquirer's ledger in a journal file loses nothing: at
// start the journal is moved into the store (and renamed aside), so a payment authorized before
// the upgrade is captured and refunded after it. The test makes that state from a payment of
// this version, by moving its authorization out of the store into a journal, as the older
// version would have held it; without the import its capture is refused (422).
func TestUpgradeImportsJournal(t *testing.T) {
	t.Parallel()
	harness.Backends(t, func(t *testing.T, opts ...harness.Option) {
		s := harness.Start(t, append(opts, builtIn)...)
		sk, merchant := s.Dev.SecretKey, s.Dev.ID
		pay := s.CreatePayment(sk, harness.CardPayment(simulator.CardSuccessVisa, 2500, "capture", false), "Idempotency-Key", "upgrade-1").Want(t, 201).Str("id")
		s.Stop()

		db := s.OpenDB(t)
		var id, ref, currency, code, avs, cvc string
		var amount int64
		if err := db.QueryRow(s.Rebind(`SELECT id, reference, currency, auth_code, avs_result, cvc_result, amount FROM sim_authorizations
			WHERE merchant_id = ? AND reference = ?`), merchant, pay).Scan(&id, &ref, &currency, &code, &avs, &cvc, &amount); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(s.Rebind(`DELETE FROM sim_authorizations WHERE id = ?`), id); err != nil {
			t.Fatal(err)
		}
		line, _ := json.Marshal(map[string]any{"op": "auth", "merchant": merchant, "reference": ref, "auth": id, "auth_code": code,
			"amount": amount, "currency": currency, "avs_result": avs, "cvc_result": cvc})
		journal := filepath.Join(s.DataDir, app.SimulatorJournal)
		content := `{"journal":"coffer-simulator","version":1,"created":"2026-05-17T09:00:00Z"}` + "\n" + string(line) + "\n"
		if err := os.WriteFile(journal, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}

		s = s.Restart(builtIn)
		if !strings.Contains(s.Logs.String(), "moved into the store") {
			t.Errorf("no log of the import:\n%s", s.Logs.String())
		}
		if _, err := os.Stat(journal); !os.IsNotExist(err) {
			t.Errorf("the journal is still in place: %v", err)
		}
		if b, err := os.ReadFile(journal + ".imported"); err != nil || string(b) != content {
			t.Errorf("the journal was not renamed as it was: %v", err)
		}
		c := s.Call("POST", "/v1/payments/"+pay+"/capture", sk, map[string]any{"amount": 2000}, "Idempotency-Key", "upgrade-cap").Want(t, 200)
		if c.Num("amount_captured") != 2000 {
			t.Fatalf("capture after the upgrade: %s", c.Raw)
		}
		s.Call("POST", "/v1/payments/"+pay+"/refunds", sk, map[string]any{"amount": 2000}, "Idempotency-Key", "upgrade-ref").Want(t, 201)
		// A further start finds nothing to import and changes nothing.
		s = s.Restart(builtIn)
		if r := s.Call("POST", "/v1/payments/"+pay+"/refunds", sk, map[string]any{"amount": 1}, "Idempotency-Key", "upgrade-ref-2"); r.Status < 400 {
			t.Errorf("refund beyond the capture after another start: %d %s", r.Status, r.Raw)
		}
		var n int
		if err := db.QueryRow(s.Rebind(`SELECT COUNT(*) FROM sim_authorizations WHERE merchant_id = ?`), merchant).Scan(&n); err != nil || n != 1 {
			t.Errorf("%d authorizations in the store (%v), want 1", n, err)
		}
	})
}
