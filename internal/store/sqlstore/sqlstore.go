// Package sqlstore implements store.Tx once, in portable SQL over
// database/sql, for every SQL backend. Backends supply the connection
// handling (and group commit) and a Dialect for the few differences.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/vault"
)

// Dialect is what differs between SQL backends.
type Dialect struct {
	// Positional reports whether placeholders are $1, $2… rather than ?.
	Positional bool
	// IsUniqueViolation recognises the backend's unique-constraint error.
	IsUniqueViolation func(error) bool
	// EventSeqSequence numbers events from the database sequence
	// event_seq (increasing per merchant, with gaps) instead of the
	// merchant's MAX(seq)+1: under SERIALIZABLE isolation that read makes
	// every two concurrent writers of one merchant conflict.
	EventSeqSequence bool
}

// Querier is satisfied by *sql.Tx and *sql.Conn.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Tx adapts a Querier to store.Tx.
type Tx struct {
	ctx   context.Context
	q     Querier
	d     *Dialect
	tx    *sql.Tx
	stmts *Stmts
}

// NewTx wraps q, valid for the life of the transaction it belongs to.
func NewTx(ctx context.Context, q Querier, d *Dialect) *Tx { return &Tx{ctx: ctx, q: q, d: d} }

// NewCachedTx wraps a transaction whose statements come from a cache of
// prepared statements: parsing SQL on every call costs more CPU than running
// the small queries a request makes.
func NewCachedTx(ctx context.Context, tx *sql.Tx, d *Dialect, stmts *Stmts) *Tx {
	return &Tx{ctx: ctx, q: tx, d: d, tx: tx, stmts: stmts}
}

// Stmts caches prepared statements of one *sql.DB by query text. The set of
// queries is fixed by this package, so the cache is bounded.
//
// Preparing needs a free connection, and inside a transaction there may be
// none (the SQLite writer has exactly one, and it is in the transaction). So
// a miss runs the query unprepared and queues it; PrepareQueued, called when
// the caller holds no connection, prepares the queue.
type Stmts struct {
	db *sql.DB
	m  sync.Map // query → *sql.Stmt

	mu     sync.Mutex
	queued map[string]bool
}

// NewStmts returns an empty cache for db.
func NewStmts(db *sql.DB) *Stmts { return &Stmts{db: db, queued: map[string]bool{}} }

// lookup returns the prepared statement, or nil after queueing the query.
func (c *Stmts) lookup(query string) *sql.Stmt {
	if v, ok := c.m.Load(query); ok {
		return v.(*sql.Stmt)
	}
	c.mu.Lock()
	c.queued[query] = true
	c.mu.Unlock()
	return nil
}

// PrepareQueued prepares the queries that missed. Call it only while holding
// no connection of the pool. A query that fails to prepare is dropped: it
// keeps running unprepared and reports its own error there.
func (c *Stmts) PrepareQueued(ctx context.Context) {
	c.mu.Lock()
	if len(c.queued) == 0 {
		c.mu.Unlock()
		return
	}
	qs := make([]string, 0, len(c.queued))
	for q := range c.queued {
		qs = append(qs, q)
	}
	clear(c.queued)
	c.mu.Unlock()
	for _, q := range qs {
		if _, ok := c.m.Load(q); ok {
			continue
		}
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		if _, loaded := c.m.LoadOrStore(q, st); loaded {
			st.Close()
		}
	}
}

// Len reports how many statements are prepared and how many wait to be.
func (c *Stmts) Len() (prepared, queued int) {
	c.m.Range(func(any, any) bool { prepared++; return true })
	c.mu.Lock()
	queued = len(c.queued)
	c.mu.Unlock()
	return prepared, queued
}

// Close closes every cached statement.
func (c *Stmts) Close() {
	c.m.Range(func(k, v any) bool {
		v.(*sql.Stmt).Close()
		c.m.Delete(k)
		return true
	})
}

// stmt returns the transaction-bound prepared statement for q, or nil when
// this Tx does not cache.
func (t *Tx) stmt(q string) (*sql.Stmt, error) {
	if t.stmts == nil {
		return nil, nil
	}
	st := t.stmts.lookup(q)
	if st == nil {
		return nil, nil
	}
	// A statement prepared on the pool is reused on this transaction's
	// connection (database/sql prepares it there once, then keeps it).
	return t.tx.StmtContext(t.ctx, st), nil
}

// Exec runs a statement without arguments through the cache (savepoints).
func (t *Tx) Exec(q string) error {
	_, err := t.exec(q)
	return err
}

var _ store.Tx = (*Tx)(nil)

// rebind rewrites ? placeholders as $n for positional dialects.
func (t *Tx) rebind(q string) string {
	if !t.d.Positional {
		return q
	}
	return Rebind(q)
}

// Rebind rewrites ? placeholders as $1, $2…. Queries here never contain a
// literal '?', so a plain scan is safe.
func Rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (t *Tx) exec(q string, args ...any) (sql.Result, error) {
	q = t.rebind(q)
	var res sql.Result
	st, err := t.stmt(q)
	switch {
	case err != nil:
	case st != nil:
		res, err = st.ExecContext(t.ctx, args...)
	default:
		res, err = t.q.ExecContext(t.ctx, q, args...)
	}
	if err != nil && t.d.IsUniqueViolation != nil && t.d.IsUniqueViolation(err) {
		return nil, fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	return res, err
}

// row runs a single-row query through the statement cache when there is one.
func (t *Tx) row(q string, args ...any) *sql.Row {
	q = t.rebind(q)
	if st, _ := t.stmt(q); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.q.QueryRowContext(t.ctx, q, args...)
}

func (t *Tx) rows(q string, args ...any) (*sql.Rows, error) {
	q = t.rebind(q)
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	if st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.q.QueryContext(t.ctx, q, args...)
}

// Times are stored as Unix microseconds: portable, compact and sortable.
func ts(t time.Time) int64 { return t.UnixMicro() }

func fromTS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromNullTS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromTS(v.Int64)
	return &t
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs and maps are stored; failure is a programming error
	}
	return string(b)
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

func affected(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// collect scans every row of a query's result.
func collect[T any](rs *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []T
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}

// page returns one newest-first page of a merchant's rows of table matching
// cond. The cursor is the id of the previous page's last row: its (created,
// id) position continues the order, so inserts never shift a page.
func page[T any](t *Tx, table, cols, cond string, args []any, merchantID, after string, limit int, scan func(scanner) (T, error)) ([]T, bool, error) {
	q := `SELECT ` + cols + ` FROM ` + table + ` WHERE merchant_id = ?` + cond
	args = append([]any{merchantID}, args...)
	if after != "" {
		var c int64
		if err := t.row(`SELECT created FROM `+table+` WHERE merchant_id = ? AND id = ?`, merchantID, after).Scan(&c); err != nil {
			return nil, false, notFound(err)
		}
		q += ` AND (created < ? OR (created = ? AND id < ?))`
		args = append(args, c, c, after)
	}
	q += ` ORDER BY created DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	rs, err := t.rows(q, args...)
	out, err := collect(rs, err, scan)
	if err != nil {
		return nil, false, err
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// ---- merchants

func (t *Tx) InsertMerchant(m *store.Merchant) error {
	_, err := t.exec(`INSERT INTO merchants (id, name, secret_key_hash, publishable_key, hmac_secret_ct, settings, created)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, m.ID, m.Name, m.SecretKeyHash, m.PublishableKey, m.HMACSecretCT, mustJSON(m.Settings), ts(m.Created))
	return err
}

const merchantCols = `id, name, secret_key_hash, publishable_key, hmac_secret_ct, settings, created`

func scanMerchant(r *sql.Row) (*store.Merchant, error) {
	var m store.Merchant
	var settings string
	var created int64
	if err := r.Scan(&m.ID, &m.Name, &m.SecretKeyHash, &m.PublishableKey, &m.HMACSecretCT, &settings, &created); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(settings), &m.Settings); err != nil {
		return nil, fmt.Errorf("store: merchant %s settings: %w", m.ID, err)
	}
	m.Created = fromTS(created)
	return &m, nil
}

func (t *Tx) GetMerchant(id string) (*store.Merchant, error) {
	return scanMerchant(t.row(`SELECT `+merchantCols+` FROM merchants WHERE id = ?`, id))
}

func (t *Tx) GetMerchantBySecretHash(hash []byte) (*store.Merchant, error) {
	return scanMerchant(t.row(`SELECT `+merchantCols+` FROM merchants WHERE secret_key_hash = ?`, hash))
}

func (t *Tx) UpdateMerchantSettings(id string, s store.Settings) error {
	res, err := t.exec(`UPDATE merchants SET settings = ? WHERE id = ?`, mustJSON(s), id)
	if err != nil {
		return err
	}
	return affected(res)
}

func (t *Tx) CountMerchants() (int, error) {
	var n int
	err := t.row(`SELECT COUNT(*) FROM merchants`).Scan(&n)
	return n, err
}

// ---- data keys

func (t *Tx) InsertDataKey(dk vault.DataKey) error {
	_, err := t.exec(`INSERT INTO data_keys (id, merchant_id, purpose, kek_version, wrapped, created) VALUES (?, ?, ?, ?, ?, ?)`,
		dk.ID, dk.MerchantID, dk.Purpose, int64(dk.KEKVersion), dk.Wrapped, ts(dk.Created))
	return err
}

const dataKeyCols = `id, merchant_id, purpose, kek_version, wrapped, created`

func scanDataKey(sc scanner) (vault.DataKey, error) {
	var dk vault.DataKey
	var ver, created int64
	if err := sc.Scan(&dk.ID, &dk.MerchantID, &dk.Purpose, &ver, &dk.Wrapped, &created); err != nil {
		return dk, notFound(err)
	}
	dk.KEKVersion, dk.Created = uint32(ver), fromTS(created)
	return dk, nil
}

func (t *Tx) GetDataKey(id string) (vault.DataKey, error) {
	return scanDataKey(t.row(`SELECT `+dataKeyCols+` FROM data_keys WHERE id = ?`, id))
}

func (t *Tx) ActiveDataKey(merchantID, purpose string) (vault.DataKey, error) {
	return scanDataKey(t.row(`SELECT `+dataKeyCols+` FROM data_keys WHERE merchant_id = ? AND purpose = ?
		ORDER BY created DESC, id DESC LIMIT 1`, merchantID, purpose))
}

func (t *Tx) ListDataKeys(afterID string, limit int) ([]vault.DataKey, error) {
	rs, err := t.rows(`SELECT `+dataKeyCols+` FROM data_keys WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	return collect(rs, err, scanDataKey)
}

func (t *Tx) UpdateDataKeyWrap(id string, kekVersion uint32, wrapped []byte) error {
	res, err := t.exec(`UPDATE data_keys SET kek_version = ?, wrapped = ? WHERE id = ?`, int64(kekVersion), wrapped, id)
	if err != nil {
		return err
	}
	return affected(res)
}

// ---- customers

func (t *Tx) InsertCustomer(c *store.Customer) error {
	_, err := t.exec(`INSERT INTO customers (id, merchant_id, reference, name, email, phone, metadata, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, c.MerchantID, nullStr(c.Reference), c.Name, c.Email, c.Phone, mustJSON(orEmpty(c.Metadata)), ts(c.Created))
	return err
}

const customerCols = `id, merchant_id, reference, name, email, phone, metadata, created, deleted_at`

func scanCustomer(r *sql.Row) (*store.Customer, error) {
	var c store.Customer
	var ref sql.NullString
	var md string
	var created int64
	var deleted sql.NullInt64
	if err := r.Scan(&c.ID, &c.MerchantID, &ref, &c.Name, &c.Email, &c.Phone, &md, &created, &deleted); err != nil {
		return nil, notFound(err)
	}
	c.Reference = ref.String
	if err := json.Unmarshal([]byte(md), &c.Metadata); err != nil {
		return nil, err
	}
	c.Created, c.Deleted = fromTS(created), fromNullTS(deleted)
	return &c, nil
}

func (t *Tx) GetCustomer(merchantID, id string) (*store.Customer, error) {
	return scanCustomer(t.row(`SELECT `+customerCols+` FROM customers WHERE merchant_id = ? AND id = ? AND deleted_at IS NULL`, merchantID, id))
}

func (t *Tx) GetCustomerByReference(merchantID, reference string) (*store.Customer, error) {
	return scanCustomer(t.row(`SELECT `+customerCols+` FROM customers WHERE merchant_id = ? AND reference = ? AND deleted_at IS NULL`, merchantID, reference))
}

func (t *Tx) MarkCustomerDeleted(merchantID, id string, at time.Time) error {
	res, err := t.exec(`UPDATE customers SET deleted_at = ?, name = '', email = '', phone = '', metadata = '{}'
		WHERE merchant_id = ? AND id = ? AND deleted_at IS NULL`, ts(at), merchantID, id)
	if err != nil {
		return err
	}
	return affected(res)
}

// ---- tokens

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (t *Tx) InsertToken(k *store.Token) error {
	_, err := t.exec(`INSERT INTO tokens (id, merchant_id, customer_id, status, brand, bin, last4, mask, exp_month, exp_year,
		holder_name, fingerprint, card_ct, verification, metadata, challenge_id, created, updated, deleted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.MerchantID, nullStr(k.CustomerID), k.Status, k.Brand, k.BIN, k.Last4, k.Mask, k.ExpMonth, k.ExpYear,
		k.HolderName, k.Fingerprint, k.CardCT, mustJSON(k.Verification), mustJSON(orEmpty(k.Metadata)), k.ChallengeID,
		ts(k.Created), ts(k.Updated), nullTS(k.Deleted))
	return err
}

const tokenCols = `id, merchant_id, customer_id, status, brand, bin, last4, mask, exp_month, exp_year,
	holder_name, fingerprint, card_ct, verification, metadata, challenge_id, created, updated, deleted_at`

func scanToken(sc scanner) (*store.Token, error) {
	var k store.Token
	var cust sql.NullString
	var ver, md string
	var created, updated int64
	var deleted sql.NullInt64
	if err := sc.Scan(&k.ID, &k.MerchantID, &cust, &k.Status, &k.Brand, &k.BIN, &k.Last4, &k.Mask, &k.ExpMonth, &k.ExpYear,
		&k.HolderName, &k.Fingerprint, &k.CardCT, &ver, &md, &k.ChallengeID, &created, &updated, &deleted); err != nil {
		return nil, notFound(err)
	}
	k.CustomerID = cust.String
	if err := json.Unmarshal([]byte(ver), &k.Verification); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(md), &k.Metadata); err != nil {
		return nil, err
	}
	k.Created, k.Updated, k.Deleted = fromTS(created), fromTS(updated), fromNullTS(deleted)
	return &k, nil
}

func (t *Tx) GetToken(merchantID, id string) (*store.Token, error) {
	return scanToken(t.row(`SELECT `+tokenCols+` FROM tokens WHERE merchant_id = ? AND id = ? AND deleted_at IS NULL`, merchantID, id))
}

func (t *Tx) FindTokenByFingerprint(merchantID, customerID, fingerprint string) (*store.Token, error) {
	return scanToken(t.row(`SELECT `+tokenCols+` FROM tokens WHERE merchant_id = ? AND customer_id = ? AND fingerprint = ?
		AND deleted_at IS NULL AND status <> 'failed' ORDER BY created DESC LIMIT 1`, merchantID, customerID, fingerprint))
}

func (t *Tx) UpdateToken(k *store.Token) error {
	res, err := t.exec(`UPDATE tokens SET status = ?, exp_month = ?, exp_year = ?, holder_name = ?, card_ct = ?, verification = ?,
		metadata = ?, challenge_id = ?, updated = ?, deleted_at = ? WHERE merchant_id = ? AND id = ?`,
		k.Status, k.ExpMonth, k.ExpYear, k.HolderName, k.CardCT, mustJSON(k.Verification), mustJSON(orEmpty(k.Metadata)),
		k.ChallengeID, ts(k.Updated), nullTS(k.Deleted), k.MerchantID, k.ID)
	if err != nil {
		return err
	}
	return affected(res)
}

// ListTokens returns a page of tokens, newest first.
func (t *Tx) ListTokens(merchantID string, f store.TokenFilter) ([]*store.Token, bool, error) {
	cond, args := "", []any{}
	if !f.IncludeGone {
		cond += ` AND deleted_at IS NULL`
	}
	if f.CustomerID != "" {
		cond += ` AND customer_id = ?`
		args = append(args, f.CustomerID)
	}
	return page(t, "tokens", tokenCols, cond, args, merchantID, f.StartingAfter, f.Limit, scanToken)
}

func (t *Tx) EraseCustomerTokens(merchantID, customerID string, at time.Time) (int, error) {
	res, err := t.exec(`UPDATE tokens SET status = 'deleted', card_ct = NULL, updated = ?, deleted_at = ?
		WHERE merchant_id = ? AND customer_id = ? AND deleted_at IS NULL`, ts(at), ts(at), merchantID, customerID)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ---- idempotency

func (t *Tx) GetIdempotency(merchantID, key string) (*store.Idempotency, error) {
	var r store.Idempotency
	var created, locked int64
	err := t.row(`SELECT merchant_id, idem_key, request_hash, state, status_code, response, created, locked_until, owner
		FROM idempotency_keys WHERE merchant_id = ? AND idem_key = ?`, merchantID, key).
		Scan(&r.MerchantID, &r.Key, &r.RequestHash, &r.State, &r.StatusCode, &r.Response, &created, &locked, &r.Owner)
	if err != nil {
		return nil, notFound(err)
	}
	r.Created, r.LockedUntil = fromTS(created), fromTS(locked)
	return &r, nil
}

func (t *Tx) InsertIdempotency(r *store.Idempotency) error {
	_, err := t.exec(`INSERT INTO idempotency_keys (merchant_id, idem_key, request_hash, state, status_code, response, created, locked_until, owner)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.MerchantID, r.Key, r.RequestHash, r.State, r.StatusCode, r.Response, ts(r.Created), ts(r.LockedUntil), r.Owner)
	return err
}

func (t *Tx) UpdateIdempotency(r *store.Idempotency) error {
	res, err := t.exec(`UPDATE idempotency_keys SET state = ?, status_code = ?, response = ?, locked_until = ?, owner = ?
		WHERE merchant_id = ? AND idem_key = ?`, r.State, r.StatusCode, r.Response, ts(r.LockedUntil), r.Owner, r.MerchantID, r.Key)
	if err != nil {
		return err
	}
	return affected(res)
}

func (t *Tx) DeleteIdempotency(merchantID, key string) error {
	_, err := t.exec(`DELETE FROM idempotency_keys WHERE merchant_id = ? AND idem_key = ?`, merchantID, key)
	return err
}

func (t *Tx) DeleteIdempotencyBefore(before time.Time) (int, error) {
	res, err := t.exec(`DELETE FROM idempotency_keys WHERE created < ?`, ts(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *Tx) EndIdempotencyLeases() (int, error) {
	res, err := t.exec(`UPDATE idempotency_keys SET locked_until = 0 WHERE state = 'started' AND locked_until > 0`)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ---- instances

func (t *Tx) BeatInstance(i *store.Instance) error {
	_, err := t.exec(`INSERT INTO instances (id, started, beat) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET beat = excluded.beat`, i.ID, ts(i.Started), ts(i.Beat))
	return err
}

func (t *Tx) GetInstance(id string) (*store.Instance, error) {
	var i store.Instance
	var started, beat int64
	if err := t.row(`SELECT id, started, beat FROM instances WHERE id = ?`, id).Scan(&i.ID, &started, &beat); err != nil {
		return nil, notFound(err)
	}
	i.Started, i.Beat = fromTS(started), fromTS(beat)
	return &i, nil
}

func (t *Tx) DeleteInstance(id string) error {
	_, err := t.exec(`DELETE FROM instances WHERE id = ?`, id)
	return err
}

func (t *Tx) DeleteInstancesBefore(before time.Time) (int, error) {
	res, err := t.exec(`DELETE FROM instances WHERE beat < ?`, ts(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ---- audit

func (t *Tx) InsertAudit(a *store.Audit) error {
	_, err := t.exec(`INSERT INTO audit_log (id, merchant_id, action, object_id, purpose, request_id, created) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.MerchantID, a.Action, a.ObjectID, a.Purpose, a.RequestID, ts(a.Created))
	return err
}

func (t *Tx) ListAudit(merchantID, objectID string) ([]*store.Audit, error) {
	rs, err := t.rows(`SELECT id, merchant_id, action, object_id, purpose, request_id, created FROM audit_log
		WHERE merchant_id = ? AND object_id = ? ORDER BY created, id`, merchantID, objectID)
	return collect(rs, err, func(sc scanner) (*store.Audit, error) {
		var a store.Audit
		var created int64
		if err := sc.Scan(&a.ID, &a.MerchantID, &a.Action, &a.ObjectID, &a.Purpose, &a.RequestID, &created); err != nil {
			return nil, err
		}
		a.Created = fromTS(created)
		return &a, nil
	})
}

func (t *Tx) GetTokenAny(merchantID, id string) (*store.Token, error) {
	return scanToken(t.row(`SELECT `+tokenCols+` FROM tokens WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

// ---- payments

// nullJSON is v as JSON, or NULL for a nil pointer, so that "none" reads
// back as nil rather than as a zero value.
func nullJSON[T any](v *T) any {
	if v == nil {
		return nil
	}
	return mustJSON(v)
}

// fromNullJSON is the inverse of nullJSON.
func fromNullJSON[T any](s sql.NullString) (*T, error) {
	if !s.Valid {
		return nil, nil
	}
	v := new(T)
	if err := json.Unmarshal([]byte(s.String), v); err != nil {
		return nil, err
	}
	return v, nil
}

func (t *Tx) InsertPayment(p *store.Payment) error {
	_, err := t.exec(`INSERT INTO payments (id, merchant_id, status, amount, amount_capturable, amount_captured, amount_refunded,
		currency, capture_method, token_id, customer_id, order_id, description, metadata, card, processor, failure,
		pending_op, pending_until, authentication, challenge_id, created, updated, op_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.MerchantID, p.Status, p.Amount, p.AmountCapturable, p.AmountCaptured, p.AmountRefunded,
		p.Currency, p.CaptureMethod, nullStr(p.TokenID), nullStr(p.CustomerID), nullStr(p.OrderID), p.Description,
		mustJSON(orEmpty(p.Metadata)), mustJSON(p.Card), mustJSON(p.Processor), nullJSON(p.Failure),
		p.PendingOp, ts(p.PendingUntil), nullJSON(p.Authentication), p.ChallengeID, ts(p.Created), ts(p.Updated), p.OpKey)
	return err
}

const paymentCols = `id, merchant_id, status, amount, amount_capturable, amount_captured, amount_refunded,
	currency, capture_method, token_id, customer_id, order_id, description, metadata, card, processor, failure,
	pending_op, pending_until, authentication, challenge_id, created, updated, op_key`

func scanPayment(sc scanner) (*store.Payment, error) {
	var p store.Payment
	var tok, cus, ord, failure, authn sql.NullString
	var md, cardJ, procJ string
	var until, created, updated int64
	if err := sc.Scan(&p.ID, &p.MerchantID, &p.Status, &p.Amount, &p.AmountCapturable, &p.AmountCaptured, &p.AmountRefunded,
		&p.Currency, &p.CaptureMethod, &tok, &cus, &ord, &p.Description, &md, &cardJ, &procJ, &failure,
		&p.PendingOp, &until, &authn, &p.ChallengeID, &created, &updated, &p.OpKey); err != nil {
		return nil, notFound(err)
	}
	p.TokenID, p.CustomerID, p.OrderID = tok.String, cus.String, ord.String
	if err := json.Unmarshal([]byte(md), &p.Metadata); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(cardJ), &p.Card); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(procJ), &p.Processor); err != nil {
		return nil, err
	}
	var err error
	if p.Failure, err = fromNullJSON[store.Failure](failure); err != nil {
		return nil, err
	}
	if p.Authentication, err = fromNullJSON[store.Authentication](authn); err != nil {
		return nil, err
	}
	p.PendingUntil, p.Created, p.Updated = fromTS(until), fromTS(created), fromTS(updated)
	return &p, nil
}

func (t *Tx) GetPayment(merchantID, id string) (*store.Payment, error) {
	return scanPayment(t.row(`SELECT `+paymentCols+` FROM payments WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

func (t *Tx) UpdatePayment(p *store.Payment) error { return t.updatePayment(p, "") }

func (t *Tx) UpdatePaymentIf(p *store.Payment, status string) error {
	return t.updatePayment(p, status)
}

func (t *Tx) updatePayment(p *store.Payment, ifStatus string) error {
	q := `UPDATE payments SET status = ?, amount_capturable = ?, amount_captured = ?, amount_refunded = ?,
		token_id = ?, customer_id = ?, metadata = ?, card = ?, processor = ?, failure = ?, pending_op = ?, pending_until = ?,
		authentication = ?, challenge_id = ?, updated = ?, op_key = ?
		WHERE merchant_id = ? AND id = ?`
	args := []any{p.Status, p.AmountCapturable, p.AmountCaptured, p.AmountRefunded, nullStr(p.TokenID), nullStr(p.CustomerID),
		mustJSON(orEmpty(p.Metadata)), mustJSON(p.Card), mustJSON(p.Processor), nullJSON(p.Failure), p.PendingOp, ts(p.PendingUntil),
		nullJSON(p.Authentication), p.ChallengeID, ts(p.Updated), p.OpKey,
		p.MerchantID, p.ID}
	if ifStatus != "" {
		q += ` AND status = ?`
		args = append(args, ifStatus)
	}
	res, err := t.exec(q, args...)
	if err != nil {
		return err
	}
	return affected(res)
}

// ListPayments returns a page of payments, newest first.
func (t *Tx) ListPayments(merchantID string, f store.PaymentFilter) ([]*store.Payment, bool, error) {
	cond, args := "", []any{}
	if f.OrderID != "" {
		cond += ` AND order_id = ?`
		args = append(args, f.OrderID)
	}
	if f.CustomerID != "" {
		cond += ` AND customer_id = ?`
		args = append(args, f.CustomerID)
	}
	return page(t, "payments", paymentCols, cond, args, merchantID, f.StartingAfter, f.Limit, scanPayment)
}

// StaleProcessing spells the status out so the partial index can serve it.
func (t *Tx) StaleProcessing(updatedBefore time.Time, limit int) ([]*store.Payment, error) {
	return t.paymentsWhere(`status = 'processing' AND updated < ? ORDER BY updated LIMIT ?`, ts(updatedBefore), limit)
}

func (t *Tx) LapsedClaims(before time.Time, limit int) ([]*store.Payment, error) {
	return t.paymentsWhere(`pending_op <> '' AND pending_until < ? ORDER BY pending_until LIMIT ?`, ts(before), limit)
}

func (t *Tx) paymentsWhere(cond string, args ...any) ([]*store.Payment, error) {
	rs, err := t.rows(`SELECT `+paymentCols+` FROM payments WHERE `+cond, args...)
	return collect(rs, err, scanPayment)
}

// ---- refunds

func (t *Tx) InsertRefund(r *store.Refund) error {
	var failure any
	if r.Failure != nil {
		failure = mustJSON(r.Failure)
	}
	_, err := t.exec(`INSERT INTO refunds (id, merchant_id, payment_id, amount, currency, status, reason, processor_ref, failure, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.MerchantID, r.PaymentID, r.Amount, r.Currency, r.Status, r.Reason,
		r.ProcessorRef, failure, ts(r.Created), ts(r.Updated))
	return err
}

func (t *Tx) UpdateRefund(r *store.Refund) error {
	var failure any
	if r.Failure != nil {
		failure = mustJSON(r.Failure)
	}
	res, err := t.exec(`UPDATE refunds SET status = ?, processor_ref = ?, failure = ?, updated = ? WHERE merchant_id = ? AND id = ?`,
		r.Status, r.ProcessorRef, failure, ts(r.Updated), r.MerchantID, r.ID)
	if err != nil {
		return err
	}
	return affected(res)
}

func (t *Tx) ListRefunds(merchantID, paymentID string) ([]*store.Refund, error) {
	return t.refundsWhere(`merchant_id = ? AND payment_id = ? ORDER BY created, id`, merchantID, paymentID)
}

func (t *Tx) StaleRefunds(updatedBefore time.Time, limit int) ([]*store.Refund, error) {
	return t.refundsWhere(`status = 'pending' AND updated < ? ORDER BY updated LIMIT ?`, ts(updatedBefore), limit)
}

func (t *Tx) refundsWhere(cond string, args ...any) ([]*store.Refund, error) {
	rs, err := t.rows(`SELECT id, merchant_id, payment_id, amount, currency, status, reason, processor_ref, failure, created, updated
		FROM refunds WHERE `+cond, args...)
	return collect(rs, err, scanRefund)
}

func scanRefund(sc scanner) (*store.Refund, error) {
	var r store.Refund
	var failure sql.NullString
	var created, updated int64
	if err := sc.Scan(&r.ID, &r.MerchantID, &r.PaymentID, &r.Amount, &r.Currency, &r.Status, &r.Reason, &r.ProcessorRef,
		&failure, &created, &updated); err != nil {
		return nil, err
	}
	if failure.Valid {
		r.Failure = &store.Failure{}
		if err := json.Unmarshal([]byte(failure.String), r.Failure); err != nil {
			return nil, err
		}
	}
	r.Created, r.Updated = fromTS(created), fromTS(updated)
	return &r, nil
}

// ---- events

func (t *Tx) InsertEvent(e *store.Event) error {
	var err error
	if t.d.EventSeqSequence {
		err = t.row(`SELECT nextval('event_seq')`).Scan(&e.Seq)
	} else {
		err = t.row(`SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE merchant_id = ?`, e.MerchantID).Scan(&e.Seq)
	}
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO events (id, merchant_id, seq, type, object_type, object_id, data, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.MerchantID, e.Seq, e.Type, e.ObjectType, e.ObjectID, string(e.Data), ts(e.Created))
	return err
}

func (t *Tx) ListEventsFor(merchantID, objectID string) ([]*store.Event, error) {
	rs, err := t.rows(`SELECT id, merchant_id, seq, type, object_type, object_id, data, created FROM events
		WHERE merchant_id = ? AND object_id = ? ORDER BY seq`, merchantID, objectID)
	return collect(rs, err, func(sc scanner) (*store.Event, error) {
		var e store.Event
		var data string
		var created int64
		if err := sc.Scan(&e.ID, &e.MerchantID, &e.Seq, &e.Type, &e.ObjectType, &e.ObjectID, &data, &created); err != nil {
			return nil, err
		}
		e.Data, e.Created = []byte(data), fromTS(created)
		return &e, nil
	})
}

// ---- 3-D Secure challenges

func (t *Tx) InsertChallenge(c *store.Challenge) error {
	_, err := t.exec(`INSERT INTO challenges (id, merchant_id, object_type, object_id, status, attempts, amount, currency,
		brand, mask, transaction_id, version, return_url, verify, secret_ct, expires_at, created, updated, fingerprint)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.MerchantID, c.ObjectType, c.ObjectID, c.Status, c.Attempts, c.Amount, c.Currency,
		c.Brand, c.Mask, c.TransactionID, c.Version, c.ReturnURL, c.Verify, c.SecretCT, ts(c.ExpiresAt), ts(c.Created), ts(c.Updated),
		c.Fingerprint)
	return err
}

const challengeCols = `id, merchant_id, object_type, object_id, status, attempts, amount, currency,
	brand, mask, transaction_id, version, return_url, verify, secret_ct, expires_at, created, updated, fingerprint`

func scanChallenge(sc scanner) (*store.Challenge, error) {
	var c store.Challenge
	var expires, created, updated int64
	if err := sc.Scan(&c.ID, &c.MerchantID, &c.ObjectType, &c.ObjectID, &c.Status, &c.Attempts, &c.Amount, &c.Currency,
		&c.Brand, &c.Mask, &c.TransactionID, &c.Version, &c.ReturnURL, &c.Verify, &c.SecretCT, &expires, &created, &updated,
		&c.Fingerprint); err != nil {
		return nil, notFound(err)
	}
	c.ExpiresAt, c.Created, c.Updated = fromTS(expires), fromTS(created), fromTS(updated)
	return &c, nil
}

func (t *Tx) GetChallenge(id string) (*store.Challenge, error) {
	return scanChallenge(t.row(`SELECT `+challengeCols+` FROM challenges WHERE id = ?`, id))
}

// UpdateChallenge writes what a challenge's life changes; what it was issued
// for (object, amount, card, return URL) is fixed at insert. The merchant
// scopes the update as it does every other, though the id alone finds it.
func (t *Tx) UpdateChallenge(c *store.Challenge) error {
	res, err := t.exec(`UPDATE challenges SET status = ?, attempts = ?, transaction_id = ?, version = ?, secret_ct = ?,
		expires_at = ?, updated = ? WHERE merchant_id = ? AND id = ?`,
		c.Status, c.Attempts, c.TransactionID, c.Version, c.SecretCT, ts(c.ExpiresAt), ts(c.Updated), c.MerchantID, c.ID)
	if err != nil {
		return err
	}
	return affected(res)
}

// SweepableChallenges spells out the partial index's predicate, literals and
// all: SQLite uses a partial index only when the query repeats its WHERE.
func (t *Tx) SweepableChallenges(before time.Time, limit int) ([]*store.Challenge, error) {
	rs, err := t.rows(`SELECT `+challengeCols+` FROM challenges
		WHERE (status = 'pending' OR secret_ct IS NOT NULL) AND expires_at < ? ORDER BY expires_at, id LIMIT ?`, ts(before), limit)
	return collect(rs, err, scanChallenge)
}

// ---- 3-D Secure guesses per card

func (t *Tx) GetCardAuthFailures(merchantID, fingerprint string) (*store.CardAuthFailures, error) {
	f := store.CardAuthFailures{MerchantID: merchantID, Fingerprint: fingerprint}
	var last int64
	if err := t.row(`SELECT failures, last_failure FROM card_auth_failures WHERE merchant_id = ? AND fingerprint = ?`,
		merchantID, fingerprint).Scan(&f.Failures, &last); err != nil {
		return nil, notFound(err)
	}
	f.LastFailure = fromTS(last)
	return &f, nil
}

func (t *Tx) PutCardAuthFailures(f *store.CardAuthFailures) error {
	_, err := t.exec(`INSERT INTO card_auth_failures (merchant_id, fingerprint, failures, last_failure) VALUES (?, ?, ?, ?)
		ON CONFLICT (merchant_id, fingerprint) DO UPDATE SET failures = excluded.failures, last_failure = excluded.last_failure`,
		f.MerchantID, f.Fingerprint, f.Failures, ts(f.LastFailure))
	return err
}

// ---- key-encryption key checks

func (t *Tx) KEKChecks() (map[uint32][]byte, error) {
	rs, err := t.rows(`SELECT kek_version, check_value FROM kek_checks`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out := map[uint32][]byte{}
	for rs.Next() {
		var v int64
		var b []byte
		if err := rs.Scan(&v, &b); err != nil {
			return nil, err
		}
		out[uint32(v)] = b
	}
	return out, rs.Err()
}

func (t *Tx) InsertKEKCheck(version uint32, value []byte, at time.Time) error {
	_, err := t.exec(`INSERT INTO kek_checks (kek_version, check_value, created) VALUES (?, ?, ?)`, int64(version), value, ts(at))
	return err
}

// KEKSample takes the lowest data key id of each KEK version, from the
// (kek_version, id) index.
func (t *Tx) KEKSample() ([]vault.DataKey, error) {
	rs, err := t.rows(`SELECT ` + dataKeyCols + ` FROM data_keys WHERE id IN (SELECT MIN(id) FROM data_keys GROUP BY kek_version) ORDER BY kek_version`)
	return collect(rs, err, scanDataKey)
}

// PeekKeys reads what a database remembers of its key-encryption keys —
// the key-check values and one data key per KEK version — inside q, a
// read-only transaction a backend opened without migrating: hasTable says
// which tables exist yet (a fresh or older database lacks some, and then
// has nothing to say about them).
func PeekKeys(ctx context.Context, q Querier, d *Dialect, hasTable func(name string) (bool, error)) (map[uint32][]byte, []vault.DataKey, error) {
	t := NewTx(ctx, q, d)
	var checks map[uint32][]byte
	var sample []vault.DataKey
	if ok, err := hasTable("kek_checks"); err != nil {
		return nil, nil, err
	} else if ok {
		if checks, err = t.KEKChecks(); err != nil {
			return nil, nil, err
		}
	}
	if ok, err := hasTable("data_keys"); err != nil {
		return nil, nil, err
	} else if ok {
		if sample, err = t.KEKSample(); err != nil {
			return nil, nil, err
		}
	}
	return checks, sample, nil
}

// ---- payment sessions

func (t *Tx) InsertSession(s *store.Session) error {
	_, err := t.exec(`INSERT INTO sessions (id, merchant_id, mode, status, amount, currency, customer_id, save_card,
		show_saved_cards, capture_method, order_id, description, success_url, failure_url, expired_url, cancel_url,
		callback_url, client_secret_hash, key_id, payment_id, token_id, attempts, failure, metadata,
		confirming_until, expires_at, created, updated, callback_format, forward_urls, three_d_secure)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.MerchantID, s.Mode, s.Status, s.Amount, s.Currency, s.CustomerID, s.SaveCard,
		s.ShowSavedCards, s.CaptureMethod, s.OrderID, s.Description, s.SuccessURL, s.FailureURL, s.ExpiredURL, s.CancelURL,
		s.CallbackURL, s.ClientSecretHash, s.KeyID, s.PaymentID, s.TokenID, s.Attempts, nullJSON(s.Failure), mustJSON(orEmpty(s.Metadata)),
		ts(s.ConfirmingUntil), ts(s.ExpiresAt), ts(s.Created), ts(s.Updated), s.CallbackFormat, mustJSON(orNoURLs(s.ForwardURLs)),
		s.ThreeDSecure)
	return err
}

func orNoURLs(u []string) []string {
	if u == nil {
		return []string{}
	}
	return u
}

const sessionCols = `id, merchant_id, mode, status, amount, currency, customer_id, save_card,
	show_saved_cards, capture_method, order_id, description, success_url, failure_url, expired_url, cancel_url,
	callback_url, client_secret_hash, key_id, payment_id, token_id, attempts, failure, metadata,
	confirming_until, expires_at, created, updated, callback_format, forward_urls, three_d_secure`

func scanSession(sc scanner) (*store.Session, error) {
	var s store.Session
	var failure sql.NullString
	var md, fwd string
	var confirming, expires, created, updated int64
	if err := sc.Scan(&s.ID, &s.MerchantID, &s.Mode, &s.Status, &s.Amount, &s.Currency, &s.CustomerID, &s.SaveCard,
		&s.ShowSavedCards, &s.CaptureMethod, &s.OrderID, &s.Description, &s.SuccessURL, &s.FailureURL, &s.ExpiredURL, &s.CancelURL,
		&s.CallbackURL, &s.ClientSecretHash, &s.KeyID, &s.PaymentID, &s.TokenID, &s.Attempts, &failure, &md,
		&confirming, &expires, &created, &updated, &s.CallbackFormat, &fwd, &s.ThreeDSecure); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(fwd), &s.ForwardURLs); err != nil {
		return nil, err
	}
	if len(s.ForwardURLs) == 0 {
		s.ForwardURLs = nil
	}
	var err error
	if s.Failure, err = fromNullJSON[store.Failure](failure); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(md), &s.Metadata); err != nil {
		return nil, err
	}
	s.ConfirmingUntil, s.ExpiresAt, s.Created, s.Updated = fromTS(confirming), fromTS(expires), fromTS(created), fromTS(updated)
	return &s, nil
}

func (t *Tx) GetSession(merchantID, id string) (*store.Session, error) {
	return scanSession(t.row(`SELECT `+sessionCols+` FROM sessions WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

func (t *Tx) GetSessionByID(id string) (*store.Session, error) {
	return scanSession(t.row(`SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id))
}

// UpdateSession writes what a session's life changes; what it was created
// for (mode, amount, options, URLs, client secret) is fixed at insert.
func (t *Tx) UpdateSession(s *store.Session) error {
	res, err := t.exec(`UPDATE sessions SET status = ?, customer_id = ?, payment_id = ?, token_id = ?, attempts = ?,
		failure = ?, confirming_until = ?, key_id = ?, metadata = ?, updated = ?, expires_at = ?
		WHERE merchant_id = ? AND id = ?`,
		s.Status, s.CustomerID, s.PaymentID, s.TokenID, s.Attempts,
		nullJSON(s.Failure), ts(s.ConfirmingUntil), s.KeyID, mustJSON(orEmpty(s.Metadata)), ts(s.Updated), ts(s.ExpiresAt),
		s.MerchantID, s.ID)
	if err != nil {
		return err
	}
	return affected(res)
}

// SweepableSessions spells out the partial index's predicate, literals and
// all: SQLite uses a partial index only when the query repeats its WHERE.
func (t *Tx) SweepableSessions(before time.Time, limit int) ([]*store.Session, error) {
	rs, err := t.rows(`SELECT `+sessionCols+` FROM sessions
		WHERE status IN ('open', 'requires_action') AND expires_at < ? ORDER BY expires_at, id LIMIT ?`, ts(before), limit)
	return collect(rs, err, scanSession)
}

// ---- session keys

func (t *Tx) InsertSessionKey(k *store.SessionKey) error {
	_, err := t.exec(`INSERT INTO session_keys (id, merchant_id, private_ct, public, created) VALUES (?, ?, ?, ?, ?)`,
		k.ID, k.MerchantID, k.PrivateCT, k.Public, ts(k.Created))
	return err
}

const sessionKeyCols = `id, merchant_id, private_ct, public, created`

func scanSessionKey(r *sql.Row) (*store.SessionKey, error) {
	var k store.SessionKey
	var created int64
	if err := r.Scan(&k.ID, &k.MerchantID, &k.PrivateCT, &k.Public, &created); err != nil {
		return nil, notFound(err)
	}
	k.Created = fromTS(created)
	return &k, nil
}

func (t *Tx) CurrentSessionKey(merchantID string, createdSince time.Time) (*store.SessionKey, error) {
	return scanSessionKey(t.row(`SELECT `+sessionKeyCols+` FROM session_keys WHERE merchant_id = ? AND created >= ?
		ORDER BY created DESC, id DESC LIMIT 1`, merchantID, ts(createdSince)))
}

func (t *Tx) GetSessionKey(merchantID, id string) (*store.SessionKey, error) {
	return scanSessionKey(t.row(`SELECT `+sessionKeyCols+` FROM session_keys WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

// ---- events (the events API and live streams)

const eventCols = `id, merchant_id, seq, type, object_type, object_id, data, created`

func scanEvent(sc scanner) (*store.Event, error) {
	var e store.Event
	var data string
	var created int64
	if err := sc.Scan(&e.ID, &e.MerchantID, &e.Seq, &e.Type, &e.ObjectType, &e.ObjectID, &data, &created); err != nil {
		return nil, notFound(err)
	}
	e.Data, e.Created = []byte(data), fromTS(created)
	return &e, nil
}

func (t *Tx) GetEvent(merchantID, id string) (*store.Event, error) {
	return scanEvent(t.row(`SELECT `+eventCols+` FROM events WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

// ListEvents pages by seq, the merchant's own order of events: the cursor is
// the previous page's last event, and the next page starts below its seq.
func (t *Tx) ListEvents(merchantID string, f store.EventFilter) ([]*store.Event, bool, error) {
	q := `SELECT ` + eventCols + ` FROM events WHERE merchant_id = ?`
	args := []any{merchantID}
	if f.Type != "" {
		q += ` AND type = ?`
		args = append(args, f.Type)
	}
	if f.ObjectID != "" {
		q += ` AND object_id = ?`
		args = append(args, f.ObjectID)
	}
	if f.StartingAfter != "" {
		var seq int64
		if err := t.row(`SELECT seq FROM events WHERE merchant_id = ? AND id = ?`, merchantID, f.StartingAfter).Scan(&seq); err != nil {
			return nil, false, notFound(err)
		}
		q += ` AND seq < ?`
		args = append(args, seq)
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, f.Limit+1)
	rs, err := t.rows(q, args...)
	out, err := collect(rs, err, scanEvent)
	if err != nil {
		return nil, false, err
	}
	if len(out) > f.Limit {
		return out[:f.Limit], true, nil
	}
	return out, false, nil
}

func (t *Tx) EventsAfter(merchantID, objectID string, afterSeq int64, limit int) ([]*store.Event, error) {
	rs, err := t.rows(`SELECT `+eventCols+` FROM events WHERE merchant_id = ? AND object_id = ? AND seq > ?
		ORDER BY seq LIMIT ?`, merchantID, objectID, afterSeq, limit)
	return collect(rs, err, scanEvent)
}

// ---- webhook endpoints

func orEmptyList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func (t *Tx) InsertWebhookEndpoint(e *store.WebhookEndpoint) error {
	_, err := t.exec(`INSERT INTO webhook_endpoints (id, merchant_id, url, events, secret_ct, previous_ct, previous_until,
		description, created, updated, deleted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.MerchantID, e.URL, mustJSON(orEmptyList(e.Events)), e.SecretCT, e.PreviousCT, ts(e.PreviousUntil),
		e.Description, ts(e.Created), ts(e.Updated), nullTS(e.Deleted))
	return err
}

const webhookEndpointCols = `id, merchant_id, url, events, secret_ct, previous_ct, previous_until,
	description, created, updated, deleted_at`

func scanWebhookEndpoint(sc scanner) (*store.WebhookEndpoint, error) {
	var e store.WebhookEndpoint
	var events string
	var until, created, updated int64
	var deleted sql.NullInt64
	if err := sc.Scan(&e.ID, &e.MerchantID, &e.URL, &events, &e.SecretCT, &e.PreviousCT, &until,
		&e.Description, &created, &updated, &deleted); err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal([]byte(events), &e.Events); err != nil {
		return nil, fmt.Errorf("store: webhook endpoint %s events: %w", e.ID, err)
	}
	e.PreviousUntil, e.Created, e.Updated, e.Deleted = fromTS(until), fromTS(created), fromTS(updated), fromNullTS(deleted)
	return &e, nil
}

// GetWebhookEndpoint finds an endpoint deleted or not (Deleted tells): a
// delivery already on its way may name one deleted since.
func (t *Tx) GetWebhookEndpoint(merchantID, id string) (*store.WebhookEndpoint, error) {
	return scanWebhookEndpoint(t.row(`SELECT `+webhookEndpointCols+` FROM webhook_endpoints WHERE merchant_id = ? AND id = ?`,
		merchantID, id))
}

func (t *Tx) ListWebhookEndpoints(merchantID string) ([]*store.WebhookEndpoint, error) {
	rs, err := t.rows(`SELECT `+webhookEndpointCols+` FROM webhook_endpoints WHERE merchant_id = ? AND deleted_at IS NULL
		ORDER BY created, id`, merchantID)
	return collect(rs, err, scanWebhookEndpoint)
}

// UpdateWebhookEndpoint writes everything but the owner and creation time;
// setting Deleted is how an endpoint is deleted.
func (t *Tx) UpdateWebhookEndpoint(e *store.WebhookEndpoint) error {
	res, err := t.exec(`UPDATE webhook_endpoints SET url = ?, events = ?, secret_ct = ?, previous_ct = ?, previous_until = ?,
		description = ?, updated = ?, deleted_at = ? WHERE merchant_id = ? AND id = ?`,
		e.URL, mustJSON(orEmptyList(e.Events)), e.SecretCT, e.PreviousCT, ts(e.PreviousUntil),
		e.Description, ts(e.Updated), nullTS(e.Deleted), e.MerchantID, e.ID)
	if err != nil {
		return err
	}
	return affected(res)
}

// ---- device keys

func (t *Tx) InsertDeviceKey(k *store.DeviceKey) error {
	_, err := t.exec(`INSERT INTO device_keys (id, merchant_id, name, key_hash, last4, created, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, k.ID, k.MerchantID, k.Name, k.KeyHash, k.Last4, ts(k.Created), nullTS(k.Revoked))
	return err
}

const deviceKeyCols = `id, merchant_id, name, key_hash, last4, created, revoked_at`

func scanDeviceKey(sc scanner) (*store.DeviceKey, error) {
	var k store.DeviceKey
	var created int64
	var revoked sql.NullInt64
	if err := sc.Scan(&k.ID, &k.MerchantID, &k.Name, &k.KeyHash, &k.Last4, &created, &revoked); err != nil {
		return nil, notFound(err)
	}
	k.Created, k.Revoked = fromTS(created), fromNullTS(revoked)
	return &k, nil
}

func (t *Tx) GetDeviceKeyByHash(hash []byte) (*store.DeviceKey, error) {
	return scanDeviceKey(t.row(`SELECT `+deviceKeyCols+` FROM device_keys WHERE key_hash = ?`, hash))
}

func (t *Tx) GetDeviceKey(merchantID, id string) (*store.DeviceKey, error) {
	return scanDeviceKey(t.row(`SELECT `+deviceKeyCols+` FROM device_keys WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

func (t *Tx) ListDeviceKeys(merchantID string) ([]*store.DeviceKey, error) {
	rs, err := t.rows(`SELECT `+deviceKeyCols+` FROM device_keys WHERE merchant_id = ? ORDER BY created, id`, merchantID)
	return collect(rs, err, scanDeviceKey)
}

func (t *Tx) RevokeDeviceKey(merchantID, id string, at time.Time) error {
	res, err := t.exec(`UPDATE device_keys SET revoked_at = ? WHERE merchant_id = ? AND id = ? AND revoked_at IS NULL`,
		ts(at), merchantID, id)
	if err != nil {
		return err
	}
	return affected(res)
}

// ---- webhook deliveries

func (t *Tx) InsertDelivery(d *store.Delivery) error {
	_, err := t.exec(`INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, url, status, attempts,
		next_attempt, locked_until, last_status, created, updated, format)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.MerchantID, d.EventID, d.EndpointID, d.URL, d.Status, d.Attempts,
		ts(d.NextAttempt), ts(d.LockedUntil), d.LastStatus, ts(d.Created), ts(d.Updated), d.Format)
	return err
}

const deliveryCols = `id, merchant_id, event_id, endpoint_id, url, status, attempts,
	next_attempt, locked_until, last_status, created, updated, format`

func scanDelivery(sc scanner) (*store.Delivery, error) {
	var d store.Delivery
	var next, locked, created, updated int64
	if err := sc.Scan(&d.ID, &d.MerchantID, &d.EventID, &d.EndpointID, &d.URL, &d.Status, &d.Attempts,
		&next, &locked, &d.LastStatus, &created, &updated, &d.Format); err != nil {
		return nil, notFound(err)
	}
	d.NextAttempt, d.LockedUntil, d.Created, d.Updated = fromTS(next), fromTS(locked), fromTS(created), fromTS(updated)
	return &d, nil
}

// GetDelivery finds a delivery by id alone, for the dispatcher, which works
// across merchants.
func (t *Tx) GetDelivery(id string) (*store.Delivery, error) {
	return scanDelivery(t.row(`SELECT `+deliveryCols+` FROM deliveries WHERE id = ?`, id))
}

// UpdateDelivery writes what a delivery's life changes; what it delivers
// (event, endpoint, URL) is fixed at insert.
func (t *Tx) UpdateDelivery(d *store.Delivery) error {
	res, err := t.exec(`UPDATE deliveries SET status = ?, attempts = ?, next_attempt = ?, locked_until = ?, last_status = ?,
		updated = ? WHERE id = ?`,
		d.Status, d.Attempts, ts(d.NextAttempt), ts(d.LockedUntil), d.LastStatus, ts(d.Updated), d.ID)
	if err != nil {
		return err
	}
	return affected(res)
}

func (t *Tx) ListDeliveries(merchantID, eventID string) ([]*store.Delivery, error) {
	rs, err := t.rows(`SELECT `+deliveryCols+` FROM deliveries WHERE merchant_id = ? AND event_id = ?
		ORDER BY created, id`, merchantID, eventID)
	return collect(rs, err, scanDelivery)
}

// DueDeliveries spells out the partial index's predicate, literal and all:
// SQLite uses a partial index only when the query repeats its WHERE.
//
// held marks the deliveries that must wait: another pending delivery to the
// same target (the same endpoint; for a callback, the same URL and format)
// carries an earlier event (lower seq) about the same object. Its value is
// the latest retry time after now among those (0 when they are due or under
// way), NULL when nothing comes first. It is worked out for the page's rows
// only (through events_object and deliveries_event), so a long queue of
// held deliveries costs no more per call than a page: the dispatcher leases
// them aside until their predecessor's retry.
func (t *Tx) DueDeliveries(now time.Time, limit int) ([]*store.Delivery, error) {
	rs, err := t.rows(`SELECT `+deliveryCols+`,
		(SELECT MAX(CASE WHEN p.next_attempt > ? THEN p.next_attempt ELSE 0 END) FROM events me
			JOIN events e ON e.merchant_id = me.merchant_id AND e.object_id = me.object_id AND e.seq < me.seq
			JOIN deliveries p ON p.merchant_id = e.merchant_id AND p.event_id = e.id
			WHERE me.merchant_id = d.merchant_id AND me.id = d.event_id AND p.status = 'pending'
			AND p.endpoint_id = d.endpoint_id AND (d.endpoint_id <> '' OR (p.url = d.url AND p.format = d.format))) AS held
		FROM deliveries d
		WHERE status = 'pending' AND next_attempt <= ? AND locked_until <= ? ORDER BY next_attempt, id LIMIT ?`,
		ts(now), ts(now), ts(now), limit)
	return collect(rs, err, func(sc scanner) (*store.Delivery, error) {
		var d store.Delivery
		var next, locked, created, updated int64
		var held sql.NullInt64
		if err := sc.Scan(&d.ID, &d.MerchantID, &d.EventID, &d.EndpointID, &d.URL, &d.Status, &d.Attempts,
			&next, &locked, &d.LastStatus, &created, &updated, &d.Format, &held); err != nil {
			return nil, err
		}
		d.NextAttempt, d.LockedUntil, d.Created, d.Updated = fromTS(next), fromTS(locked), fromTS(created), fromTS(updated)
		if held.Valid {
			d.Held = true
			if held.Int64 > 0 {
				d.HeldUntil = fromTS(held.Int64)
			}
		}
		return &d, nil
	})
}

func (t *Tx) InsertDeliveryAttempt(a *store.DeliveryAttempt) error {
	_, err := t.exec(`INSERT INTO delivery_attempts (id, delivery_id, attempt, at, status_code, latency_ms, error)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, a.ID, a.DeliveryID, a.Attempt, ts(a.At), a.StatusCode, a.LatencyMS, a.Error)
	return err
}

func (t *Tx) ListDeliveryAttempts(deliveryID string) ([]*store.DeliveryAttempt, error) {
	rs, err := t.rows(`SELECT id, delivery_id, attempt, at, status_code, latency_ms, error FROM delivery_attempts
		WHERE delivery_id = ? ORDER BY attempt, id`, deliveryID)
	return collect(rs, err, func(sc scanner) (*store.DeliveryAttempt, error) {
		var a store.DeliveryAttempt
		var at int64
		if err := sc.Scan(&a.ID, &a.DeliveryID, &a.Attempt, &at, &a.StatusCode, &a.LatencyMS, &a.Error); err != nil {
			return nil, err
		}
		a.At = fromTS(at)
		return &a, nil
	})
}
