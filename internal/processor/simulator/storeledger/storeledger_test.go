package storeledger_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
	"github.com/coffer-vault/coffer/internal/processor/simulator/ledgertest"
	"github.com/coffer-vault/coffer/internal/processor/simulator/storeledger"
	"github.com/coffer-vault/coffer/internal/store/pgtest"
	"github.com/coffer-vault/coffer/internal/store/postgres"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

var ctx = context.Background()

func openSQLite(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSQLite runs the Ledger checks over the SQLite store: a restart closes the database and
// opens it again; one process is all that uses a SQLite file, so "another server" is the same.
func TestSQLite(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) ledgertest.Ledgers {
		dir := t.TempDir()
		st := openSQLite(t, dir)
		cur := simulator.Ledger(storeledger.New(st))
		return ledgertest.Ledgers{First: cur,
			Another: func() simulator.Ledger { return cur },
			Restart: func() simulator.Ledger {
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
				st = openSQLite(t, dir)
				cur = storeledger.New(st)
				return cur
			}}
	})
}

// TestPostgres runs the Ledger checks over PostgreSQL: another server is another connection pool
// on the same database, as another `coffer serve` has, and a restart closes every pool.
func TestPostgres(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) ledgertest.Ledgers {
		dsn := pgtest.DSN(t)
		var open []*postgres.Store
		conn := func() simulator.Ledger {
			s := openPostgres(t, dsn)
			open = append(open, s)
			return storeledger.New(s)
		}
		return ledgertest.Ledgers{First: conn(), Another: conn,
			Restart: func() simulator.Ledger {
				for _, s := range open {
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
				}
				open = nil
				return conn()
			}}
	})
}

// journal is an older version's simulator.journal: pay_1 captured and partly refunded, pay_2
// open, a decline.
const journal = `{"journal":"coffer-simulator","version":1,"created":"2026-05-17T09:00:00Z"}
{"op":"auth","merchant":"mer_1","reference":"pay_1","auth":"sim_auth_1","auth_code":"K3JQ7A","amount":1000,"currency":"MYR","avs_result":"unavailable","cvc_result":"pass"}
{"op":"capture","auth":"sim_auth_1","capture":"sim_cap_1","amount":800}
{"op":"refund","capture":"sim_cap_1","refund":"sim_ref_1","amount":300}
{"op":"auth","merchant":"mer_1","reference":"pay_2","auth":"sim_auth_2","auth_code":"Q2W3E4","amount":500,"currency":"MYR","avs_result":"pass","cvc_result":"pass"}
{"op":"auth","merchant":"mer_1","reference":"pay_3","amount":700,"currency":"MYR","avs_result":"unavailable","cvc_result":"pass","decline":{"code":"card_declined","decline_code":"lost_card","message":"Your card was declined."}}
`

// The upgrade, on both backends: the journal is imported into the store once, even by two
// instances starting on it together, and the store then answers for it.
func TestImportJournal(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		st := openSQLite(t, t.TempDir())
		l := storeledger.New(st)
		testImport(t, l, l)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		testImport(t, storeledger.New(openPostgres(t, dsn)), storeledger.New(openPostgres(t, dsn)))
	})
}

func testImport(t *testing.T, a, b simulator.Ledger) {
	path := filepath.Join(t.TempDir(), "simulator.journal")
	if err := os.WriteFile(path, []byte(journal), 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]simulator.Imported, 2)
	errs := make([]error, 2)
	for i, l := range []simulator.Ledger{a, b} {
		wg.Go(func() { got[i], errs[i] = simulator.ImportJournal(ctx, path, l) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := got[0].Authorizations + got[1].Authorizations; n != 3 || got[0].Refunds+got[1].Refunds != 1 {
		t.Errorf("imports %+v: %d authorizations in all, want 3 (once)", got, n)
	}
	if _, err := os.Stat(path + ".imported"); err != nil {
		t.Errorf("the journal was not renamed: %v", err)
	}
	s := simulator.OverLedger(b)
	if st := s.Stats(); st != (simulator.Stats{Authorizations: 3, Captures: 1, Refunds: 1}) {
		t.Errorf("stats = %+v", st)
	}
	p1, err := s.Lookup(ctx, "mer_1", "pay_1")
	if err != nil || p1.ID != "sim_auth_1" || p1.Captured != 800 || p1.Refunded != 300 || p1.CaptureID != "sim_cap_1" {
		t.Errorf("Lookup(pay_1) = %+v %v", p1, err)
	}
	var d *processor.Decline
	if _, err := s.Lookup(ctx, "mer_1", "pay_3"); !errors.As(err, &d) || d.DeclineCode != "lost_card" {
		t.Errorf("Lookup(pay_3) = %v", err)
	}
	if _, err := s.Refund(ctx, "sim_cap_1", 501, ""); !errors.Is(err, processor.ErrInvalidState) {
		t.Errorf("over-refund of the imported capture: %v", err)
	}
	if _, err := s.Capture(ctx, "sim_auth_2", 500); err != nil {
		t.Errorf("capture of the imported open authorization: %v", err)
	}
	// The same journal once more (a start that died before the rename): nothing doubles.
	if err := os.WriteFile(path, []byte(journal), 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := simulator.ImportJournal(ctx, path, a)
	if err != nil || !again.Already || again.Authorizations != 0 {
		t.Errorf("second import: %+v %v", again, err)
	}
	if st := s.Stats(); st != (simulator.Stats{Authorizations: 3, Captures: 2, Refunds: 1}) {
		t.Errorf("stats after the second import = %+v", st)
	}
}

// TestNoCardDataInStore runs every test card, with CVCs and a postal code, through every call
// over SQLite, then reads the ledger's rows and the database files' bytes for the PANs, their
// middle digits and the CVCs.
func TestNoCardDataInStore(t *testing.T) {
	dir := t.TempDir()
	st := openSQLite(t, dir)
	s := simulator.OverLedger(storeledger.New(st))
	const cvc, wrongCVC = "9818", "989"
	numbers := []string{simulator.CardSuccessVisa, simulator.CardSuccessMastercard, simulator.CardSuccessAmex, simulator.CardGenericDecline,
		simulator.CardInsufficientFunds, simulator.CardLostCard, simulator.CardExpiredCard, simulator.CardIncorrectCVC,
		simulator.CardProcessingError, simulator.CardThreeDSSuccess, simulator.CardThreeDSDecline, simulator.CardDeclineAfterVerify,
		simulator.CardAVSFail, "4111111111111111", "4242424242424241"}
	for i, n := range numbers {
		c := ledgertest.Card(n)
		c.CVC, c.PostalCode = cvc, "50450"
		s.Verify(ctx, processor.VerifyRequest{MerchantID: "m", Reference: fmt.Sprint("tok_", i), Card: c, Amount: 100, Currency: "USD"})
		if a, _, err := s.Sale(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: fmt.Sprint("pay_", i), Card: c, Amount: 1000, Currency: "USD"}); err == nil {
			if _, err := s.Refund(ctx, a.ID, 1, ""); !errors.Is(err, processor.ErrNotFound) {
				t.Errorf("refund of an authorization id: %v", err)
			}
		}
		a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: fmt.Sprint("auth_", i), Card: c, Amount: 1000, Currency: "USD"})
		if err == nil {
			cp, err := s.Capture(ctx, a.ID, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Refund(ctx, cp.ID, 400, "re"); err != nil {
				t.Fatal(err)
			}
		}
		c.CVC = wrongCVC
		s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "m", Reference: fmt.Sprint("wrong_", i), Card: c, Amount: 1000, Currency: "USD"})
	}
	rows := dumpRows(t, dir)
	if !strings.Contains(rows, "incorrect_cvc") || !strings.Contains(rows, "sim_ref_") {
		t.Fatalf("the ledger does not hold what the test did:\n%s", rows)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var files []byte
	for _, name := range []string{sqlite.FileName, sqlite.FileName + "-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		files = append(files, b...)
	}
	for _, n := range numbers {
		for _, needle := range []string{n, n[6 : len(n)-4]} {
			if strings.Contains(rows, needle) || bytes.Contains(files, []byte(needle)) {
				t.Errorf("the store holds %q of card %s", needle, n)
			}
		}
	}
	// The database file holds binary integers, where three given bytes could occur by chance:
	// the short CVC and the postal code are looked for in the rows as text. A short value is
	// looked for as a value of its own: ids are random letters and digits, where "989" or
	// "9818" can turn up by chance.
	for _, needle := range []string{cvc, wrongCVC, "50450", "Abu"} {
		if valueOfItsOwn(needle).MatchString(rows) {
			t.Errorf("the ledger's rows hold %q", needle)
		}
	}
	if valueOfItsOwn(cvc).Match(files) {
		t.Errorf("the database files hold the CVC %s", cvc)
	}
}

// valueOfItsOwn matches v not flanked by a letter or digit.
func valueOfItsOwn(v string) *regexp.Regexp {
	return regexp.MustCompile(`(^|[^0-9A-Za-z])` + regexp.QuoteMeta(v) + `($|[^0-9A-Za-z])`)
}

// dumpRows renders every column of every row of the ledger's tables as text, times left out.
func dumpRows(t *testing.T, dir string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out strings.Builder
	for _, q := range []string{
		`SELECT id, merchant_id, COALESCE(reference, ''), amount, currency, auth_code, avs_result, cvc_result, decline_code, decline_reason,
			decline_message, state, COALESCE(capture_id, ''), captured, refunded FROM sim_authorizations`,
		`SELECT id, authorization_id, capture_id, COALESCE(reference, ''), amount FROM sim_refunds`,
	} {
		rs, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rs.Columns()
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&out, vals...)
		}
		rs.Close()
	}
	return out.String()
}
