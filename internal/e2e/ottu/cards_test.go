package ottu

// The saved-card list: order, preference and agreements.

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestOttuCardsNewestPreferred: with two saved cards the list is newest
// first and only the newest is preferred (the store lists tokens newest
// first; the dialect once reversed them and preferred the oldest).
func TestOttuCardsNewestPreferred(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	cus := s.Call("POST", "/v1/customers", sk, map[string]any{"reference": "cust_two"}).Want(t, 201).Str("id")
	var toks []string
	for _, pan := range []string{"4242424242424242", "5555555555554444"} {
		toks = append(toks, s.Call("POST", "/v1/tokens", sk, map[string]any{"customer": cus,
			"card": map[string]any{"number": pan, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}).Want(t, 201).Str("id"))
		time.Sleep(5 * time.Millisecond) // distinct creation times
	}
	cards := harness.OttuArray(t, harness.OttuCall(t, s, "GET", "/b/pbl/v2/card/?customer_id=cust_two", sk, nil).Want(t, 200))
	if len(cards) != 2 || cards[0]["token"] != toks[1] || cards[0]["is_preferred"] != true || cards[1]["is_preferred"] != false {
		t.Errorf("cards: %v", cards)
	}
}

// Regression: a saved card's agreements[] was always empty
// and the list ignored agreement_id. A card saved by paying an auto_debit checkout under
// agreement agr-L belongs to that agreement (PROVIDERS.md lists
// agreements[] among the card's fields and agreement_id as the list's
// filter, per Ottu's SDK); the answer said it had none, and listing with
// another agreement's id still returned it, so a merchant filtering by
// agreement got cards the holder never agreed to for it. Guarded:
// agreements[] names agr-L; agreement_id "agr-other" lists [].
func TestOttuCardAgreements(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := savedOnAutoDebit(t, s, sk, "cust_list", "agr-L")
	l := harness.OttuArray(t, harness.OttuCall(t, s, "POST", "/b/pbl/v2/card/", sk, map[string]any{"customer_id": "cust_list", "type": "sandbox"}).Want(t, 200))
	if len(l) != 1 || l[0]["token"] != tok {
		t.Fatalf("cards: %v", l)
	}
	if ag, _ := l[0]["agreements"].([]any); len(ag) == 0 || !bytes.Contains([]byte(fmt.Sprint(ag)), []byte("agr-L")) {
		t.Errorf("a card saved under agreement agr-L lists agreements %v", l[0]["agreements"])
	}
	other := harness.OttuArray(t, harness.OttuCall(t, s, "POST", "/b/pbl/v2/card/", sk, map[string]any{"customer_id": "cust_list", "type": "sandbox",
		"agreement_id": "agr-other"}).Want(t, 200))
	if len(other) != 0 {
		t.Errorf("agreement_id agr-other listed the card of agr-L: %v", other)
	}
}
