package event

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// Secrets opens the signing secrets, which are vault-sealed; the payment
// service implements it.
type Secrets interface {
	// EndpointSecrets returns an endpoint's current secret and, during a
	// rotation's grace period, the previous one (nil otherwise).
	EndpointSecrets(ctx context.Context, ep *store.WebhookEndpoint) (current []byte, previous []byte, err error)
	// CallbackSecret signs a merchant's session callbacks.
	CallbackSecret(ctx context.Context, merchantID string) ([]byte, error)
}

// Config configures a Dispatcher; zero fields take the defaults shown.
type Config struct {
	Store   store.Store
	Secrets Secrets
	Log     *slog.Logger
	// AllowPrivate lets deliveries reach private and loopback addresses
	// (development, or receivers on the operator's own network).
	AllowPrivate  bool
	Timeout       time.Duration // one attempt, connect to last byte: 10s
	RetryBase     time.Duration // the first retry's delay (jitter takes up to half off): 5s
	MaxRetryDelay time.Duration // the longest delay between attempts: 6h
	MaxAge        time.Duration // give up this long after the delivery was created: 72h
	Workers       int           // attempts in flight in all: 16
	// PerURL bounds the attempts in flight per endpoint (or callback URL)
	// in this dispatcher: 2. Each server instance has its own.
	PerURL int
	Poll   time.Duration // how often to look for due deliveries: 250ms
	// Formats render the deliveries whose Format names them (the provider
	// dialects' callbacks); a delivery in a format not registered here
	// fails its attempts until one is.
	Formats map[string]Format
	// Client sends the requests; nil builds one that refuses forbidden
	// addresses when connecting and does not follow redirects. Tests only.
	Client *http.Client
	// Metrics is told of every attempt; nil counts none.
	Metrics Observer
}

// Observer counts delivery attempts (internal/metrics in the server). It
// is given the receiver's host alone: a URL's path and query may carry
// the receiver's tokens.
type Observer interface {
	DeliveryAttempt(host string, failed bool, took time.Duration)
}

const (
	// leaseSlack covers the result's write after an attempt's timeout, so
	// a lease never lapses while its holder is still finishing normally.
	leaseSlack = 30 * time.Second
	// drainLimit is how much of a response is read (and discarded) so the
	// connection can be reused; receivers are told to answer quickly and
	// with little, and their words are never stored.
	drainLimit = 64 << 10
	// maxPark bounds how long a delivery is set aside for a busy endpoint,
	// so the estimate of that endpoint's pace is soon revisited.
	maxPark = 5 * time.Minute
	// minPace is the shortest an attempt is assumed to take when parking:
	// guessing short costs a few extra writes, guessing long would hold a
	// quick endpoint's backlog back.
	minPace = 5 * time.Millisecond
	// userAgent names the sender to receivers and their firewalls.
	userAgent = "Coffer-Webhooks/1"
)

// Dispatcher sends due deliveries in the background. Any number of
// dispatchers may share a store: a delivery is leased (LockedUntil) by the
// one that sends it.
//
// Deliveries of one object to one target (a webhook endpoint; a callback
// URL in its format) go in event order: a delivery is never claimed while
// one of an earlier event about the same object to the same target is
// still pending — under way or waiting for its retry (the store marks such
// a delivery Held). So a SensePass transaction's status 5 is not sent
// before its status 4 has been delivered, by this dispatcher or any other.
// A held delivery whose predecessor waits for a retry is leased aside until
// that retry (it cannot go sooner, and so takes no room in the pages); one
// whose predecessor is due or under way is looked at again at the next
// poll, which the worker recording the predecessor triggers. The price: a
// target that keeps refusing one delivery holds back that object's later
// deliveries to it — until it accepts, or that delivery fails at the end
// of its retry window (MaxAge) — while other objects' deliveries, and
// other targets, go on.
//
// A lease also parks deliveries: DueDeliveries returns one page, oldest
// first, so an endpoint with a long backlog would fill every page and
// starve the others. When a page is full, the deliveries of endpoints that
// already have PerURL attempts in flight are leased, unsent, until about
// when the endpoint should be ready for them (its observed pace), so what
// lies beyond them in the queue comes into view.
type Dispatcher struct {
	c      Config
	log    *slog.Logger
	client *http.Client
	own    bool // client built here, so its idle connections are ours to close
	wake   chan struct{}
	page   int // DueDeliveries limit; a field so tests can make it small
	wg     sync.WaitGroup

	mu       sync.Mutex
	inflight int
	keys     map[string]*keyState

	attempts, succeeded, failures, gaveUp, parked, held atomic.Int64
}

// keyState is what the dispatcher knows of one endpoint (or callback URL).
type keyState struct {
	starts []time.Time   // of the attempts in flight
	pace   time.Duration // moving average of an attempt's duration
	until  time.Time     // deliveries are parked up to here
	seen   time.Time     // last activity, to forget idle keys
}

// Stats counts what a dispatcher did since New.
type Stats struct {
	Attempts  int64 // requests sent (or tried)
	Succeeded int64 // deliveries that succeeded
	Failures  int64 // failed attempts
	GaveUp    int64 // deliveries marked failed
	Parked    int64 // deliveries set aside because their endpoint was busy
	Held      int64 // deliveries set aside until an earlier one of their object is retried
	InFlight  int
}

// New makes a Dispatcher; Run starts it.
func New(c Config) *Dispatcher {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 5 * time.Second
	}
	if c.MaxRetryDelay <= 0 {
		c.MaxRetryDelay = 6 * time.Hour
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 72 * time.Hour
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.PerURL <= 0 {
		c.PerURL = 2
	}
	if c.Poll <= 0 {
		c.Poll = 250 * time.Millisecond
	}
	d := &Dispatcher{c: c, log: c.Log, client: c.Client, wake: make(chan struct{}, 1), keys: map[string]*keyState{}}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.client == nil {
		d.client, d.own = newClient(c), true
	}
	// Room to look past the deliveries of endpoints that are already busy.
	d.page = max(256, 4*c.Workers*c.PerURL)
	return d
}

func newClient(c Config) *http.Client {
	dialer := &net.Dialer{Timeout: c.Timeout, KeepAlive: 30 * time.Second, Control: dialControl(c.AllowPrivate)}
	t := &http.Transport{
		// No proxy: the address checks must see the receiver's address,
		// and the environment of the server is not the merchant's choice.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    c.Timeout,
		ResponseHeaderTimeout:  c.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    c.PerURL,
		IdleConnTimeout:        90 * time.Second,
	}
	return &http.Client{
		Transport: t,
		Timeout:   c.Timeout,
		// A redirect could lead anywhere, past the URL the merchant
		// registered: answering 3xx is a failed attempt, not a new target.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Wake makes the dispatcher look for due deliveries now rather than at
// its next poll; the API calls it after writing events.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Stats reports what the dispatcher did so far.
func (d *Dispatcher) Stats() Stats {
	d.mu.Lock()
	n := d.inflight
	d.mu.Unlock()
	return Stats{Attempts: d.attempts.Load(), Succeeded: d.succeeded.Load(), Failures: d.failures.Load(),
		GaveUp: d.gaveUp.Load(), Parked: d.parked.Load(), Held: d.held.Load(), InFlight: n}
}

// Run sends deliveries until ctx ends, then waits for the attempts in
// flight (each bounded by Timeout) so their outcomes are recorded. Call it
// once per Dispatcher.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.c.Poll)
	defer t.Stop()
	lastPrune := time.Now()
	for {
		d.poll(ctx)
		if time.Since(lastPrune) > time.Minute {
			d.prune()
			lastPrune = time.Now()
		}
		select {
		case <-ctx.Done():
			d.wg.Wait()
			if d.own {
				d.client.CloseIdleConnections()
			}
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// keyOf names what PerURL limits: the endpoint, or for a callback its URL.
func keyOf(dl *store.Delivery) string {
	// By host and port: many endpoints or callback URLs on one dead server
	// must not take more than its share of the workers between them.
	if u, err := url.Parse(dl.URL); err == nil && u.Host != "" {
		return "host:" + strings.ToLower(u.Host)
	}
	return "url:" + dl.URL
}

// hostOf is a target URL's host, without port or credentials ("" when
// the URL cannot be parsed).
func hostOf(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// poll claims what is due and can be sent now, and starts sending it.
func (d *Dispatcher) poll(ctx context.Context) {
	v := d.load()
	if v.free <= 0 || ctx.Err() != nil {
		return
	}
	due := d.due(ctx, v.now)
	if len(due) == 0 {
		return
	}
	// When the page is full, deliveries further down cannot be seen until
	// those above it go: a busy endpoint's backlog would hide every other
	// endpoint's deliveries. So the busy endpoint's surplus is parked —
	// leased, unsent, until about when the endpoint should be ready for it.
	full := len(due) >= d.page
	if !d.actionable(due, v.busy, v.free, full, v.now) {
		return // all due deliveries wait for busy endpoints: no need to write
	}

	var c claimSet
	err := d.c.Store.Write(ctx, func(tx store.Tx) error {
		return d.claim(tx, due, v, full, &c)
	})
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("webhooks: claiming deliveries failed", "error", err)
		}
		return
	}
	d.parked.Add(int64(len(c.parked)))
	d.held.Add(int64(c.held))
	d.start(ctx, &c, v.now)
}

// loadView is the keys' load as poll saw it, copied under the lock so the
// store is never read while holding it.
type loadView struct {
	free  int
	busy  map[string]int
	pace  map[string]time.Duration
	until map[string]time.Time
	now   time.Time
}

func (d *Dispatcher) load() loadView {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := loadView{
		free:  d.c.Workers - d.inflight,
		busy:  make(map[string]int, len(d.keys)),
		pace:  make(map[string]time.Duration, len(d.keys)),
		until: make(map[string]time.Time, len(d.keys)),
		now:   time.Now().UTC(),
	}
	for k, s := range d.keys {
		v.busy[k] = len(s.starts)
		v.pace[k] = s.estimate(v.now)
		v.until[k] = s.until
	}
	return v
}

// due lists a page of due deliveries; on failure it logs and returns none.
func (d *Dispatcher) due(ctx context.Context, now time.Time) []*store.Delivery {
	// Looking first in a read keeps an idle dispatcher off the write path
	// (SQLite has one writer); the claim re-checks every row.
	var due []*store.Delivery
	err := d.c.Store.Read(ctx, func(tx store.Tx) error {
		var err error
		due, err = tx.DueDeliveries(now, d.page)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("webhooks: listing due deliveries failed", "error", err)
		}
		return nil
	}
	return due
}

type parkedRow struct {
	dl    *store.Delivery
	until time.Time
}

// claimSet is what one poll's write leased: to send now, parked, or held.
type claimSet struct {
	claimed  []*store.Delivery
	parked   []parkedRow
	frontier map[string]time.Time
	held     int
}

// claim leases, in tx, the due rows that can be sent now and parks or sets
// aside the rest, into c.
func (d *Dispatcher) claim(tx store.Tx, due []*store.Delivery, v loadView, full bool, c *claimSet) error {
	// The store may run this more than once: start afresh each time.
	c.claimed, c.parked, c.frontier, c.held = c.claimed[:0], c.parked[:0], map[string]time.Time{}, 0
	taken := map[string]int{}
	now := time.Now().UTC()
	for _, row := range due {
		k := keyOf(row)
		wait := d.waitFor(row, now)
		// A held delivery is never claimed: its object's earlier
		// delivery to the same target goes first.
		open := !row.Held && v.busy[k]+taken[k] < d.c.PerURL
		switch {
		case !wait.IsZero():
			// Set aside until the earlier delivery's retry: it cannot
			// be done before then, and meanwhile this one takes no room
			// in the pages.
		case open && len(c.claimed) >= v.free:
			continue // waiting for a worker, not for its endpoint
		case !open && !full:
			continue // its endpoint is busy, or the delivery it waits for is due or under way: next poll
		}
		dl, err := tx.GetDelivery(row.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if dl.Status != store.DeliveryPending || dl.LockedUntil.After(now) || dl.NextAttempt.After(now) {
			continue // another dispatcher got there first
		}
		switch {
		case !wait.IsZero():
			dl.LockedUntil = wait
			c.held++
		case open:
			taken[k]++
			dl.LockedUntil = now.Add(d.c.Timeout + leaseSlack)
			c.claimed = append(c.claimed, dl)
		default:
			at := d.parkUntil(k, v, c.frontier, now)
			dl.LockedUntil = at
			c.parked = append(c.parked, parkedRow{dl, at})
		}
		if err := tx.UpdateDelivery(dl); err != nil {
			return err
		}
	}
	return nil
}

// parkUntil spaces a busy key's surplus by its pace, one after another from
// its frontier, so parked deliveries come back about when there is room.
func (d *Dispatcher) parkUntil(k string, v loadView, frontier map[string]time.Time, now time.Time) time.Time {
	at, ok := frontier[k]
	if !ok {
		at = v.until[k]
	}
	if at.Before(now) {
		at = now
	}
	p, ok := v.pace[k]
	if !ok {
		p = minPace // a new endpoint: assume it is quick until it shows otherwise
	}
	at = at.Add(p / time.Duration(d.c.PerURL))
	if limit := now.Add(maxPark); at.After(limit) {
		at = limit
	} else {
		frontier[k] = at
	}
	return at
}

// start counts the claimed deliveries against their keys before any is
// sent, so the next poll sees them busy, then sends each.
func (d *Dispatcher) start(ctx context.Context, c *claimSet, now time.Time) {
	d.mu.Lock()
	for k, at := range c.frontier {
		d.key(k, now).until = at
	}
	start := time.Now()
	for _, dl := range c.claimed {
		s := d.key(keyOf(dl), start)
		s.starts = append(s.starts, start)
		d.inflight++
	}
	d.mu.Unlock()
	for _, dl := range c.claimed {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.deliver(context.WithoutCancel(ctx), dl, start)
		}()
	}
}

// actionable says whether the claim would claim, park or set aside
// anything, by the same rules, so a dispatcher whose endpoints are all busy
// (or whose deliveries all wait for others under way) does not write.
func (d *Dispatcher) actionable(due []*store.Delivery, busy map[string]int, free int, full bool, now time.Time) bool {
	taken := map[string]int{}
	for _, row := range due {
		k := keyOf(row)
		if !d.waitFor(row, now).IsZero() {
			return true
		}
		open := !row.Held && busy[k]+taken[k] < d.c.PerURL
		if (open && free > 0) || (!open && full) {
			return true
		}
		if !row.Held {
			taken[k]++
		}
	}
	return false
}

// waitFor is how long a held delivery is set aside: until the retry of the
// earlier delivery it waits for (bounded by the retry window, whatever the
// store says). Zero when it is not held, or when what it waits for is due
// or under way and may finish any moment: then it is looked at again at
// the next poll, which the finishing worker triggers.
func (d *Dispatcher) waitFor(row *store.Delivery, now time.Time) time.Time {
	if !row.Held || !row.HeldUntil.After(now) {
		return time.Time{}
	}
	if limit := now.Add(d.c.MaxAge); row.HeldUntil.After(limit) {
		return limit
	}
	return row.HeldUntil
}

// key returns a key's state, creating it; d.mu is held.
func (d *Dispatcher) key(k string, now time.Time) *keyState {
	s := d.keys[k]
	if s == nil {
		s = &keyState{}
		d.keys[k] = s
	}
	s.seen = now
	return s
}

// estimate is how long an attempt at this key takes: its average, or
// longer while one in flight has already taken longer (a hung endpoint
// shows itself before any attempt ends).
func (s *keyState) estimate(now time.Time) time.Duration {
	e := s.pace
	for _, t := range s.starts {
		e = max(e, now.Sub(t))
	}
	return max(e, minPace)
}

// done ends an attempt's hold on its key and the worker pool.
func (d *Dispatcher) done(k string, started time.Time, took time.Duration) {
	d.mu.Lock()
	s := d.key(k, time.Now())
	for i, t := range s.starts {
		if t.Equal(started) {
			s.starts = append(s.starts[:i], s.starts[i+1:]...)
			break
		}
	}
	switch {
	case took <= 0: // nothing was sent (the URL or secret was refused)
	case s.pace == 0:
		s.pace = took
	default:
		s.pace = (3*s.pace + took) / 4
	}
	d.inflight--
	d.mu.Unlock()
	d.Wake() // a slot is free: its endpoint's next delivery need not wait for the poll
}

// prune forgets endpoints idle for a while, so callback URLs (one per
// session, potentially) do not accumulate.
func (d *Dispatcher) prune() {
	d.mu.Lock()
	defer d.mu.Unlock()
	cutoff := time.Now().Add(-10 * time.Minute)
	for k, s := range d.keys {
		if len(s.starts) == 0 && s.seen.Before(cutoff) && s.until.Before(cutoff) {
			delete(d.keys, k)
		}
	}
}

// outcome is one attempt's result as the delivery log records it.
type outcome struct {
	at      time.Time
	status  int
	latency time.Duration
	err     string // "" on success
}

// deliver makes one attempt at a claimed delivery and records it. ctx does
// not end with Run's: an attempt under way finishes (within Timeout) and
// its outcome is written, so it is neither lost nor repeated needlessly.
func (d *Dispatcher) deliver(ctx context.Context, dl *store.Delivery, started time.Time) {
	k := keyOf(dl)
	took := time.Duration(0)
	defer func() { d.done(k, started, took) }()
	log := d.log.With("delivery", dl.ID, "event", dl.EventID, "endpoint", dl.EndpointID, "merchant", dl.MerchantID)

	var ev *store.Event
	var ep *store.WebhookEndpoint
	err := d.c.Store.Read(ctx, func(tx store.Tx) error {
		var err error
		if ev, err = tx.GetEvent(dl.MerchantID, dl.EventID); err != nil {
			return err
		}
		if dl.EndpointID != "" {
			ep, err = tx.GetWebhookEndpoint(dl.MerchantID, dl.EndpointID)
		}
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound) && ev == nil:
		log.Error("webhooks: delivery's event is missing; giving up")
		d.abandon(ctx, log, dl)
		return
	case errors.Is(err, store.ErrNotFound) || (err == nil && ep != nil && ep.Deleted != nil):
		log.Info("webhooks: endpoint deleted; delivery dropped")
		d.abandon(ctx, log, dl)
		return
	case err != nil:
		// The store is failing: the lease lapses and a later poll retries.
		log.Warn("webhooks: loading delivery failed", "error", err)
		return
	}

	res := outcome{at: time.Now().UTC()}
	if dl.Format != "" {
		res, skip := d.sendFormatted(ctx, log, dl, ev)
		if skip {
			d.skip(ctx, log, dl)
			return
		}
		took = res.latency
		d.record(ctx, log, dl, res)
		return
	}
	secrets, err := d.secrets(ctx, dl, ep)
	switch {
	case err != nil:
		log.Warn("webhooks: signing secret unavailable", "error", err)
		res.err = "the signing secret could not be opened"
	default:
		if err := CheckURL(dl.URL, d.c.AllowPrivate); err != nil {
			res.err = "URL not allowed: " + err.Error()
		} else {
			res = d.send(ctx, dl.URL, ev, secrets)
			res.at = res.at.Add(-res.latency)
		}
	}
	took = res.latency
	d.record(ctx, log, dl, res)
}

// secrets returns the keys that sign a delivery: an endpoint's current
// one and, while a rotation's grace runs, its previous one; or the
// merchant's callback key.
func (d *Dispatcher) secrets(ctx context.Context, dl *store.Delivery, ep *store.WebhookEndpoint) ([][]byte, error) {
	if ep == nil {
		k, err := d.c.Secrets.CallbackSecret(ctx, dl.MerchantID)
		if err != nil {
			return nil, err
		}
		return [][]byte{k}, nil
	}
	cur, prev, err := d.c.Secrets.EndpointSecrets(ctx, ep)
	if err != nil {
		return nil, err
	}
	if len(cur) == 0 {
		return nil, errors.New("no current secret")
	}
	keys := [][]byte{cur}
	if len(prev) > 0 && time.Now().Before(ep.PreviousUntil) {
		keys = append(keys, prev)
	}
	return keys, nil
}

// send makes the HTTP request. The body is computed once and both signed
// and sent from the same slice, so what is signed is exactly what arrives.
func (d *Dispatcher) send(ctx context.Context, target string, ev *store.Event, secrets [][]byte) outcome {
	body := Body(ev)
	ctx, cancel := context.WithTimeout(ctx, d.c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return outcome{at: time.Now().UTC(), err: "the request could not be made"}
	}
	ts := time.Now().Unix() // fresh per attempt: receivers reject old timestamps
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sigs[i] = Sign(s, ev.ID, ts, body)
	}
	req.Header.Set("webhook-id", ev.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", strings.Join(sigs, " "))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)

	return d.do(req, nil)
}

// do sends one request and judges the answer with judge (nil: any 2xx).
func (d *Dispatcher) do(req *http.Request, judge func(int, []byte) string) outcome {
	d.attempts.Add(1)
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		return outcome{at: time.Now().UTC(), latency: time.Since(start), err: describe(err, d.c.Timeout)}
	}
	var body []byte
	if judge != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, drainLimit))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	resp.Body.Close()
	res := outcome{at: time.Now().UTC(), status: resp.StatusCode, latency: time.Since(start)}
	if judge == nil {
		judge = Delivered2xx
	}
	res.err = judge(resp.StatusCode, body)
	return res
}

// sendFormatted makes one attempt of a delivery in a provider's format;
// skip reports that the format sends nothing for this event.
func (d *Dispatcher) sendFormatted(ctx context.Context, log *slog.Logger, dl *store.Delivery, ev *store.Event) (res outcome, skip bool) {
	res = outcome{at: time.Now().UTC()}
	f, ok := d.c.Formats[dl.Format]
	if !ok {
		res.err = "unknown delivery format " + strconv.Quote(dl.Format)
		return res, false
	}
	if err := CheckURL(dl.URL, d.c.AllowPrivate); err != nil {
		res.err = "URL not allowed: " + err.Error()
		return res, false
	}
	ctx, cancel := context.WithTimeout(ctx, d.c.Timeout)
	defer cancel()
	req, err := f.Request(ctx, dl.MerchantID, ev, dl.URL)
	if errors.Is(err, ErrSkip) {
		return res, true
	}
	if err != nil {
		// The format's words may name what failed, never card data: it
		// renders events, which hold none.
		log.Warn("webhooks: rendering a delivery failed", "format", dl.Format, "error", err)
		res.err = "the " + dl.Format + " request could not be made"
		return res, false
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent)
	}
	res = d.do(req, f.Delivered)
	res.at = res.at.Add(-res.latency)
	return res, false
}

// skip ends a delivery its format does not send, without an attempt.
func (d *Dispatcher) skip(ctx context.Context, log *slog.Logger, dl *store.Delivery) {
	err := d.c.Store.Write(ctx, func(tx store.Tx) error {
		now := time.Now().UTC()
		cur, err := tx.GetDelivery(dl.ID)
		if err != nil || cur.Status != store.DeliveryPending {
			return err
		}
		cur.Status, cur.LockedUntil, cur.Updated = store.DeliverySkipped, now, now
		return tx.UpdateDelivery(cur)
	})
	if err != nil {
		log.Error("webhooks: skipping a delivery failed", "error", err)
	}
}

// describe turns a transport error into a few words for the delivery log.
// Errors are unwrapped past url.Error, whose text repeats the URL (which
// may carry a receiver's token in its query).
func describe(err error, timeout time.Duration) string {
	var ae *AddressError
	if errors.As(err, &ae) {
		return "connection refused by policy: " + ae.Error()
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return "timed out after " + timeout.String()
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		if de.IsNotFound {
			return "DNS: host not found"
		}
		return "DNS lookup failed"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// record writes an attempt and its consequence in one transaction, and
// releases the lease: the delivery succeeded, waits for its next attempt,
// or — its time up — failed.
func (d *Dispatcher) record(ctx context.Context, log *slog.Logger, dl *store.Delivery, res outcome) {
	if res.err != "" {
		d.failures.Add(1)
	}
	if d.c.Metrics != nil {
		d.c.Metrics.DeliveryAttempt(hostOf(dl.URL), res.err != "", res.latency)
	}
	var after store.Delivery
	err := d.c.Store.Write(ctx, func(tx store.Tx) error {
		now := time.Now().UTC()
		cur, err := tx.GetDelivery(dl.ID)
		if err != nil {
			return err
		}
		n := cur.Attempts + 1
		err = tx.InsertDeliveryAttempt(&store.DeliveryAttempt{ID: id.NewOrdered("dla"), DeliveryID: cur.ID, Attempt: n,
			At: res.at, StatusCode: res.status, LatencyMS: res.latency.Milliseconds(), Error: res.err})
		if err != nil {
			return err
		}
		cur.Attempts, cur.LastStatus, cur.Updated = n, res.status, now
		// A lease that lapsed (this attempt and its write took longer
		// than the lease) may have been taken by another dispatcher: the
		// attempt is still logged, but the schedule is the new holder's.
		owned := !cur.LockedUntil.After(dl.LockedUntil.Add(time.Millisecond))
		switch {
		case cur.Status != store.DeliveryPending:
		case res.err == "":
			cur.Status = store.DeliverySucceeded
		case !owned:
		case now.Sub(cur.Created) >= d.c.MaxAge:
			cur.Status = store.DeliveryFailed
		case d.scheduler(cur) != nil:
			delay, ok := d.scheduler(cur).Retry(n, res.status)
			if !ok {
				cur.Status = store.DeliveryFailed
			} else {
				cur.NextAttempt = now.Add(delay)
			}
		default:
			// The last attempt falls at the end of the window rather than
			// never: a receiver back by then still gets the event.
			cur.NextAttempt = now.Add(d.backoff(n))
			if end := cur.Created.Add(d.c.MaxAge); cur.NextAttempt.After(end) {
				cur.NextAttempt = end
			}
		}
		if owned {
			cur.LockedUntil = now
		}
		after = *cur
		return tx.UpdateDelivery(cur)
	})
	attrs := []any{"attempt", after.Attempts, "status_code", res.status, "latency_ms", res.latency.Milliseconds()}
	switch {
	case err != nil:
		// The lease lapses and the delivery is tried again: at least once.
		log.Error("webhooks: recording an attempt failed", append(attrs, "error", err)...)
	case res.err == "":
		d.succeeded.Add(1)
		log.Info("webhook delivered", attrs...)
	case after.Status == store.DeliveryFailed:
		d.gaveUp.Add(1)
		log.Warn("webhook delivery failed; giving up", append(attrs, "error", res.err)...)
	default:
		log.Warn("webhook attempt failed", append(attrs, "error", res.err, "next_attempt", after.NextAttempt)...)
	}
}

// scheduler is the retry schedule of a delivery's format, if it has one.
func (d *Dispatcher) scheduler(dl *store.Delivery) Scheduler {
	if dl.Format == "" {
		return nil
	}
	s, _ := d.c.Formats[dl.Format].(Scheduler)
	return s
}

// backoff is the delay after the nth failed attempt: RetryBase doubling
// up to MaxRetryDelay, with full jitter over its upper half so receivers
// recovering from an outage are not all retried in the same instant.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.c.RetryBase
	for i := 1; i < n && b < d.c.MaxRetryDelay; i++ {
		b *= 2
	}
	b = min(b, d.c.MaxRetryDelay)
	return b/2 + rand.N(b/2+1)
}

// abandon fails a delivery that can never be sent (its endpoint is gone),
// without an attempt.
func (d *Dispatcher) abandon(ctx context.Context, log *slog.Logger, dl *store.Delivery) {
	err := d.c.Store.Write(ctx, func(tx store.Tx) error {
		now := time.Now().UTC()
		cur, err := tx.GetDelivery(dl.ID)
		if err != nil || cur.Status != store.DeliveryPending {
			return err
		}
		cur.Status, cur.LockedUntil, cur.Updated = store.DeliveryFailed, now, now
		return tx.UpdateDelivery(cur)
	})
	if err != nil {
		log.Error("webhooks: failing a delivery failed", "error", err)
		return
	}
	d.gaveUp.Add(1)
}
