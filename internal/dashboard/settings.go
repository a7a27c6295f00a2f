package dashboard

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

var settingsTmpl = page("settings.html")

// settingsForm is the settings form as typed: every field PATCH
// /v1/merchant takes, under the API's names, lists one item a line.
type settingsForm struct {
	DefaultCurrency                         string
	RequireCVC, Requires3DS                 bool
	ReturnURL, CallbackURL                  string
	FrameAncestors                          string
	AcceptRaw                               bool
	Suffix, Unverified, DeclineMin, CVCFail string // card_testing; empty is the default
	DeclineRatio                            string
	LegacyAuth                              bool
	LegacyCIDRs                             string
	RelayDestinations                       string
}

// settingsView is the settings page's data.
type settingsView struct {
	MerchantID, Name string
	Form             settingsForm
	Error            string
	ErrorField       string // the API's param at fault (frame_ancestors, card_testing.decline_ratio, …)
	Notice           string
}

// Invalid marks the input of the field at fault for assistive technology.
func (v settingsView) Invalid(field string) template.HTMLAttr {
	if field != v.ErrorField {
		return ""
	}
	return `aria-invalid="true" aria-describedby="error"`
}

func formOf(st store.Settings) settingsForm {
	n := func(i int) string {
		if i == 0 {
			return ""
		}
		return strconv.Itoa(i)
	}
	f := settingsForm{DefaultCurrency: st.DefaultCurrency, RequireCVC: st.RequireCVCForSavedCards, Requires3DS: st.TokenizationRequires3DS,
		ReturnURL: st.TokenizationReturnURL, CallbackURL: st.TokenizationCallbackURL, FrameAncestors: strings.Join(st.FrameAncestors, "\n"),
		AcceptRaw: st.AcceptRawCardData, Suffix: n(st.CardTesting.SuffixCards), Unverified: n(st.CardTesting.UnverifiedPerMinute),
		DeclineMin: n(st.CardTesting.DeclineMin), CVCFail: n(st.CardTesting.CVCFailures), LegacyAuth: st.SenangPayLegacyAuth,
		LegacyCIDRs: strings.Join(st.SenangPayLegacyAuthCIDRs, "\n"), RelayDestinations: strings.Join(st.RelayDestinations, "\n")}
	if st.CardTesting.DeclineRatio != 0 {
		f.DeclineRatio = strconv.FormatFloat(st.CardTesting.DeclineRatio, 'g', -1, 64)
	}
	return f
}

// readForm reads the posted form; an unticked box is absent, so false.
func readForm(r *http.Request) settingsForm {
	v := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	on := func(name string) bool { return r.PostFormValue(name) == "yes" }
	return settingsForm{DefaultCurrency: v("default_currency"), RequireCVC: on("require_cvc_for_saved_cards"),
		Requires3DS: on("tokenization_requires_3ds"), ReturnURL: v("tokenization_return_url"), CallbackURL: v("tokenization_callback_url"),
		FrameAncestors: v("frame_ancestors"), AcceptRaw: on("accept_raw_card_data"),
		Suffix: v("card_testing.suffix_cards_per_hour"), Unverified: v("card_testing.unverified_per_minute"),
		DeclineMin: v("card_testing.decline_min_attempts"), DeclineRatio: v("card_testing.decline_ratio"),
		CVCFail: v("card_testing.cvc_failures_per_hour"), LegacyAuth: on("senangpay_legacy_auth"),
		LegacyCIDRs: v("senangpay_legacy_auth_cidrs"), RelayDestinations: v("relay_destinations")}
}

// lines is a textarea's items, one a line, blank lines dropped.
func lines(s string) []string {
	out := []string{}
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// patch is the form as PATCH /v1/merchant's body: every field set, so the
// form replaces the settings as a whole. Only the numbers are checked
// here (the API's JSON types them); everything else is the service's to judge.
func (f settingsForm) patch() (payment.SettingsPatch, error) {
	var ct store.CardTestingLimits
	for _, n := range []struct {
		name, v string
		to      *int
	}{{"suffix_cards_per_hour", f.Suffix, &ct.SuffixCards}, {"unverified_per_minute", f.Unverified, &ct.UnverifiedPerMinute},
		{"decline_min_attempts", f.DeclineMin, &ct.DeclineMin}, {"cvc_failures_per_hour", f.CVCFail, &ct.CVCFailures}} {
		if n.v == "" {
			continue
		}
		i, err := strconv.Atoi(n.v)
		if err != nil {
			return payment.SettingsPatch{}, &payment.Error{Kind: payment.KindInvalidRequest, Param: "card_testing." + n.name,
				Message: "card_testing." + n.name + " must be a whole number (empty for the default)"}
		}
		*n.to = i
	}
	if f.DeclineRatio != "" {
		r, err := strconv.ParseFloat(f.DeclineRatio, 64)
		if err != nil {
			return payment.SettingsPatch{}, &payment.Error{Kind: payment.KindInvalidRequest, Param: "card_testing.decline_ratio",
				Message: "card_testing.decline_ratio must be a number between 0 and 1 (empty for the default)"}
		}
		ct.DeclineRatio = r
	}
	fa, cidrs, relay := lines(f.FrameAncestors), lines(f.LegacyCIDRs), lines(f.RelayDestinations)
	return payment.SettingsPatch{DefaultCurrency: &f.DefaultCurrency, RequireCVCForSavedCards: &f.RequireCVC,
		TokenizationRequires3DS: &f.Requires3DS, TokenizationReturnURL: &f.ReturnURL, TokenizationCallbackURL: &f.CallbackURL,
		FrameAncestors: &fa, AcceptRawCardData: &f.AcceptRaw, CardTesting: &ct, SenangPayLegacyAuth: &f.LegacyAuth,
		SenangPayLegacyAuthCIDRs: &cidrs, RelayDestinations: &relay}, nil
}

// settings shows the merchant's settings as one form.
func (d *Dashboard) settings(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	m, err := d.svc.GetMerchant(r.Context(), su.user.MerchantID)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	v := settingsView{MerchantID: m.ID, Name: m.Name, Form: formOf(m.Settings)}
	if r.FormValue("done") == "saved" {
		v.Notice = "Settings saved."
	}
	d.render(w, r, http.StatusOK, settingsTmpl, layoutData{Title: "Settings", Nav: "settings", User: su.user, CSRF: su.csrf, Page: v})
}

// saveSettings saves the form through the service PATCH /v1/merchant
// uses, so its rules apply; a refusal shows the form as typed with the
// service's message naming the field.
func (d *Dashboard) saveSettings(w http.ResponseWriter, r *http.Request) {
	su := userOf(r)
	mid := su.user.MerchantID
	before, err := d.svc.GetMerchant(r.Context(), mid)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	f := readForm(r)
	p, err := f.patch()
	var after *store.Merchant
	if err == nil {
		after, err = d.svc.UpdateSettings(r.Context(), mid, p)
	}
	var pe *payment.Error
	if errors.As(err, &pe) {
		v := settingsView{MerchantID: before.ID, Name: before.Name, Form: f, Error: pe.Message, ErrorField: pe.Param}
		d.render(w, r, pe.Kind.HTTPStatus(), settingsTmpl, layoutData{Title: "Settings", Nav: "settings", User: su.user, CSRF: su.csrf, Page: v})
		return
	}
	if err != nil {
		d.failed(w, r, err)
		return
	}
	d.audit(r, mid, su.user.ID, "dashboard.settings_update", mid, "changed: "+strings.Join(changed(before.Settings, after.Settings), ", "))
	http.Redirect(w, r, "/dashboard/settings?done=saved", http.StatusSeeOther)
}

// changed names the settings that differ, under the API's names, for the
// audit record (names only: the values are in the merchant's settings).
func changed(a, b store.Settings) []string {
	var ma, mb map[string]json.RawMessage
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	json.Unmarshal(ja, &ma)
	json.Unmarshal(jb, &mb)
	out := []string{}
	for k, v := range mb {
		if string(ma[k]) != string(v) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		out = append(out, "nothing")
	}
	return out
}
