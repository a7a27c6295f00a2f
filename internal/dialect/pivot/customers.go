package pivot

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// Customers: customerId is the Coffer customer id (cus_…). A session's
// customer object is found by its email (reference "pivot:email:<email>",
// lower case) or, without one, its phone number ("pivot:phone:+<cc> <n>"),
// and created when not found, with its names and phone as sent; a
// customer with neither is created afresh each time. A customer found
// keeps the names it was created with.

// CustomerReference is the Coffer customer reference a Pivot customer
// object is found by ("" when it has neither email nor phone).
func CustomerReference(c *customerIn) string {
	if e := strings.ToLower(strings.TrimSpace(c.Email)); e != "" {
		return "pivot:email:" + e
	}
	if ph := phoneText(c.PhoneNumber); ph != "" {
		return "pivot:phone:" + ph
	}
	return ""
}

// phoneText is a phone number as Coffer keeps it: "+<country code> <number>".
func phoneText(p *phoneIn) string {
	if p == nil || strings.TrimSpace(p.Number) == "" {
		return ""
	}
	cc := strings.TrimPrefix(strings.TrimSpace(p.CountryCode), "+")
	n := strings.TrimSpace(p.Number)
	if cc == "" {
		return n
	}
	return "+" + cc + " " + n
}

// sessionCustomer resolves customerId or the customer object: to an
// existing Coffer customer id, or to the customer the session is to create
// (the core creates it only once the whole session has passed its checks,
// so a refused request leaves no customer behind); neither for none.
func (d *Dialect) sessionCustomer(ctx context.Context, m *store.Merchant, customerID string, c *customerIn) (string, *payment.CustomerParams, error) {
	if customerID = strings.TrimSpace(customerID); customerID != "" {
		if len(customerID) > 64 {
			return "", nil, newError(http.StatusNotFound, codeNotFound, msgCustomerNotFound)
		}
		cu, _, err := d.svc.GetCustomer(ctx, m.ID, customerID)
		var pe *payment.Error
		if errors.As(err, &pe) && pe.Kind == payment.KindNotFound {
			return "", nil, newError(http.StatusNotFound, codeNotFound, msgCustomerNotFound)
		}
		if err != nil {
			return "", nil, err
		}
		return cu.ID, nil, nil
	}
	if c == nil {
		return "", nil, nil
	}
	surname := c.Surname
	if surname == "" {
		surname = c.SureName
	} else if c.SureName != "" && c.SureName != c.Surname {
		return "", nil, badRequest("customer.surname and customer.sureName disagree; send one")
	}
	given, surname := strings.TrimSpace(c.GivenName), strings.TrimSpace(surname)
	ref := CustomerReference(c)
	if ref == "" && given == "" && surname == "" {
		return "", nil, nil // an empty customer object names nobody
	}
	if ref != "" {
		cu, err := d.svc.FindCustomer(ctx, m.ID, ref)
		if err != nil {
			return "", nil, err
		}
		if cu != nil {
			return cu.ID, nil, nil
		}
	}
	md := map[string]string{}
	if given != "" {
		md[metaGiven] = given
	}
	if surname != "" {
		md[metaSurname] = surname
	}
	return "", &payment.CustomerParams{Reference: ref, Name: strings.TrimSpace(given + " " + surname), Email: strings.TrimSpace(c.Email),
		Phone: phoneText(c.PhoneNumber), Metadata: md}, nil
}

type phoneOut struct {
	CountryCode string `json:"countryCode"`
	Number      string `json:"number"`
}

type storedCard struct {
	Fingerprint         string  `json:"fingerprint"`
	Network             string  `json:"network"`
	First6              string  `json:"first6"`
	First8              *string `json:"first8"`
	Last4               string  `json:"last4"`
	ExpMonth            string  `json:"expMonth"`
	ExpYear             string  `json:"expYear"`
	CardHolderFirstName string  `json:"cardHolderFirstName"`
	CardHolderLastName  string  `json:"cardHolderLastName"`
}

type storedMethod struct {
	Token          string     `json:"token"`
	PaymentMethod  string     `json:"paymentMethod"`
	PaymentChannel string     `json:"paymentChannel"`
	Status         string     `json:"status"`
	CreatedAt      string     `json:"createdAt"`
	Card           storedCard `json:"card"`
}

type customerOut struct {
	ID                   string         `json:"id"`
	CustomerID           string         `json:"customerId"`
	GivenName            string         `json:"givenName"`
	SureName             string         `json:"sureName"`
	Surname              string         `json:"surname"`
	Email                *string        `json:"email"`
	PhoneNumber          *phoneOut      `json:"phoneNumber"`
	StoredPaymentMethods []storedMethod `json:"storedPaymentMethods"`
	CreatedAt            string         `json:"createdAt"`
}

// SplitHolder splits a card holder's name: the first word is the first
// name, the rest the last name.
func SplitHolder(name string) (first, last string) {
	f := strings.Fields(name)
	if len(f) == 0 {
		return "", ""
	}
	return f[0], strings.Join(f[1:], " ")
}

// TokenStatus is a stored card's status as Pivot shows it; "" hides it
// (not yet verified, or failed).
func TokenStatus(status string) string {
	switch status {
	case store.TokenActive:
		return "ACTIVE"
	case store.TokenDisabled:
		return "INACTIVE"
	}
	return ""
}

func renderCustomer(c *store.Customer, toks []*store.Token) customerOut {
	o := customerOut{ID: c.ID, CustomerID: c.ID, GivenName: c.Metadata[metaGiven], SureName: c.Metadata[metaSurname],
		Email: optional(c.Email), StoredPaymentMethods: []storedMethod{}, CreatedAt: iso(c.Created)}
	if o.GivenName == "" && o.SureName == "" {
		o.GivenName, o.SureName = SplitHolder(c.Name) // a customer made by the native API
	}
	o.Surname = o.SureName
	if c.Phone != "" {
		ph := phoneOut{Number: c.Phone}
		if cc, n, ok := strings.Cut(c.Phone, " "); ok && strings.HasPrefix(cc, "+") {
			ph = phoneOut{CountryCode: strings.TrimPrefix(cc, "+"), Number: n}
		}
		o.PhoneNumber = &ph
	}
	for _, t := range toks {
		st := TokenStatus(t.Status)
		if st == "" {
			continue
		}
		first6, first8 := bins(t.BIN)
		fn, ln := SplitHolder(t.HolderName)
		o.StoredPaymentMethods = append(o.StoredPaymentMethods, storedMethod{Token: t.ID, PaymentMethod: "CARD",
			PaymentChannel: network(t.Brand), Status: st, CreatedAt: iso(t.Created),
			Card: storedCard{Fingerprint: t.Fingerprint, Network: network(t.Brand), First6: first6, First8: first8, Last4: t.Last4,
				ExpMonth: monthText(t.ExpMonth), ExpYear: yearText(t.ExpYear), CardHolderFirstName: fn, CardHolderLastName: ln}})
	}
	return o
}

// GetCustomer reads a customer and its stored cards: GET /v1/customers/{customerId}.
func (d *Dialect) GetCustomer(w http.ResponseWriter, r *http.Request) {
	m, ok := d.authorize(w, r)
	if !ok {
		return
	}
	id := r.PathValue("customerId")
	if len(id) > 64 {
		writeError(w, newError(http.StatusNotFound, codeNotFound, msgCustomerNotFound))
		return
	}
	c, toks, err := d.svc.GetCustomer(r.Context(), m.ID, id)
	if err != nil {
		d.fail(w, r, "customer", err)
		return
	}
	writeOK(w, renderCustomer(c, toks))
}
