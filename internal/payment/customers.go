package payment

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/logging"
	"github.com/coffer-vault/coffer/internal/store"
)

// Customers are a merchant's card holders; deleting one shreds its tokens.
type Customers struct {
	*deps
	tokens *Tokens
}

// CustomerParams creates a customer.
type CustomerParams struct {
	Reference string            `json:"reference"`
	Name      string            `json:"name"`
	Email     string            `json:"email"`
	Phone     string            `json:"phone"`
	Metadata  map[string]string `json:"metadata"`
}

func checkText(param, v string, maxLen int) error {
	if utf8.RuneCountInString(v) > maxLen || !utf8.ValidString(v) {
		return invalid(param, "parameter_invalid", "%s must be valid text of at most %d characters", param, maxLen)
	}
	return nil
}

// checkFreeText is checkText for fields stored and shown in clear that
// have no business holding digits runs (order ids, descriptions,
// metadata): a card number typed there would be kept in clear.
func checkFreeText(param, v string, maxLen int) error {
	if err := checkText(param, v, maxLen); err != nil {
		return err
	}
	if logging.HasCardNumber(v) { // the same test as the HTTP layer's guard (internal/wire)
		return invalid(param, "parameter_invalid", "%s must not contain a card number", param)
	}
	return nil
}

// ValidateMetadata applies the limits every object's metadata shares.
func ValidateMetadata(md map[string]string) error {
	if len(md) > 50 {
		return invalid("metadata", "parameter_invalid", "metadata holds at most 50 keys")
	}
	for k, v := range md {
		if k == "" || len(k) > 40 {
			return invalid("metadata", "parameter_invalid", "metadata keys must be 1 to 40 characters")
		}
		if err := checkFreeText("metadata."+k, v, 500); err != nil {
			return err
		}
	}
	return nil
}

// CreateCustomer creates a customer; a reference already in use is a conflict.
func (s *Customers) CreateCustomer(ctx context.Context, merchantID string, p CustomerParams) (*store.Customer, error) {
	p.Reference = strings.TrimSpace(p.Reference)
	for _, f := range []struct {
		name, v string
		max     int
	}{{"reference", p.Reference, 255}, {"name", p.Name, 200}, {"email", p.Email, 254}, {"phone", p.Phone, 40}} {
		if err := checkText(f.name, f.v, f.max); err != nil {
			return nil, err
		}
	}
	if p.Email != "" {
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email {
			return nil, invalid("email", "email_invalid", "email is not a valid address")
		}
	}
	if err := ValidateMetadata(p.Metadata); err != nil {
		return nil, err
	}
	c := &store.Customer{ID: id.NewOrdered("cus"), MerchantID: merchantID, Reference: p.Reference, Name: p.Name,
		Email: p.Email, Phone: p.Phone, Metadata: p.Metadata, Created: s.now()}
	err := s.store.Write(ctx, func(tx store.Tx) error { return tx.InsertCustomer(c) })
	if errors.Is(err, store.ErrConflict) {
		return nil, &Error{Kind: KindConflict, Code: "reference_in_use", Param: "reference",
			Message: "A customer with this reference already exists; find it with GET /v1/customers?reference=…"}
	}
	if err != nil {
		return nil, err
	}
	if c.Metadata == nil {
		c.Metadata = map[string]string{}
	}
	return c, nil
}

// GetCustomer returns a customer and its live tokens.
func (s *Customers) GetCustomer(ctx context.Context, merchantID, customerID string) (*store.Customer, []*store.Token, error) {
	var c *store.Customer
	var toks []*store.Token
	err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		if c, err = tx.GetCustomer(merchantID, customerID); err != nil {
			return err
		}
		toks, _, err = tx.ListTokens(merchantID, store.TokenFilter{CustomerID: customerID, Limit: 100})
		return err
	})
	if isNotFound(err) {
		return nil, nil, notFound("id", "customer", customerID)
	}
	return c, toks, err
}

// FindCustomer finds a customer by the merchant's reference; nil if none.
func (s *Customers) FindCustomer(ctx context.Context, merchantID, reference string) (*store.Customer, error) {
	var c *store.Customer
	err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		c, err = tx.GetCustomerByReference(merchantID, reference)
		return err
	})
	if isNotFound(err) {
		return nil, nil
	}
	return c, err
}

// DeleteCustomer deletes a customer and crypto-shreds all its cards in one transaction.
func (s *Customers) DeleteCustomer(ctx context.Context, merchantID, customerID string) error {
	now := s.now()
	err := s.store.Write(ctx, func(tx store.Tx) error {
		if err := tx.MarkCustomerDeleted(merchantID, customerID, now); err != nil {
			return err
		}
		// Cards waiting for a 3-D Secure challenge keep a CVC sealed in it.
		for after := ""; ; {
			toks, more, err := tx.ListTokens(merchantID, store.TokenFilter{CustomerID: customerID, StartingAfter: after, Limit: 100})
			if err != nil {
				return err
			}
			for _, t := range toks {
				if err := endChallenge(tx, t.ChallengeID, store.ChallengeCanceled, now); err != nil {
					return err
				}
				gone := *t
				gone.Status, gone.CardCT, gone.Updated, gone.Deleted = store.TokenDeleted, nil, now, &now
				if err := s.tokens.tokenEvent(tx, &gone, "token.deleted"); err != nil {
					return err
				}
			}
			if !more || len(toks) == 0 {
				break
			}
			after = toks[len(toks)-1].ID
		}
		_, err := tx.EraseCustomerTokens(merchantID, customerID, now)
		return err
	})
	if isNotFound(err) {
		return notFound("id", "customer", customerID)
	}
	return err
}

// ListCustomers lists a merchant's live customers, newest first: those
// whose e-mail (any case) or reference is f's when f names one.
func (s *Customers) ListCustomers(ctx context.Context, merchantID string, f store.CustomerFilter) ([]*store.Customer, bool, error) {
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 100
	}
	var cs []*store.Customer
	var more bool
	err := s.store.Read(ctx, func(tx store.Tx) error {
		var err error
		cs, more, err = tx.ListCustomers(merchantID, f)
		return err
	})
	if isNotFound(err) { // starting_after names no customer of this merchant
		return nil, false, invalid("starting_after", "parameter_invalid", "starting_after is not a customer of yours")
	}
	return cs, more, err
}
