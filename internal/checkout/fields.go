package checkout

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	_ "embed"

	"github.com/coffer-vault/coffer/internal/payment"
)

// The drop-in card fields: /v1/coffer.js, which a merchant loads into its
// own page, mounts one Coffer-served iframe per field (/v1/fields/{field}).
// The digits live only inside those frames; the merchant's page talks to
// them by postMessage and only ever hears a brand, whether a field is
// complete and an error message. On confirm the number frame gathers the
// other frames' values (Coffer origin to Coffer origin), encrypts the card
// to the session's key and confirms the session itself.

// FieldMerchants is what the card fields need from the payment service:
// the merchant of a publishable key, for who may frame its fields.
type FieldMerchants interface {
	FieldsByPublishableKey(ctx context.Context, pk string) (payment.FieldsView, error)
}

// WithFields serves the drop-in card fields for the merchants fm knows;
// without it the field pages answer 404.
func (p *Pages) WithFields(fm FieldMerchants) *Pages {
	p.fm = fm
	return p
}

var (
	//go:embed assets/coffer.js
	cofferScript []byte
	//go:embed assets/fields.js
	fieldsSource string
	// fieldsScript is inlined in every field page: the shared card rules
	// (card.js, as the checkout page has them), then the field's script.
	fieldsScript = cardScript + "\n" + fieldsSource
	//go:embed assets/fields.css
	fieldsStyle string
	//go:embed templates/field.html
	fieldHTML string

	fieldTmpl = template.Must(template.New("field").Parse(fieldHTML))

	// cofferVersion is coffer.js's ETag: a digest of the script, so a
	// cache revalidates to the same bytes until the binary changes them.
	cofferVersion = func() string {
		sum := sha256.Sum256(cofferScript)
		return hex.EncodeToString(sum[:8])
	}()
)

// fieldLabels are the fields a frame can hold, with what the holder reads.
var fieldLabels = map[string]struct{ label, placeholder, autocomplete, mode string }{
	"number": {"Card number", "1234 1234 1234 1234", "cc-number", "numeric"},
	"expiry": {"Expiry (MM / YY)", "MM / YY", "cc-exp", "numeric"},
	"cvc":    {"Security code", "CVC", "cc-csc", "numeric"},
	"name":   {"Name on card", "Full name", "cc-name", "text"},
}

var (
	channelRe = regexp.MustCompile(`^[A-Za-z0-9]{16,64}$`)
	// Style values go into the frame's stylesheet; html/template escapes
	// them for CSS too, and these keep them to what a style option means.
	colorRe  = regexp.MustCompile(`^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}|rgba?\([0-9., %]{5,40}\))$`)
	sizeRe   = regexp.MustCompile(`^[0-9]{1,2}(\.[0-9])?(px|rem|em)$`)
	familyRe = regexp.MustCompile(`^[A-Za-z0-9 ,"'-]{1,120}$`)
)

// fieldStyle is the merchant's styling of a field, each value checked.
type fieldStyle struct {
	Color, Placeholder, Invalid, Background, FontSize, FontFamily string
}

// fieldPage is what field.html sees.
type fieldPage struct {
	Nonce       string
	Field       string
	Label       string
	Placeholder string
	AutoComp    string
	InputMode   string
	Vars        template.CSS   // the merchant's style options as CSS variables (each checked by styleOf)
	Config      map[string]any // the script's data block
	CSS         template.CSS   // our own embedded stylesheet
	Script      template.JS    // our own embedded script
}

// CofferJS serves GET /v1/coffer.js, the script a merchant's page loads.
// It holds nothing per merchant, so any page may load it and caches may
// keep it a day, revalidating by its content hash.
func (p *Pages) CofferJS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/javascript; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("ETag", `"`+cofferVersion+`"`)
	http.ServeContent(w, r, "coffer.js", time.Time{}, strings.NewReader(string(cofferScript)))
}

// Field serves GET /v1/fields/{field}?pk=…&origin=…&channel=…: one card
// field, framed only by the merchant's frame_ancestors, talking only to
// origin (which must be one of them) and to its sibling frames.
func (p *Pages) Field(w http.ResponseWriter, r *http.Request) {
	field := r.PathValue("field")
	f, ok := fieldLabels[field]
	if !ok {
		p.renderSessionError(w, r, http.StatusNotFound, "Not found", "There is no such card field.")
		return
	}
	q := r.URL.Query()
	channel, origin := q.Get("channel"), q.Get("origin")
	if !channelRe.MatchString(channel) {
		p.renderSessionError(w, r, http.StatusBadRequest, "Bad request", "channel must be 16 to 64 letters and digits.")
		return
	}
	style, bad := styleOf(q)
	if bad != "" {
		p.renderSessionError(w, r, http.StatusBadRequest, "Bad request", "The style option "+bad+" is not valid.")
		return
	}
	if p.fm == nil {
		p.renderSessionError(w, r, http.StatusNotFound, "Not found", "Card fields are not served here.")
		return
	}
	v, err := p.fm.FieldsByPublishableKey(r.Context(), q.Get("pk"))
	if err != nil {
		var pe *payment.Error
		if errors.As(err, &pe) && pe.Kind == payment.KindNotFound {
			p.renderSessionError(w, r, http.StatusNotFound, "Not found", "pk is not a valid publishable key.")
			return
		}
		p.log.ErrorContext(r.Context(), "checkout: looking up a card field's merchant failed", "err", err)
		p.renderSessionError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again later.")
		return
	}
	self := selfOrigin(r)
	if !originAllowed(origin, v.FrameAncestors, self) {
		p.renderSessionError(w, r, http.StatusForbidden, "Not allowed",
			"origin is not one of this merchant's frame_ancestors.")
		return
	}
	nonce := rand.Text()
	fp := fieldPage{
		Nonce: nonce, Field: field, Label: f.label, Placeholder: f.placeholder, AutoComp: f.autocomplete,
		InputMode: f.mode, Vars: style.vars(), CSS: template.CSS(fieldsStyle), Script: template.JS(fieldsScript),
		Config: map[string]any{"field": field, "origin": origin, "channel": channel, "self": self},
	}
	p.renderField(w, r, fp, v.FrameAncestors)
}

// renderField writes a field page whole or a bare 500, under a policy that
// allows its one inline script and style by nonce, requests only to Coffer
// (the session stream and confirm) and framing by the merchant's origins.
func (p *Pages) renderField(w http.ResponseWriter, r *http.Request, fp fieldPage, ancestors []string) {
	var buf strings.Builder
	err := fieldTmpl.Execute(&buf, fp)
	h := w.Header()
	fa := frameAncestorsValue(ancestors)
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+fp.Nonce+"'; style-src 'nonce-"+fp.Nonce+
		"'; img-src data:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors "+fa)
	noStore(h)
	if fa == "'none'" {
		h.Set("X-Frame-Options", "DENY")
	}
	if err != nil {
		p.log.ErrorContext(r.Context(), "checkout: rendering a card field failed", "err", err)
		http.Error(w, "Something went wrong.", http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(buf.String()))
}

// vars is the style as overrides of fields.css's variables. Built here, not
// by html/template, whose CSS filter refuses the commas, quotes and
// parentheses that colors and font lists need; styleOf's patterns admit no
// character that could end the declaration, the rule or the element.
func (s fieldStyle) vars() template.CSS {
	var b strings.Builder
	b.WriteString(":root {")
	for _, v := range [][2]string{{"--text", s.Color}, {"--placeholder", s.Placeholder}, {"--invalid", s.Invalid},
		{"--bg", s.Background}, {"--size", s.FontSize}, {"--family", s.FontFamily}} {
		if v[1] != "" {
			b.WriteString(" " + v[0] + ": " + v[1] + ";")
		}
	}
	b.WriteString(" }")
	return template.CSS(b.String())
}

// styleOf reads the style options; bad names the first invalid one.
func styleOf(q url.Values) (s fieldStyle, bad string) {
	for _, o := range []struct {
		name string
		re   *regexp.Regexp
		to   *string
	}{
		{"color", colorRe, &s.Color}, {"placeholder_color", colorRe, &s.Placeholder}, {"invalid_color", colorRe, &s.Invalid},
		{"background", colorRe, &s.Background}, {"font_size", sizeRe, &s.FontSize}, {"font_family", familyRe, &s.FontFamily},
	} {
		v := q.Get(o.name)
		if v == "" {
			continue
		}
		if !o.re.MatchString(v) {
			return s, o.name
		}
		*o.to = v
	}
	return s, ""
}

// selfOrigin is Coffer's own origin as the browser reached it, what
// 'self' in frame_ancestors stands for.
func selfOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + strings.ToLower(r.Host)
}

// originAllowed reports whether the page that mounts the fields (origin,
// as coffer.js reports it) is one the merchant allows to frame them. The
// frame-ancestors policy is what the browser enforces; this only keeps the
// frames from posting to an origin the merchant never named.
func originAllowed(origin string, ancestors []string, self string) bool {
	o := frameAncestor(origin)
	if o == "" || o != origin || o == "'self'" {
		return false
	}
	for _, a := range ancestors {
		if v := frameAncestor(a); v == o || v == "'self'" && o == self {
			return true
		}
	}
	return false
}
