package checkout

import (
	"crypto/rand"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/coffer-vault/coffer/internal/payment"
)

// maxChallengeForm bounds a challenge POST: an OTP form is a few dozen bytes.
const maxChallengeForm = 4 << 10

// challengeView is what challenge.html sees.
type challengeView struct {
	payment.ChallengeView
	Heading  string
	Pending  bool
	Attempts string // "3 attempts left"
	Tone     string // css class for the final state's icon
}

var challengeHeadings = map[string]struct{ heading, tone string }{
	"pending":   {"Verify it's you", ""},
	"succeeded": {"You're verified", "ok"},
	"failed":    {"Verification failed", "bad"},
	"expired":   {"This verification has expired", "bad"},
	"completed": {"Verification already completed", "info"},
}

func newChallengeView(v payment.ChallengeView) challengeView {
	h, ok := challengeHeadings[v.State]
	if !ok {
		// A state the page does not know yet is shown as ended rather than
		// as a form that might not be answerable.
		h.heading, h.tone = "Verification ended", "info"
	}
	cv := challengeView{ChallengeView: v, Heading: h.heading, Pending: v.State == "pending", Tone: h.tone}
	switch v.AttemptsLeft {
	case 1:
		cv.Attempts = "1 attempt left"
	default:
		cv.Attempts = strconv.Itoa(v.AttemptsLeft) + " attempts left"
	}
	return cv
}

// Challenge serves the simulator's 3-D Secure challenge (its "ACS") at
// /3ds/{id}: GET shows it, POST answers it with the OTP the holder typed.
func (p *Pages) Challenge(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if id == "" {
			p.challengeError(w, r, id, notFoundErr)
			return
		}
		v, err := p.ch.ChallengePage(r.Context(), id)
		if err != nil {
			p.challengeError(w, r, id, err)
			return
		}
		p.showChallenge(w, r, v)
	case http.MethodPost:
		p.answerChallenge(w, r, id)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		p.renderError(w, r, http.StatusMethodNotAllowed, "Not allowed", "This page cannot be used that way.")
	}
}

func (p *Pages) answerChallenge(w http.ResponseWriter, r *http.Request, id string) {
	r.Body = http.MaxBytesReader(w, r.Body, maxChallengeForm)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			p.renderError(w, r, http.StatusRequestEntityTooLarge, "Something went wrong",
				"The form sent was too large. Go back and try again.")
			return
		}
		p.renderError(w, r, http.StatusBadRequest, "Something went wrong",
			"The form could not be read. Go back and try again.")
		return
	}
	if id == "" {
		p.challengeError(w, r, id, notFoundErr)
		return
	}
	// PostForm, not Form: an OTP put in the query string would sit in
	// browser history and access logs, so it is not accepted from there.
	otp := strings.TrimSpace(r.PostForm.Get("otp"))
	out, err := p.ch.AnswerChallenge(r.Context(), id, otp)
	if err != nil {
		p.challengeError(w, r, id, err)
		return
	}
	if out.Redirect != "" {
		secureFramed(w.Header(), rand.Text(), formOrigins(append(out.View.FormTargets, out.View.ReturnURL)...), out.View.FrameAncestors)
		w.Header().Set("Location", out.Redirect)
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	p.showChallenge(w, r, out.View)
}

func (p *Pages) showChallenge(w http.ResponseWriter, r *http.Request, v payment.ChallengeView) {
	status := v.HTTPStatus
	if status == 0 {
		status = http.StatusOK
	}
	origins := formOrigins(append(v.FormTargets, v.ReturnURL)...)
	p.renderPage(w, r, status, challengeTmpl, layoutData{Page: newChallengeView(v), DataIcon: true}, func(h http.Header, nonce string) {
		secureFramed(h, nonce, origins, v.FrameAncestors)
	})
}

var notFoundErr = &payment.Error{Kind: payment.KindNotFound}

// challengeError answers a failed lookup or answer. The error is logged
// with the challenge id only: the OTP and the form are never logged.
func (p *Pages) challengeError(w http.ResponseWriter, r *http.Request, id string, err error) {
	var pe *payment.Error
	if errors.As(err, &pe) && pe.Kind == payment.KindNotFound {
		p.renderError(w, r, http.StatusNotFound, "Link not valid",
			"This verification link is not valid or has been used.")
		return
	}
	p.log.ErrorContext(r.Context(), "checkout: 3-D Secure challenge failed", "challenge", id, "method", r.Method, "err", err)
	p.renderError(w, r, http.StatusInternalServerError, "Something went wrong",
		"We could not complete this verification. Please try again later.")
}
