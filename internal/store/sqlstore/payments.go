package sqlstore

import (
	"database/sql"
	"encoding/json"
	"strconv"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// paymentQueries are the queries of store.PaymentTx.
type paymentQueries struct{ *conn }

func (t paymentQueries) InsertPayment(p *store.Payment) error {
	_, err := t.exec(`INSERT INTO payments (id, merchant_id, status, amount, amount_capturable, amount_captured, amount_refunded,
		currency, capture_method, token_id, customer_id, order_id, description, metadata, card, processor, failure,
		pending_op, pending_until, authentication, challenge_id, created, updated, op_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.MerchantID, p.Status, p.Amount, p.AmountCapturable, p.AmountCaptured, p.AmountRefunded,
		p.Currency, p.CaptureMethod, nullStr(p.TokenID), nullStr(p.CustomerID), nullStr(p.OrderID), p.Description,
		metadataJSON(p.Metadata), mustJSON(p.Card), mustJSON(p.Processor), nullJSON(p.Failure),
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

func (t paymentQueries) GetPayment(merchantID, id string) (*store.Payment, error) {
	return scanPayment(t.rowForUpdate(`SELECT `+paymentCols+` FROM payments WHERE merchant_id = ? AND id = ?`, merchantID, id))
}

func (t paymentQueries) UpdatePayment(p *store.Payment) error { return t.updatePayment(p, "") }

func (t paymentQueries) UpdatePaymentIf(p *store.Payment, status string) error {
	return t.updatePayment(p, status)
}

func (t paymentQueries) updatePayment(p *store.Payment, ifStatus string) error {
	q := `UPDATE payments SET status = ?, amount_capturable = ?, amount_captured = ?, amount_refunded = ?,
		token_id = ?, customer_id = ?, metadata = ?, card = ?, processor = ?, failure = ?, pending_op = ?, pending_until = ?,
		authentication = ?, challenge_id = ?, updated = ?, op_key = ?
		WHERE merchant_id = ? AND id = ?`
	args := []any{p.Status, p.AmountCapturable, p.AmountCaptured, p.AmountRefunded, nullStr(p.TokenID), nullStr(p.CustomerID),
		metadataJSON(p.Metadata), mustJSON(p.Card), mustJSON(p.Processor), nullJSON(p.Failure), p.PendingOp, ts(p.PendingUntil),
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
func (t paymentQueries) ListPayments(merchantID string, f store.PaymentFilter) ([]*store.Payment, bool, error) {
	cond, args := "", []any{}
	if f.OrderID != "" {
		cond += ` AND order_id = ?`
		args = append(args, f.OrderID)
	}
	if f.CustomerID != "" {
		cond += ` AND customer_id = ?`
		args = append(args, f.CustomerID)
	}
	if !f.CreatedFrom.IsZero() {
		cond += ` AND created >= ?`
		args = append(args, ts(f.CreatedFrom))
	}
	if !f.CreatedBefore.IsZero() {
		cond += ` AND created < ?`
		args = append(args, ts(f.CreatedBefore))
	}
	return page(t.conn, "payments", paymentCols, cond, args, merchantID, f.StartingAfter, f.Limit, scanPayment)
}

// microsPerDay turns stored times (Unix microseconds) into UTC day numbers.
const microsPerDay = 24 * 60 * 60 * 1_000_000

// PaymentStats groups by ordinal so both backends read the same text; the
// range is a scan of the (merchant_id, created) index.
func (t paymentQueries) PaymentStats(merchantID string, from, to time.Time) ([]store.PaymentStat, error) {
	reason := `CASE WHEN status = 'failed' THEN COALESCE(NULLIF(` + t.d.JSONText("failure", "decline_code") + `, ''), ` +
		t.d.JSONText("failure", "code") + `, '') ELSE '' END`
	rs, err := t.rows(`SELECT created / `+strconv.Itoa(microsPerDay)+`, status, currency, `+reason+`,
		COUNT(*), CAST(SUM(amount) AS BIGINT), CAST(SUM(amount_captured) AS BIGINT)
		FROM payments WHERE merchant_id = ? AND created >= ? AND created < ?
		GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`, merchantID, ts(from), ts(to))
	return collect(rs, err, func(sc scanner) (store.PaymentStat, error) {
		var s store.PaymentStat
		var day int64
		err := sc.Scan(&day, &s.Status, &s.Currency, &s.Reason, &s.Count, &s.Amount, &s.Captured)
		s.Day = fromTS(day * microsPerDay)
		return s, err
	})
}

// StaleProcessing spells the status out so the partial index can serve it.
func (t paymentQueries) StaleProcessing(updatedBefore time.Time, limit int) ([]*store.Payment, error) {
	return t.paymentsWhere(`status = 'processing' AND updated < ? ORDER BY updated LIMIT ?`, ts(updatedBefore), limit)
}

func (t paymentQueries) LapsedClaims(before time.Time, limit int) ([]*store.Payment, error) {
	return t.paymentsWhere(`pending_op <> '' AND pending_until < ? ORDER BY pending_until LIMIT ?`, ts(before), limit)
}

func (t paymentQueries) paymentsWhere(cond string, args ...any) ([]*store.Payment, error) {
	rs, err := t.rows(`SELECT `+paymentCols+` FROM payments WHERE `+cond, args...)
	return collect(rs, err, scanPayment)
}

// ---- refunds

func (t paymentQueries) InsertRefund(r *store.Refund) error {
	var failure any
	if r.Failure != nil {
		failure = mustJSON(r.Failure)
	}
	_, err := t.exec(`INSERT INTO refunds (id, merchant_id, payment_id, amount, currency, status, reason, processor_ref, failure, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.MerchantID, r.PaymentID, r.Amount, r.Currency, r.Status, r.Reason,
		r.ProcessorRef, failure, ts(r.Created), ts(r.Updated))
	return err
}

func (t paymentQueries) UpdateRefund(r *store.Refund) error {
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

func (t paymentQueries) ListRefunds(merchantID, paymentID string) ([]*store.Refund, error) {
	return t.refundsWhere(`merchant_id = ? AND payment_id = ? ORDER BY created, id`, merchantID, paymentID)
}

func (t paymentQueries) StaleRefunds(updatedBefore time.Time, limit int) ([]*store.Refund, error) {
	return t.refundsWhere(`status = 'pending' AND updated < ? ORDER BY updated LIMIT ?`, ts(updatedBefore), limit)
}

func (t paymentQueries) refundsWhere(cond string, args ...any) ([]*store.Refund, error) {
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
