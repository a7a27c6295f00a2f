// Package wiretest runs Coffer's HTTP handler in memory for fuzz targets of
// request bodies: the real native API and dialects, composed as app
// composes them, over a real payment service and SQLite in a temporary
// folder, with the built-in simulator as acquirer, and no background work:
// no webhook or callback is ever delivered, so no fuzzed URL is ever
// dialled. Rows counts every table, so that a target can tell a refused
// request stored nothing.
package wiretest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/idempotency"
	"github.com/coffer-vault/coffer/internal/keys"
	"github.com/coffer-vault/coffer/internal/logging"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
	"github.com/coffer-vault/coffer/internal/vault"
)

// Server is the handler and the merchant it made.
type Server struct {
	Handler  http.Handler
	Merchant payment.Credentials
	Service  *payment.Service
	db       *sql.DB
	tables   []string
}

// New builds a server for tb; it is closed when tb ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	if _, err := keys.CreateFile(keyFile); err != nil {
		tb.Fatal(err)
	}
	kp, err := keys.FileProvider(keyFile)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	log := slog.New(logging.NewJSONHandler(io.Discard, nil))
	svc := payment.New(st, vault.New(kp), simulator.New(), log)
	svc.Configure(payment.Options{PublicURL: "http://127.0.0.1:1", TestMode: true})
	creds, err := svc.CreateMerchant(ctx, "Fuzz merchant", payment.DefaultSettings())
	if err != nil {
		tb.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	web, err := app.NewWeb(app.WebConfig{Service: svc, Ready: st, Keeper: idempotency.New(st), Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{Merchant: *creds, Service: svc, db: db, Handler: web.Handler}
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			tb.Fatal(err)
		}
		s.tables = append(s.tables, n)
	}
	return s
}

// Do sends one request; header is name, value pairs. A body is sent as
// application/json unless a Content-Type header is given.
func (s *Server) Do(method, path string, body []byte, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	s.Handler.ServeHTTP(w, r)
	return w
}

// JSON sends v marshalled.
func (s *Server) JSON(method, path string, v any, header ...string) *httptest.ResponseRecorder {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return s.Do(method, path, b, header...)
}

// Rows counts the rows of every table.
func (s *Server) Rows(tb testing.TB) map[string]int {
	tb.Helper()
	out := make(map[string]int, len(s.tables))
	for _, t := range s.tables {
		var n int
		if err := s.db.QueryRow(`SELECT COUNT(*) FROM "` + t + `"`).Scan(&n); err != nil {
			tb.Fatal(err)
		}
		out[t] = n
	}
	return out
}

// Same reports whether two row counts are equal.
func Same(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// LongRun returns the first run of at least 12 ASCII digits in b, or "":
// no error a client gets may hold one.
func LongRun(b []byte) string {
	n := 0
	for i, c := range b {
		if c >= '0' && c <= '9' {
			n++
			continue
		}
		if n >= 12 {
			return string(b[i-n : i])
		}
		n = 0
	}
	if n >= 12 {
		return string(b[len(b)-n:])
	}
	return ""
}

// Texts visits every key and string of a JSON value decoded by
// encoding/json (numbers as json.Number), with the path of each ("a.b[]":
// indexes elided), keys visited at the path of their object.
func Texts(v any, fn func(path, s string)) {
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case string:
			fn(path, x)
		case json.Number:
			fn(path, x.String())
		case []any:
			for _, e := range x {
				walk(e, path+"[]")
			}
		case map[string]any:
			for k, e := range x {
				fn(path, k)
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(e, p)
			}
		}
	}
	walk(v, "")
}

// Decode decodes a JSON body as encoding/json does, numbers as text; nil
// when it is not JSON.
func Decode(b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	return v
}
