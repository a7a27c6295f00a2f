package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// The API's JSON shapes. Only BIN, last 4 and the mask of a card ever appear.

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (a *API) viewToken(t *store.Token) payment.TokenView { return a.svc.ViewToken(t) }

func (a *API) viewTokens(ts []*store.Token) []payment.TokenView {
	out := make([]payment.TokenView, 0, len(ts))
	for _, t := range ts {
		out = append(out, a.viewToken(t))
	}
	return out
}

type customerView struct {
	ID        string              `json:"id"`
	Object    string              `json:"object"`
	Reference *string             `json:"reference"`
	Name      string              `json:"name"`
	Email     string              `json:"email"`
	Phone     string              `json:"phone"`
	Metadata  map[string]string   `json:"metadata"`
	Created   time.Time           `json:"created"`
	Tokens    []payment.TokenView `json:"tokens"`
}

func (a *API) viewCustomer(c *store.Customer, toks []*store.Token) customerView {
	return customerView{ID: c.ID, Object: "customer", Reference: strPtr(c.Reference), Name: c.Name, Email: c.Email,
		Phone: c.Phone, Metadata: orEmpty(c.Metadata), Created: c.Created, Tokens: a.viewTokens(toks)}
}

type merchantView struct {
	ID             string `json:"id"`
	Object         string `json:"object"`
	Name           string `json:"name"`
	PublishableKey string `json:"publishable_key"`
	store.Settings
	// CallbackSecret verifies session callback_url deliveries (Standard
	// Webhooks); webhook endpoints have their own secrets.
	CallbackSecret string    `json:"callback_secret,omitempty"`
	Created        time.Time `json:"created"`
}

func viewMerchant(m *store.Merchant) merchantView {
	st := m.Settings // m may be shared (the authentication cache): not written
	if st.RelayDestinations == nil {
		st.RelayDestinations = []string{} // settings saved before relays existed
	}
	return merchantView{ID: m.ID, Object: "merchant", Name: m.Name, PublishableKey: m.PublishableKey, Settings: st, Created: m.Created}
}

type listView[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
}

func list[T any](data []T, more bool) listView[T] {
	if data == nil {
		data = []T{}
	}
	return listView[T]{Object: "list", Data: data, HasMore: more}
}

// pageParams reads ?limit= (default 20, 1..100) and ?starting_after=.
func pageParams(r *http.Request) (limit int, after string, e *apiError) {
	limit = 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return 0, "", invalidParam("limit", "limit must be an integer from 1 to 100.")
		}
		limit = n
	}
	return limit, r.URL.Query().Get("starting_after"), nil
}
