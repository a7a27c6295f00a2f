package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// deliveryQueries are the queries of store.DeliveryTx.
type deliveryQueries struct{ *conn }

func orEmptyList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func (t deliveryQueries) InsertWebhookEndpoint(e *store.WebhookEndpoint) error {
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
func (t deliveryQueries) GetWebhookEndpoint(merchantID, id string) (*store.WebhookEndpoint, error) {
	return scanWebhookEndpoint(t.rowForUpdate(`SELECT `+webhookEndpointCols+` FROM webhook_endpoints WHERE merchant_id = ? AND id = ?`,
		merchantID, id))
}

func (t deliveryQueries) ListWebhookEndpoints(merchantID string) ([]*store.WebhookEndpoint, error) {
	rs, err := t.rows(`SELECT `+webhookEndpointCols+` FROM webhook_endpoints WHERE merchant_id = ? AND deleted_at IS NULL
		ORDER BY created, id`, merchantID)
	return collect(rs, err, scanWebhookEndpoint)
}

// UpdateWebhookEndpoint writes everything but the owner and creation time;
// setting Deleted is how an endpoint is deleted.
func (t deliveryQueries) UpdateWebhookEndpoint(e *store.WebhookEndpoint) error {
	res, err := t.exec(`UPDATE webhook_endpoints SET url = ?, events = ?, secret_ct = ?, previous_ct = ?, previous_until = ?,
		description = ?, updated = ?, deleted_at = ? WHERE merchant_id = ? AND id = ?`,
		e.URL, mustJSON(orEmptyList(e.Events)), e.SecretCT, e.PreviousCT, ts(e.PreviousUntil),
		e.Description, ts(e.Updated), nullTS(e.Deleted), e.MerchantID, e.ID)
	if err != nil {
		return err
	}
	return affected(res)
}

// ---- webhook deliveries

func (t deliveryQueries) InsertDelivery(d *store.Delivery) error {
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
func (t deliveryQueries) GetDelivery(id string) (*store.Delivery, error) {
	return scanDelivery(t.rowForUpdate(`SELECT `+deliveryCols+` FROM deliveries WHERE id = ?`, id))
}

// UpdateDelivery writes what a delivery's life changes; what it delivers
// (event, endpoint, URL) is fixed at insert.
func (t deliveryQueries) UpdateDelivery(d *store.Delivery) error {
	res, err := t.exec(`UPDATE deliveries SET status = ?, attempts = ?, next_attempt = ?, locked_until = ?, last_status = ?,
		updated = ? WHERE id = ?`,
		d.Status, d.Attempts, ts(d.NextAttempt), ts(d.LockedUntil), d.LastStatus, ts(d.Updated), d.ID)
	if err != nil {
		return err
	}
	return affected(res)
}

func (t deliveryQueries) ListDeliveries(merchantID, eventID string) ([]*store.Delivery, error) {
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
func (t deliveryQueries) DueDeliveries(now time.Time, limit int) ([]*store.Delivery, error) {
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

func (t deliveryQueries) InsertDeliveryAttempt(a *store.DeliveryAttempt) error {
	_, err := t.exec(`INSERT INTO delivery_attempts (id, delivery_id, attempt, at, status_code, latency_ms, error)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, a.ID, a.DeliveryID, a.Attempt, ts(a.At), a.StatusCode, a.LatencyMS, a.Error)
	return err
}

func (t deliveryQueries) ListDeliveryAttempts(deliveryID string) ([]*store.DeliveryAttempt, error) {
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
