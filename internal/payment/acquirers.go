package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/money"
	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/store"
)

// Connector is how Coffer speaks to one type of acquirer. app registers the
// connectors it ships (stripe, authorize_net); "simulator" is built in and
// routes to the server's own acquirer.
type Connector struct {
	// Credentials lists the keys an account's credentials must hold.
	Credentials []string
	// Check, when set, vets the credentials' values before they are sealed
	// (e.g. a Stripe key starts sk_); its error is shown to the merchant.
	Check func(credentials map[string]string) error
	// New returns the acquirer for one account: its base URL ("" for the
	// provider's own), its opened credentials, and an HTTP client that
	// keeps the webhook address rules at dial time.
	New func(baseURL string, credentials map[string]string, client *http.Client) (processor.Processor, error)
}

// Account types.
const (
	AccountStripe       = "stripe"
	AccountAuthorizeNet = "authorize_net"
	AccountSimulator    = "simulator"
)

// Circuit breaker: after breakerFailures calls in a row fail to reach an
// account, it is skipped for breakerOpen, then tried again (one more failure reopens it); a dead
// acquirer so costs the first few payments a timeout, not every payment.
const (
	breakerFailures = 3
	breakerOpen     = 30 * time.Second
	// accountsTTL bounds how long an instance routes by a list of accounts
	// another instance has changed; its own changes apply at once.
	accountsTTL = 5 * time.Second
	// connectorTimeout bounds each call to an acquirer.
	connectorTimeout = 30 * time.Second
)

// Acquirers chooses the acquirer of each call: the server's own (the
// simulator, or what app injected) for a merchant without processor
// accounts, else the merchant's accounts by currency and priority, with
// failover between them and a circuit breaker per account.
type Acquirers struct {
	*deps
	sealer     *Sealer
	connectors map[string]Connector

	mu       sync.Mutex
	built    map[string]*acquirer // by account id
	accounts map[string]accountList
}

type accountList struct {
	list []*store.ProcessorAccount
	at   time.Time
}

// acquirer is one account's processor and breaker.
type acquirer struct {
	account *store.ProcessorAccount // nil: the server's own acquirer
	proc    processor.Processor
	// sharesLog: proc keeps its books in our store (processor.LogSharer),
	// so a payment's record need not be durable before it is asked.
	sharesLog bool

	mu        sync.Mutex
	failures  int
	openUntil time.Time
}

func (a *acquirer) id() string {
	if a.account == nil {
		return ""
	}
	return a.account.ID
}

func (a *acquirer) typ() string {
	if a.account == nil {
		return AccountSimulator
	}
	return a.account.Type
}

// allow reports whether the breaker lets a call through now.
func (a *acquirer) allow(now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failures < breakerFailures || now.After(a.openUntil) {
		return true
	}
	return false
}

// outcome feeds the breaker: reached says the acquirer answered (a decline
// is an answer).
func (a *acquirer) outcome(reached bool, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if reached {
		a.failures = 0
		return
	}
	a.failures++
	if a.failures >= breakerFailures {
		a.openUntil = now.Add(breakerOpen)
	}
}

// unreached reports an error that says the acquirer never acted.
func unreached(err error) bool { return errors.Is(err, processor.ErrUnreachable) }

// ProcessorAccountParams is POST /v1/processor_accounts.
type ProcessorAccountParams struct {
	Type        string            `json:"type"`
	Name        string            `json:"name"`
	Credentials map[string]string `json:"credentials"`
	BaseURL     string            `json:"base_url"`
	Mode        string            `json:"mode"`
	Currencies  []string          `json:"currencies"`
	Priority    int               `json:"priority"`
}

// ProcessorAccountView is a processor account as the API shows it: never its credentials.
type ProcessorAccountView struct {
	ID         string    `json:"id"`
	Object     string    `json:"object"`
	Type       string    `json:"type"`
	Name       string    `json:"name"`
	Mode       string    `json:"mode"`
	Currencies []string  `json:"currencies"`
	Priority   int       `json:"priority"`
	BaseURL    *string   `json:"base_url"`
	Created    time.Time `json:"created"`
}

func viewAccount(a *store.ProcessorAccount) ProcessorAccountView {
	cur := a.Currencies
	if cur == nil {
		cur = []string{}
	}
	return ProcessorAccountView{ID: a.ID, Object: "processor_account", Type: a.Type, Name: a.Name, Mode: a.Mode,
		Currencies: cur, Priority: a.Priority, BaseURL: optional(a.BaseURL), Created: a.Created}
}

// CreateProcessorAccount checks and stores an account, its credentials sealed.
func (s *Acquirers) CreateProcessorAccount(ctx context.Context, m *store.Merchant, p ProcessorAccountParams) (ProcessorAccountView, error) {
	a := &store.ProcessorAccount{ID: id.NewOrdered("pa"), MerchantID: m.ID, Type: p.Type, Name: p.Name, Mode: p.Mode,
		Priority: p.Priority, BaseURL: strings.TrimRight(p.BaseURL, "/"), Created: s.now()}
	if err := s.checkAccount(a, p); err != nil {
		return ProcessorAccountView{}, err
	}
	creds, err := json.Marshal(p.Credentials)
	if err != nil {
		return ProcessorAccountView{}, err
	}
	if a.CredentialsCT, err = s.sealer.seal(ctx, m.ID, "processor_credentials", a.ID, creds); err != nil {
		return ProcessorAccountView{}, err
	}
	if err := s.store.Write(ctx, func(tx store.Tx) error { return tx.InsertProcessorAccount(a) }); err != nil {
		return ProcessorAccountView{}, err
	}
	s.forget(m.ID)
	return viewAccount(a), nil
}

// checkAccount validates an account's parameters, naming the field at fault,
// and fills a's currencies.
func (s *Acquirers) checkAccount(a *store.ProcessorAccount, p ProcessorAccountParams) error {
	if p.Type == "" {
		return invalid("type", "parameter_missing", "type is required: stripe, authorize_net or simulator")
	}
	c, known := s.connectors[p.Type]
	if !known && p.Type != AccountSimulator {
		return invalid("type", "parameter_invalid", "type must be one of %s", strings.Join(s.types(), ", "))
	}
	if err := checkFreeText("name", p.Name, 100); err != nil {
		return err
	}
	switch a.Mode {
	case "":
		a.Mode = "test"
	case "test", "live":
	default:
		return invalid("mode", "parameter_invalid", "mode must be test or live")
	}
	if p.Priority < 0 || p.Priority > 1000 {
		return invalid("priority", "parameter_invalid", "priority must be between 0 and 1000")
	}
	a.Currencies = []string{}
	for i, c := range p.Currencies {
		cur := strings.ToUpper(c)
		if err := money.ValidateCurrency(cur); err != nil {
			return invalid(fmt.Sprintf("currencies[%d]", i), "parameter_invalid", "%v", err)
		}
		if !slices.Contains(a.Currencies, cur) {
			a.Currencies = append(a.Currencies, cur)
		}
	}
	if a.BaseURL != "" {
		if p.Type == AccountSimulator {
			return invalid("base_url", "parameter_invalid", "the simulator account has no base_url")
		}
		if err := event.CheckURL(a.BaseURL, s.allowPrivateWebhooks); err != nil {
			return invalid("base_url", "parameter_invalid", "base_url is not allowed: %v", err)
		}
	}
	for _, k := range c.Credentials {
		if strings.TrimSpace(p.Credentials[k]) == "" {
			return invalid("credentials."+k, "parameter_missing", "credentials.%s is required for a %s account", k, p.Type)
		}
	}
	for k := range p.Credentials {
		if !slices.Contains(c.Credentials, k) {
			return invalid("credentials."+k, "parameter_unknown", "a %s account takes no credential %q", p.Type, k)
		}
	}
	if c.Check != nil {
		if err := c.Check(p.Credentials); err != nil {
			return invalid("credentials", "parameter_invalid", "%v", err)
		}
	}
	return nil
}

func (s *Acquirers) types() []string {
	ts := []string{AccountSimulator}
	for t := range s.connectors {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// ListProcessorAccounts lists the merchant's live accounts in routing order.
func (s *Acquirers) ListProcessorAccounts(ctx context.Context, merchantID string) ([]ProcessorAccountView, error) {
	list, err := read(ctx, s.store, func(tx store.Tx) ([]*store.ProcessorAccount, error) { return tx.ListProcessorAccounts(merchantID) })
	if err != nil {
		return nil, err
	}
	out := make([]ProcessorAccountView, 0, len(list))
	for _, a := range list {
		out = append(out, viewAccount(a))
	}
	return out, nil
}

// GetProcessorAccount reads one live account.
func (s *Acquirers) GetProcessorAccount(ctx context.Context, merchantID, accountID string) (ProcessorAccountView, error) {
	a, err := read(ctx, s.store, func(tx store.Tx) (*store.ProcessorAccount, error) {
		return tx.GetProcessorAccount(merchantID, accountID)
	})
	if isNotFound(err) || err == nil && a.Deleted != nil {
		return ProcessorAccountView{}, notFound("id", "processor_account", accountID)
	}
	if err != nil {
		return ProcessorAccountView{}, err
	}
	return viewAccount(a), nil
}

// DeleteProcessorAccount stops routing to an account. Its payments are
// still captured, refunded and reconciled through it.
func (s *Acquirers) DeleteProcessorAccount(ctx context.Context, merchantID, accountID string) error {
	err := s.store.Write(ctx, func(tx store.Tx) error { return tx.DeleteProcessorAccount(merchantID, accountID, s.now()) })
	if isNotFound(err) {
		return notFound("id", "processor_account", accountID)
	}
	s.forget(merchantID)
	return err
}

func (s *Acquirers) forget(merchantID string) {
	s.mu.Lock()
	delete(s.accounts, merchantID)
	s.mu.Unlock()
}

// live lists the merchant's live accounts, from a cache refreshed every
// accountsTTL.
func (s *Acquirers) live(ctx context.Context, merchantID string) ([]*store.ProcessorAccount, error) {
	now := time.Now()
	s.mu.Lock()
	e, ok := s.accounts[merchantID]
	s.mu.Unlock()
	if ok && now.Sub(e.at) < accountsTTL {
		return e.list, nil
	}
	list, err := read(ctx, s.store, func(tx store.Tx) ([]*store.ProcessorAccount, error) { return tx.ListProcessorAccounts(merchantID) })
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.accounts[merchantID] = accountList{list: list, at: now}
	s.mu.Unlock()
	return list, nil
}

// builtin is the server's own acquirer.
func (s *Acquirers) builtin() *acquirer {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.built[""]
	if !ok {
		a = &acquirer{proc: measured{Processor: s.proc, connector: AccountSimulator, d: s.deps}, sharesLog: processor.SharesLog(s.proc)}
		s.built[""] = a
	}
	return a
}

// build returns the acquirer of an account, opening its credentials once.
func (s *Acquirers) build(ctx context.Context, acct *store.ProcessorAccount) (*acquirer, error) {
	s.mu.Lock()
	a, ok := s.built[acct.ID]
	s.mu.Unlock()
	if ok {
		return a, nil
	}
	a = &acquirer{account: acct, proc: s.proc}
	if acct.Type != AccountSimulator {
		c, known := s.connectors[acct.Type]
		if !known {
			return nil, fmt.Errorf("payment: no connector for processor account type %q", acct.Type)
		}
		raw, err := s.sealer.open(ctx, acct.MerchantID, "processor_credentials", acct.ID, acct.CredentialsCT)
		if err != nil {
			return nil, err
		}
		var creds map[string]string
		if err := json.Unmarshal(raw, &creds); err != nil {
			return nil, err
		}
		if a.proc, err = c.New(acct.BaseURL, creds, event.OutboundClient(s.allowPrivateWebhooks, connectorTimeout)); err != nil {
			return nil, err
		}
	}
	a.sharesLog = processor.SharesLog(a.proc)
	a.proc = measured{Processor: a.proc, connector: acct.Type, d: s.deps}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.built[acct.ID]; ok {
		return b, nil
	}
	s.built[acct.ID] = a
	return a, nil
}

// route lists the acquirers a new payment or verification may go to, in
// order: the chosen account alone, or the live accounts that take the
// currency by priority, or the server's own acquirer when the merchant has
// no accounts. Only the first is tried unless it cannot be reached.
func (s *Acquirers) route(ctx context.Context, merchantID, currency, accountID string) ([]*acquirer, error) {
	list, err := s.live(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	if accountID != "" {
		for _, acct := range list {
			if acct.ID == accountID {
				if !takes(acct, currency) {
					return nil, invalid("processor_account", "parameter_invalid", "the processor account %s does not take %s", accountID, currency)
				}
				a, err := s.build(ctx, acct)
				return []*acquirer{a}, err
			}
		}
		return nil, invalid("processor_account", "resource_missing", "no live processor account %s", accountID)
	}
	if len(list) == 0 {
		return []*acquirer{s.builtin()}, nil
	}
	var out []*acquirer
	for _, acct := range list {
		if !takes(acct, currency) {
			continue
		}
		a, err := s.build(ctx, acct)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, invalid("currency", "parameter_invalid", "none of the merchant's processor accounts takes %s", currency)
	}
	return out, nil
}

func takes(a *store.ProcessorAccount, currency string) bool {
	return len(a.Currencies) == 0 || slices.Contains(a.Currencies, strings.ToUpper(currency))
}

// resume lists the acquirers a recorded payment continues with: the account
// it was sent to first (the acquirer knows its reference), then, unless it
// was pinned to that account, the others after it.
func (s *Acquirers) resume(ctx context.Context, p *store.Payment) ([]*acquirer, error) {
	first, err := s.forPayment(ctx, p)
	if err != nil {
		return nil, err
	}
	if p.Processor.Pinned || first.account == nil {
		return []*acquirer{first}, nil
	}
	rest, err := s.route(ctx, p.MerchantID, p.Currency, "")
	if err != nil {
		return []*acquirer{first}, nil
	}
	out := []*acquirer{first}
	after := false
	for _, a := range rest {
		if after {
			out = append(out, a)
		}
		after = after || a.id() == first.id()
	}
	return out, nil
}

// forPayment is the acquirer a recorded payment went to; a deleted account
// still serves its payments.
func (s *Acquirers) forPayment(ctx context.Context, p *store.Payment) (*acquirer, error) {
	if p.Processor.Account == "" {
		return s.builtin(), nil
	}
	s.mu.Lock()
	a, ok := s.built[p.Processor.Account]
	s.mu.Unlock()
	if ok && a.account.MerchantID == p.MerchantID {
		return a, nil // built already: no read per capture, refund or lookup
	}
	acct, err := read(ctx, s.store, func(tx store.Tx) (*store.ProcessorAccount, error) {
		return tx.GetProcessorAccount(p.MerchantID, p.Processor.Account)
	})
	if err != nil {
		return nil, fmt.Errorf("payment %s: processor account %s: %w", p.ID, p.Processor.Account, err)
	}
	return s.build(ctx, acct)
}

// verify runs a card verification at the first reachable acquirer of the
// route. A verification is voided at once, so one the acquirer may have
// made before failing to answer holds no funds for long: unlike a payment,
// it moves on without asking.
func (s *Acquirers) verify(ctx context.Context, route []*acquirer, r processor.VerifyRequest) (processor.Verification, error) {
	var last error
	for _, a := range route {
		if !a.allow(time.Now()) {
			last = fmt.Errorf("%w: circuit open for account %s", processor.ErrUnreachable, a.id())
			continue
		}
		v, err := a.proc.Verify(ctx, r)
		a.outcome(!unreached(err) && !errors.Is(err, processor.ErrUnavailable), time.Now())
		if err == nil || !unreached(err) && !errors.Is(err, processor.ErrUnavailable) {
			return v, err
		}
		last = err
	}
	return processor.Verification{}, last
}

// verifyCard verifies a card at the acquirers the merchant's route allows
// (accountID: that account only).
func (s *Acquirers) verifyCard(ctx context.Context, accountID string, r processor.VerifyRequest) (processor.Verification, error) {
	route, err := s.route(ctx, r.MerchantID, r.Currency, accountID)
	if err != nil {
		return processor.Verification{}, err
	}
	return s.verify(ctx, route, r)
}

// keeping narrows a route to the accounts whose acquirer keeps cards
// (Authorize.net's payment profiles): a stored card is charged only there.
func (s *Acquirers) keeping(route []*acquirer) ([]*acquirer, error) {
	var out []*acquirer
	for _, a := range route {
		if a.typ() == AccountAuthorizeNet {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, invalid("processor_account", "parameter_invalid", "a card kept at Authorize.net needs an authorize_net processor account that takes this currency")
	}
	return out[:1], nil
}
