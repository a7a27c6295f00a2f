package senangpay

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/store"
)

// Messages of get_payment_token.
const (
	msgTokenCreated = "Card has been successfully tokenized."
	msgRawOff       = "get_payment_token is disabled for this merchant: it takes card numbers in clear. " +
		"Use the 3-D Secure get-token page (/senangpay/tokenization/{merchant_id}), or turn on the setting accept_raw_card_data."
	msgRaw3DS = "This merchant requires 3-D Secure for every saved card, which get_payment_token cannot do. " +
		"Use the 3-D Secure get-token page (/senangpay/tokenization/{merchant_id})."
	msgNeeds3DS = "This card requires 3-D Secure (OTP) verification. Save it through the 3-D Secure get-token page."
)

// cardParams are the messages for refused card fields, by the core's
// parameter. Fixed words: a core message is free of card data too, but the
// fields here are senangPay's names, and nothing about a card number is
// worth risking an echo.
var cardParams = map[string]string{
	"card.number":      "cc_number is not a valid card number",
	"card.exp_month":   "cc_exp is not a valid, unexpired MMYY expiry",
	"card.exp_year":    "cc_exp is not a valid, unexpired MMYY expiry",
	"card.cvc":         "cc_cvv is not a valid security code for this card",
	"card.holder_name": "name must be at most 100 characters and hold no card number",
}

// GetPaymentToken is senangPay's deprecated 2-D flow: the merchant's server
// sends the card itself. POST /apiv1/get_payment_token with name, email,
// phone, cc_number, cc_exp (MMYY), cc_cvv → {status, token, msg}. The card
// is verified (RM1, voided) like any other. It is refused (403) unless the
// merchant turned accept_raw_card_data on, and whenever the merchant
// requires 3-D Secure for tokenization; a card whose issuer asks for a
// challenge gets status 0 (there is no card holder here to answer it).
func (d *Dialect) GetPaymentToken(w http.ResponseWriter, r *http.Request) {
	m, _, ok := d.merchant(w, r)
	if !ok {
		return
	}
	// Refused before the body is read: a card sent where it is not wanted
	// goes no further than the socket.
	if !m.Settings.AcceptRawCardData {
		fail(w, http.StatusForbidden, msgRawOff)
		return
	}
	if m.Settings.TokenizationRequires3DS {
		fail(w, http.StatusForbidden, msgRaw3DS)
		return
	}
	f, err := form(w, r, "cc_number")
	if err == nil {
		err = require(f, "name", "email", "phone", "cc_number", "cc_exp", "cc_cvv")
	}
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	month, year, ok := parseExpiry(f["cc_exp"])
	if !ok {
		fail(w, http.StatusBadRequest, "cc_exp must be the expiry as MMYY, like 0429")
		return
	}
	name := strings.TrimSpace(f["name"])
	tok, _, err := d.svc.CreateToken(r.Context(), m, payment.TokenParams{
		Card: &payment.CardInput{Number: f["cc_number"], ExpMonth: month, ExpYear: year, CVC: strings.TrimSpace(f["cc_cvv"]), HolderName: name},
		// if_required: the issuer decides, and one that wants its card
		// holder is refused below rather than skipped.
		ThreeDSecure: payment.ThreeDSIfRequired,
		Metadata:     map[string]string{"name": name, "email": strings.TrimSpace(f["email"]), "phone": strings.TrimSpace(f["phone"])}})
	if err != nil {
		var pe *payment.Error
		switch {
		case errors.As(err, &pe) && pe.Kind == payment.KindCard:
			writeJSON(w, http.StatusOK, map[string]any{"status": 0, "token": "0", "msg": orMsg(pe.Message, "The card was declined.")})
		case errors.As(err, &pe) && pe.Kind == payment.KindInvalidRequest && strings.HasPrefix(pe.Param, "card."):
			msg := "the card is not valid"
			if fixed, ok := cardParams[pe.Param]; ok {
				msg = fixed
			}
			fail(w, http.StatusBadRequest, msg)
		case errors.As(err, &pe) && pe.Kind == payment.KindInvalidRequest && strings.HasPrefix(pe.Param, "metadata."):
			fail(w, http.StatusBadRequest, strings.TrimPrefix(pe.Param, "metadata.")+" is not accepted (too long, or it holds a card number)")
		default:
			d.serviceError(w, r, "get_payment_token", err)
		}
		return
	}
	if tok.Status == store.TokenRequiresAction {
		// The issuer wants its card holder (3-D Secure): this flow has none
		// to ask, so the waiting token and its sealed CVC are erased now.
		if err := d.svc.DeleteToken(r.Context(), m.ID, tok.ID); err != nil {
			d.log.WarnContext(r.Context(), "senangpay: erasing a token that needs 3-D Secure failed; the sweeper ends its challenge",
				"token", tok.ID, "error", err.Error())
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": 0, "token": "0", "msg": msgNeeds3DS})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": 1, "token": tok.ID, "msg": msgTokenCreated})
}

// parseExpiry reads senangPay's MMYY (MM/YY is taken too) as a month and a
// four-digit year.
func parseExpiry(s string) (month, year int, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) == 5 && s[2] == '/' {
		s = s[:2] + s[3:]
	}
	if len(s) != 4 || strings.Trim(s, "0123456789") != "" {
		return 0, 0, false
	}
	month, _ = strconv.Atoi(s[:2])
	year, _ = strconv.Atoi(s[2:])
	if month < 1 || month > 12 {
		return 0, 0, false
	}
	return month, 2000 + year, true
}

func orMsg(msg, def string) string {
	if msg == "" {
		return def
	}
	return msg
}
