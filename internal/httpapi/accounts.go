package httpapi

import (
	"net/http"

	"github.com/coffer-vault/coffer/internal/payment"
)

func (a accountHandlers) getMerchant(w http.ResponseWriter, r *http.Request) {
	m := merchantOf(r)
	v := viewMerchant(m)
	var err error
	if v.CallbackSecret, err = a.svc.CallbackSecretString(r.Context(), m.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}

func (a accountHandlers) updateMerchant(w http.ResponseWriter, r *http.Request) {
	var p payment.SettingsPatch
	if e := decode(r, &p, false); e != nil {
		writeError(w, e)
		return
	}
	m, err := a.svc.UpdateSettings(r.Context(), merchantOf(r).ID, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, viewMerchant(m))
}

func (a accountHandlers) createCustomer(w http.ResponseWriter, r *http.Request) {
	var p payment.CustomerParams
	if e := decode(r, &p, true); e != nil {
		writeError(w, e)
		return
	}
	c, err := a.svc.CreateCustomer(r.Context(), merchantOf(r).ID, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, a.viewCustomer(c, nil))
}

// findCustomers answers GET /v1/customers?reference=…: a list of zero or one.
func (a accountHandlers) findCustomers(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("reference")
	if ref == "" {
		writeError(w, &apiError{status: 400, Type: "invalid_request_error", Code: "parameter_missing", Param: "reference",
			Message: "Give ?reference= to find a customer by your own id."})
		return
	}
	c, err := a.svc.FindCustomer(r.Context(), merchantOf(r).ID, ref)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := []customerView{}
	if c != nil {
		_, toks, err := a.svc.GetCustomer(r.Context(), c.MerchantID, c.ID)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out = append(out, a.viewCustomer(c, toks))
	}
	writeJSON(w, 200, list(out, false))
}

func (a accountHandlers) getCustomer(w http.ResponseWriter, r *http.Request) {
	c, toks, err := a.svc.GetCustomer(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, a.viewCustomer(c, toks))
}

func (a accountHandlers) deleteCustomer(w http.ResponseWriter, r *http.Request) {
	cid := r.PathValue("id")
	if err := a.svc.DeleteCustomer(r.Context(), merchantOf(r).ID, cid); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"id": cid, "object": "customer", "deleted": true})
}
