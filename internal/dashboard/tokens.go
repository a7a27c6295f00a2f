package dashboard

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/coffer-vault/coffer/internal/store"
)

// tokensView is the saved cards page's data: masked cards only (brand,
// BIN, last four, expiry), never a number or a holder's name.
type tokensView struct {
	Customer string
	Tokens   []*store.Token
	More     bool
	Notice   string
}

// tokens lists the merchant's saved cards, newest first, or one customer's.
func (d *Dashboard) tokens(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	cus := strings.TrimSpace(r.FormValue("customer"))
	ts, more, err := d.svc.ListTokens(r.Context(), su.user.MerchantID, store.TokenFilter{CustomerID: cus, Limit: listPage})
	if err != nil {
		d.failed(w, r, err)
		return
	}
	v := tokensView{Customer: cus, Tokens: ts, More: more, Notice: tokenNotice(r)}
	d.render(w, r, http.StatusOK, tokensTmpl, layoutData{Title: "Saved cards", Nav: "tokens", User: su.user, CSRF: su.csrf, Page: v})
}

// tokenAction disables, enables or deletes (crypto-shreds, after the
// confirmation) a saved card, as the API's routes do.
func (d *Dashboard) tokenAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		su := userOf(r)
		mid, tid := su.user.MerchantID, r.PathValue("id")
		var err error
		switch action {
		case "disable":
			_, err = d.svc.DisableToken(r.Context(), mid, tid)
		case "enable":
			_, err = d.svc.EnableToken(r.Context(), mid, tid)
		case "delete":
			if r.PostFormValue("confirm") != "yes" {
				d.renderError(w, r, http.StatusBadRequest, "Not deleted", "Tick the confirmation (confirm) to delete a card: it cannot be undone.")
				return
			}
			err = d.svc.DeleteToken(r.Context(), mid, tid)
		}
		if err != nil {
			d.failed(w, r, err)
			return
		}
		d.audit(r, mid, su.user.ID, "dashboard.token_"+action, tid, "")
		to := "/dashboard/tokens"
		if back := backPath(r.PostFormValue("back")); back != "" { // a customer's page
			to = back
		}
		http.Redirect(w, r, to+"?"+url.Values{"done": {action}, "ref": {tid}}.Encode(), http.StatusSeeOther)
	}
}

// tokenNotice is what a card action's redirect (done, ref) says, on the
// saved cards page or the customer's page it came from.
func tokenNotice(r *http.Request) string {
	return doneNotice(r, "tok_", map[string]string{
		"disable": "Card %s disabled: it cannot be charged until enabled.",
		"enable":  "Card %s enabled.",
		"delete":  "Card %s deleted: its encrypted number is erased.",
	})
}
