package payment

import (
	"context"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/relay"
	"github.com/coffer-vault/coffer/internal/store"
)

// The outbound relay (POST /v1/relay): a merchant's request for a
// third-party API, with placeholders for cards in its vault, sent to a
// destination on its relay_destinations allowlist. Templates, escaping, the
// call and the masking of the answer are internal/relay's; this file
// decides who may send which card where, and audits every card it opens.

// maxRelayDestinations bounds the allowlist: a merchant's partners, not a
// list of the internet.
const maxRelayDestinations = 20

// relayCallers share one outbound client per address policy (connection
// reuse across relays); the policy is the webhook one.
var relayCallers = [2]func() *relay.Caller{
	sync.OnceValue(func() *relay.Caller { return relay.NewCaller(false) }),
	sync.OnceValue(func() *relay.Caller { return relay.NewCaller(true) }),
}

func (s *Tokens) relayCaller() *relay.Caller {
	if s.allowPrivateWebhooks {
		return relayCallers[1]()
	}
	return relayCallers[0]()
}

// Relay sends a merchant's request to an allowlisted destination with its
// placeholders replaced by the merchant's cards, and returns the answer
// with every card number masked. Refusals and call failures are
// *relay.Error (400, 403, 502, 504) or *Error (404 for a token not in the
// merchant's vault, 400 cvc_unavailable, 422 for a token that cannot be
// used).
func (s *Tokens) Relay(ctx context.Context, m *store.Merchant, req relay.Request) (*relay.Response, error) {
	tpl, err := relay.Parse(req, s.allowPrivateWebhooks)
	if err != nil {
		return nil, err
	}
	origin := tpl.Origin()
	if !slices.Contains(m.Settings.RelayDestinations, origin) {
		return nil, &relay.Error{Status: 403, Code: "relay_destination_forbidden", Param: "url",
			Message: "The destination " + origin + " is not in this merchant's relay_destinations."}
	}
	// The allowlist was checked when it was set; the server's address
	// policy may have changed since.
	if err := event.CheckURL(tpl.URL(), s.allowPrivateWebhooks); err != nil {
		return nil, &relay.Error{Status: 403, Code: "relay_destination_forbidden", Param: "url",
			Message: "The destination is not allowed: " + err.Error()}
	}
	cards, err := s.RelayCards(ctx, m, tpl.Uses(), origin)
	if err != nil {
		return nil, err
	}
	call, err := tpl.Render(cards)
	clear(cards)
	if err != nil {
		return nil, err
	}
	res, err := s.relayCaller().Do(ctx, call)
	if err != nil {
		s.log.Warn("relay call failed", "request_id", RequestID(ctx), "merchant", m.ID, "destination", origin, "error", err.Error(),
			"cause", relay.Cause(err))
		return nil, err
	}
	return res, nil
}

// RelayCards opens the cards a relay substitutes, by token id: each token
// must be the merchant's (404 naming it otherwise) and usable, and a .cvc
// needs a CVC Coffer still holds for it. One audit record per token
// (action "relay", the destination and the fields in its purpose, the
// request id) is durable before any card is opened.
func (s *Tokens) RelayCards(ctx context.Context, m *store.Merchant, uses []relay.Use, destination string) (map[string]relay.Card, error) {
	if len(uses) == 0 {
		return map[string]relay.Card{}, nil
	}
	toks := make([]*store.Token, len(uses))
	chals := make([]*store.Challenge, len(uses))
	missing := -1
	err := s.store.Read(ctx, func(tx store.Tx) error {
		for i, u := range uses {
			t, err := tx.GetToken(m.ID, u.Token)
			if err != nil {
				missing = i
				return err
			}
			toks[i] = t
			if !u.Needs(relay.FieldCVC) || t.ChallengeID == "" {
				continue
			}
			c, err := tx.GetChallenge(t.ChallengeID)
			if err == nil {
				chals[i] = c
			} else if !isNotFound(err) {
				return err
			}
		}
		return nil
	})
	if isNotFound(err) && missing >= 0 {
		return nil, notFound(uses[missing].Param, "token", uses[missing].Token)
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	audits := make([]*store.Audit, len(uses))
	for i, u := range uses {
		t := toks[i]
		switch {
		case t.Status == store.TokenDisabled:
			return nil, badState("The token %s is disabled; enable it to relay its card.", t.ID)
		case t.Status != store.TokenActive && t.Status != store.TokenRequiresAction || t.CardCT == nil:
			return nil, badState("The token %s holds no card that can be relayed (status %s).", t.ID, t.Status)
		}
		if u.Needs(relay.FieldCVC) && !holdsCVC(chals[i], t, now) {
			return nil, cvcUnavailable(u)
		}
		a := s.auditRecord(ctx, t, "relay to "+destination+" ("+joinFields(u.Fields)+")")
		a.Action = "relay"
		audits[i] = a
	}
	// No card leaves the vault without a trace: every record is durable
	// before the first card is opened.
	if err := s.store.Write(ctx, func(tx store.Tx) error {
		for _, a := range audits {
			if err := tx.InsertAudit(a); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make(map[string]relay.Card, len(uses))
	for i, u := range uses {
		t := toks[i]
		c := relay.Card{ExpMonth: t.ExpMonth, ExpYear: t.ExpYear, HolderName: t.HolderName}
		if u.Needs(relay.FieldNumber) {
			if c.Number, err = s.decryptToken(ctx, t); err != nil {
				return nil, err
			}
		}
		if u.Needs(relay.FieldCVC) {
			sec, err := s.challenges.openSecret(ctx, chals[i])
			if err != nil {
				return nil, err
			}
			if sec.CVC == "" {
				return nil, cvcUnavailable(u)
			}
			c.CVC = sec.CVC
		}
		out[u.Token] = c
	}
	return out, nil
}

// holdsCVC reports whether c is the token's own pending 3-D Secure
// challenge, in time, with its sealed card data still there: the only
// place Coffer keeps a CVC, until the verification it was collected for.
func holdsCVC(c *store.Challenge, t *store.Token, now time.Time) bool {
	return c != nil && c.MerchantID == t.MerchantID && c.ObjectType == "token" && c.ObjectID == t.ID &&
		c.Status == store.ChallengePending && now.Before(c.ExpiresAt) && c.SecretCT != nil
}

func cvcUnavailable(u relay.Use) *Error {
	return invalid(u.CVCParam, "cvc_unavailable",
		"%s: no CVC is held for %s; Coffer keeps a CVC only until the verification it was collected for", u.CVCPlaceholder, u.Token)
}

func joinFields(fs []relay.Field) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// validateRelayDestinations checks the relay allowlist's form and keeps each
// origin canonical (lower case, no default port), as relays compare them:
// http(s) origins with no path, query or credentials, https unless the host
// is a loopback address.
func validateRelayDestinations(st *store.Settings) error {
	const name = "relay_destinations"
	if st.RelayDestinations == nil {
		st.RelayDestinations = []string{}
	}
	if len(st.RelayDestinations) > maxRelayDestinations {
		return invalid(name, "parameter_invalid", "at most %d %s", maxRelayDestinations, name)
	}
	seen := make(map[string]bool, len(st.RelayDestinations))
	kept := st.RelayDestinations[:0]
	for i, d := range st.RelayDestinations {
		u, err := url.Parse(d)
		if err != nil || !isOrigin(d) || u.Port() != "" && !validPort(u.Port()) {
			return invalid(name, "parameter_invalid", "%s[%d] must be an origin like https://api.partner.example (scheme, host and port only)", name, i)
		}
		if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
			return invalid(name, "parameter_invalid", "%s[%d] must be https (plain http only to a loopback address)", name, i)
		}
		if o := relay.Origin(u); !seen[o] {
			seen[o] = true
			kept = append(kept, o)
		}
	}
	st.RelayDestinations = kept
	return nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && len(p) <= 5 && p[0] != '+' && p[0] != '-' && n > 0 && n < 65536
}

func isLoopbackHost(host string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().IsLoopback()
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// checkRelayAddresses applies the webhook address rules to a relay
// allowlist being set (nil: not part of this change), naming the field; a
// destination of the wrong form is left to validateSettings' message.
func (s *Merchants) checkRelayAddresses(v *[]string) error {
	if v == nil {
		return nil
	}
	for i, d := range *v {
		if !isOrigin(d) {
			continue
		}
		if err := event.CheckURL(d, s.allowPrivateWebhooks); err != nil {
			return invalid("relay_destinations", "url_forbidden", "relay_destinations[%d] is not allowed: %s", i, err.Error())
		}
	}
	return nil
}
