package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coffer-vault/coffer/internal/payment"
)

// The processor accounts page: the merchant's acquirer accounts (never
// their credentials, which are sealed when created and only named here),
// creating one with the fields of POST /v1/processor_accounts and deleting
// one, through the service the API uses.

var processorsTmpl = page("processors.html")

// accountTypeView is one account type with its credentials' form fields.
type accountTypeView struct {
	Type        string
	Credentials []credentialField
}

// credentialField is one credential input; its name carries the type, so
// the one form holds every type's fields and the handler takes the chosen
// type's only (the page has no script to show and hide them).
type credentialField struct{ Name, Field string }

// accountRow is a listed account with the names of its sealed credentials.
type accountRow struct {
	payment.ProcessorAccountView
	Credentials []string
}

// processorsView is the page's data; the create form keeps its values
// (never the credentials) when shown again with an error.
type processorsView struct {
	Accounts []accountRow
	Types    []accountTypeView
	Modes    []choice

	Form          payment.ProcessorAccountParams
	CurrencyText  string
	PriorityText  string
	Error, Notice string
}

func credentialFieldName(typ, name string) string { return "cred_" + typ + "_" + name }

func (d *Dashboard) processors(w http.ResponseWriter, r *http.Request) {
	v := processorsView{Notice: doneNotice(r, "pa_", map[string]string{
		"create": "Processor account %s created. Its credentials are sealed and will not be shown again.",
		"delete": "Processor account %s deleted: no new payments go to it.",
	})}
	d.showProcessors(w, r, http.StatusOK, v)
}

func (d *Dashboard) showProcessors(w http.ResponseWriter, r *http.Request, status int, v processorsView) {
	su := userOf(r)
	accounts, err := d.svc.ListProcessorAccounts(r.Context(), su.user.MerchantID)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	creds := map[string][]string{}
	for _, t := range d.svc.AccountTypes() {
		creds[t.Type] = t.Credentials
		tv := accountTypeView{Type: t.Type}
		for _, c := range t.Credentials {
			tv.Credentials = append(tv.Credentials, credentialField{c, credentialFieldName(t.Type, c)})
		}
		v.Types = append(v.Types, tv)
	}
	for _, a := range accounts {
		v.Accounts = append(v.Accounts, accountRow{a, creds[a.Type]})
	}
	if v.Form.Mode == "" {
		v.Form.Mode = "test"
	}
	for _, m := range []string{"test", "live"} {
		v.Modes = append(v.Modes, choice{Value: m, Label: m, Checked: m == v.Form.Mode})
	}
	if v.PriorityText == "" {
		v.PriorityText = "0"
	}
	d.render(w, r, status, processorsTmpl, layoutData{Title: "Processor accounts", Nav: "processors", User: su.user, CSRF: su.csrf, Page: v})
}

// createProcessor creates an account from the form: the chosen type's
// credentials only, currencies comma or space separated.
func (d *Dashboard) createProcessor(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	p := payment.ProcessorAccountParams{Type: r.PostFormValue("type"), Name: strings.TrimSpace(r.PostFormValue("name")),
		BaseURL: strings.TrimSpace(r.PostFormValue("base_url")), Mode: r.PostFormValue("mode")}
	v := processorsView{CurrencyText: strings.TrimSpace(r.PostFormValue("currencies")),
		PriorityText: strings.TrimSpace(r.PostFormValue("priority"))}
	p.Currencies = strings.FieldsFunc(v.CurrencyText, func(c rune) bool { return c == ',' || c == ' ' })
	for _, t := range d.svc.AccountTypes() {
		if t.Type != p.Type {
			continue
		}
		p.Credentials = map[string]string{}
		for _, c := range t.Credentials {
			p.Credentials[c] = strings.TrimSpace(r.PostFormValue(credentialFieldName(t.Type, c)))
		}
	}
	v.Form = p
	v.Form.Credentials = nil // never sent back to the browser
	if v.PriorityText != "" {
		n, err := strconv.Atoi(v.PriorityText)
		if err != nil {
			v.Error = "Priority (priority) must be a whole number from 0 to 1000."
			d.showProcessors(w, r, http.StatusBadRequest, v)
			return
		}
		p.Priority = n
	}
	m, err := d.svc.GetMerchant(r.Context(), su.user.MerchantID)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	a, err := d.svc.CreateProcessorAccount(r.Context(), m, p)
	var pe *payment.Error
	if errors.As(err, &pe) && pe.Kind == payment.KindInvalidRequest {
		v.Error = fieldMessage(err)
		d.showProcessors(w, r, http.StatusBadRequest, v)
		return
	}
	if err != nil {
		d.failed(w, r, err)
		return
	}
	d.audit(r, m.ID, su.user.ID, "dashboard.processor_account_create", a.ID, a.Type+" "+a.Name)
	http.Redirect(w, r, "/dashboard/processors?"+url.Values{"done": {"create"}, "ref": {a.ID}}.Encode(), http.StatusSeeOther)
}

// deleteProcessor stops routing to an account once confirmed.
func (d *Dashboard) deleteProcessor(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	pid := r.PathValue("id")
	if r.PostFormValue("confirm") != "yes" {
		d.renderError(w, r, http.StatusBadRequest, "Not deleted", "Tick the confirmation (confirm) to delete a processor account.")
		return
	}
	if err := d.svc.DeleteProcessorAccount(r.Context(), su.user.MerchantID, pid); err != nil {
		d.failed(w, r, err)
		return
	}
	d.audit(r, su.user.MerchantID, su.user.ID, "dashboard.processor_account_delete", pid, "")
	http.Redirect(w, r, "/dashboard/processors?"+url.Values{"done": {"delete"}, "ref": {pid}}.Encode(), http.StatusSeeOther)
}
