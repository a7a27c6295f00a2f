package dashboard

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/coffer-vault/coffer/internal/store"
)

var (
	customersTmpl = page("customers.html")
	customerTmpl  = page("customer.html")
)

// customersView is the customers page's data.
type customersView struct {
	Query     string
	Customers []*store.Customer
	Next      string // the older page's link, "" on the last
	Notice    string
}

// customers lists the merchant's customers, newest first, a page at a
// time: by e-mail or reference when searched, a customer id going
// straight to it.
func (d *Dashboard) customers(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	q := strings.TrimSpace(r.FormValue("q"))
	if strings.HasPrefix(q, "cus_") {
		http.Redirect(w, r, "/dashboard/customers/"+url.PathEscape(q), http.StatusSeeOther)
		return
	}
	f := store.CustomerFilter{Email: q, Reference: q, Limit: listPage}
	if after := r.FormValue("after"); strings.HasPrefix(after, "cus_") {
		f.StartingAfter = after
	}
	cs, more, err := d.svc.ListCustomers(r.Context(), su.user.MerchantID, f)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	v := customersView{Query: q, Customers: cs}
	if more && len(cs) > 0 {
		v.Next = "/dashboard/customers?" + url.Values{"q": {q}, "after": {cs[len(cs)-1].ID}}.Encode()
	}
	v.Notice = doneNotice(r, "cus_", map[string]string{"delete": "Customer %s deleted: its saved cards are erased."})
	d.render(w, r, http.StatusOK, customersTmpl, layoutData{Title: "Customers", Nav: "customers", User: su.user, CSRF: su.csrf, Page: v})
}

// customerView is a customer page's data: its details and its saved cards,
// masked (brand, BIN, last four, expiry), with the saved cards page's actions.
type customerView struct {
	Customer *store.Customer
	Tokens   []*store.Token
	Back     string // where the card actions return: this page
	Notice   string
}

func (d *Dashboard) customer(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	c, toks, err := d.svc.GetCustomer(r.Context(), su.user.MerchantID, r.PathValue("id"))
	if err != nil {
		d.failed(w, r, err)
		return
	}
	v := customerView{Customer: c, Tokens: toks, Back: "/dashboard/customers/" + c.ID, Notice: tokenNotice(r)}
	d.render(w, r, http.StatusOK, customerTmpl, layoutData{Title: "Customer " + c.ID, Nav: "customers", User: su.user, CSRF: su.csrf, Page: v})
}

// deleteCustomer deletes a customer once confirmed, crypto-shredding its
// cards, through the service the API's DELETE /v1/customers/{id} uses.
func (d *Dashboard) deleteCustomer(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	mid, cid := su.user.MerchantID, r.PathValue("id")
	if r.PostFormValue("confirm") != "yes" {
		d.renderError(w, r, http.StatusBadRequest, "Not deleted",
			"Tick the confirmation (confirm) to delete a customer: its saved cards are erased and it cannot be undone.")
		return
	}
	if err := d.svc.DeleteCustomer(r.Context(), mid, cid); err != nil {
		d.failed(w, r, err)
		return
	}
	d.audit(r, mid, su.user.ID, "dashboard.customer_delete", cid, "")
	http.Redirect(w, r, "/dashboard/customers?"+url.Values{"done": {"delete"}, "ref": {cid}}.Encode(), http.StatusSeeOther)
}

// backPath is a form's return page when it is one of the dashboard's own
// paths (no scheme, host, query or dot segments), else "": a redirect
// must never leave the dashboard whatever a form is made to send.
func backPath(s string) string {
	if !dashboardPath.MatchString(s) || strings.Contains(s, "//") || strings.Contains(s, "/.") {
		return ""
	}
	return s
}

var dashboardPath = regexp.MustCompile(`^/dashboard/[A-Za-z0-9_./-]{1,200}$`)
