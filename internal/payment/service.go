// Package payment holds Coffer's domain services, one small type per
// aggregate: Merchants (and their secret, publishable and device keys),
// Customers, Tokens, Payments (and refunds, reconciliation), Sessions (and
// the hosted checkout page), Challenges (3-D Secure), Events (the outbox,
// webhook endpoints) and CardGuard (card-testing defence). They share one
// Sealer, which owns the data keys, seal/open, fingerprints and the key
// caches, and one deps value (store, vault, processor, clock, settings).
// Service composes them for the callers (the native API, the dialects, the
// hosted pages), which see one method set.
//
// The services stay in one package on purpose: an aggregate's operations
// reach into others inside one transaction (a payment's 3-D Secure result
// settles its session; deleting a customer shreds its tokens and emits
// their events) and share unexported views and errors. Separate packages
// would have to export those internals or turn each into an interface for
// no gain in isolation; separate types with explicit peer fields, wired in
// New, give the same boundaries and keep the transactions as they are.
package payment

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/radar"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/vault"
)

// VerifyAmount is the authorization made and voided to verify a card (senangPay's RM1).
const VerifyAmount = 100

// deps are the dependencies and settings every domain service shares. There
// is one value, embedded by pointer in each service, so Configure reaches
// them all.
type deps struct {
	store store.Store
	vault *vault.Vault
	proc  processor.Processor
	auth  processor.Authenticator // nil: the processor offers no 3-D Secure
	log   *slog.Logger

	publicURL    string
	challengeTTL time.Duration
	testMode     bool

	allowPrivateWebhooks bool
	now                  func() time.Time
	metrics              Metrics // nil: nothing is counted (see measure)
}

// Service is the domain core as its callers see it: the per-aggregate
// services, their exported methods promoted.
type Service struct {
	*Sealer
	*Merchants
	*Customers
	*Tokens
	*Payments
	*Sessions
	*Challenges
	*Events
	*Acquirers

	cards *CardGuard
	deps  *deps
}

// storeNow is the clock at the precision the stores keep (microseconds), so
// an object answered at creation equals the same object read back.
func storeNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// New wires a service: every aggregate is built first, then given the peers
// it calls, so no constructor depends on another.
func New(st store.Store, v *vault.Vault, p processor.Processor, log *slog.Logger) *Service {
	d := &deps{store: st, vault: v, proc: p, log: log, now: storeNow,
		publicURL: "http://127.0.0.1:8080", challengeTTL: DefaultChallengeTTL}
	d.auth, _ = p.(processor.Authenticator)

	sealer := &Sealer{deps: d, deks: map[string]vault.DataKey{},
		skCurrent: map[string]*sessionKeyEntry{}, skPrivate: map[string]*rsa.PrivateKey{}}
	events := &Events{deps: d, sealer: sealer, endpoints: newEndpointCache(st)}
	acquirers := &Acquirers{deps: d, sealer: sealer, connectors: map[string]Connector{}, built: map[string]*acquirer{},
		accounts: map[string]accountList{}}
	cards := &CardGuard{deps: d, events: events, radar: radar.New(func() time.Time { return d.now() })}
	merchants := &Merchants{deps: d, sealer: sealer, events: events, authCache: map[string]authEntry{}, uses: newKeyUses(st, log)}
	tokens := &Tokens{deps: d, sealer: sealer, events: events, cards: cards, acquirers: acquirers}
	customers := &Customers{deps: d, tokens: tokens}
	payments := &Payments{deps: d, sealer: sealer, events: events, cards: cards, tokens: tokens, acquirers: acquirers}
	sessions := &Sessions{deps: d, sealer: sealer, events: events, merchants: merchants,
		customers: customers, tokens: tokens, payments: payments}
	challenges := &Challenges{deps: d, sealer: sealer, events: events, merchants: merchants,
		tokens: tokens, payments: payments, sessions: sessions, acquirers: acquirers}
	tokens.challenges, payments.challenges, sessions.challenges = challenges, challenges, challenges
	payments.sessions = sessions

	return &Service{Sealer: sealer, Merchants: merchants, Customers: customers, Tokens: tokens,
		Payments: payments, Sessions: sessions, Challenges: challenges, Events: events, Acquirers: acquirers, cards: cards, deps: d}
}

// RegisterConnector makes processor accounts of type typ possible; call it
// before serving.
func (s *Service) RegisterConnector(typ string, c Connector) { s.Acquirers.connectors[typ] = c }

// Configure applies options; call it before serving.
func (s *Service) Configure(o Options) {
	s.deps.publicURL = strings.TrimRight(o.PublicURL, "/")
	s.deps.testMode = o.TestMode
	s.deps.allowPrivateWebhooks = o.WebhooksAllowPrivate
	s.deps.metrics = o.Metrics
	if o.ChallengeTTL > 0 {
		s.deps.challengeTTL = o.ChallengeTTL
	}
}

// PublicURL is the server's address as card holders' browsers see it, with
// no trailing slash: the base of every page and return URL it hands out.
func (s *Service) PublicURL() string { return s.deps.publicURL }

type ctxKey int

const requestIDKey ctxKey = 1

// WithRequestID carries the request id into audit records.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id carried by ctx.
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// HashSecretKey is how secret keys are stored and looked up: the key has 192
// random bits, so a fast hash is enough and the lookup compares no secret.
func HashSecretKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// isNotFound reports a store miss.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// read runs one lookup in a read transaction: most reads fetch one record.
func read[T any](ctx context.Context, st store.Store, get func(store.Tx) (T, error)) (T, error) {
	var v T
	err := st.Read(ctx, func(tx store.Tx) error {
		var err error
		v, err = get(tx)
		return err
	})
	return v, err
}
