package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/coffer-vault/coffer/internal/card"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// target is the server under test.
type target struct {
	client *http.Client
	url    string
	key    string
}

// scenario prepares a scenario (validate and pay first create tokens) and
// returns its request function.
func (t *target) scenario(ctx context.Context, name string, tokens int, progress func(string)) (doFunc, error) {
	switch name {
	case Healthz:
		return func(ctx context.Context, _ int) (int, error) {
			return t.send(ctx, http.MethodGet, "/healthz", nil)
		}, nil
	case Tokenize:
		return func(ctx context.Context, _ int) (int, error) {
			return t.send(ctx, http.MethodPost, "/v1/tokens", tokenizeBody(RandomCard()))
		}, nil
	case Pay:
		return t.overTokens(ctx, tokens, "charge", progress, func(id string) (string, []byte) {
			return "/v1/payments", []byte(`{"amount":1000,"currency":"MYR","capture":true,"order_id":"bench","token":"` + id + `"}`)
		})
	case Validate:
		return t.overTokens(ctx, tokens, "validate", progress, func(id string) (string, []byte) {
			return "/v1/tokens/" + id + "/validate", []byte(`{}`)
		})
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}

// overTokens creates n tokens, then POSTs req(token) for each request,
// going round the tokens.
func (t *target) overTokens(ctx context.Context, n int, verb string, progress func(string), req func(id string) (string, []byte)) (doFunc, error) {
	if progress != nil {
		progress(fmt.Sprintf("setup: creating %d tokens to %s", n, verb))
	}
	ids, err := t.createTokens(ctx, n)
	if err != nil {
		return nil, err
	}
	// One shared counter: at these rates an atomic add is noise.
	var next atomic.Uint64
	return func(ctx context.Context, _ int) (int, error) {
		path, body := req(ids[(next.Add(1)-1)%uint64(len(ids))])
		return t.send(ctx, http.MethodPost, path, body)
	}, nil
}

// send makes one request and drains the answer so the connection is reused.
func (t *target) send(ctx context.Context, method, path string, body []byte) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.url+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if t.key != "" && strings.HasPrefix(path, "/v1/") {
		req.Header.Set("Authorization", "Bearer "+t.key)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// createTokens tokenizes n random cards, one request each, and returns the ids.
func (t *target) createTokens(ctx context.Context, n int) ([]string, error) {
	ids := make([]string, 0, n)
	for range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url+"/v1/tokens", bytes.NewReader(tokenizeBody(RandomCard())))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+t.key)
		resp, err := t.client.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("POST /v1/tokens: %s: %s", resp.Status, bytes.TrimSpace(body))
		}
		var tok struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(body, &tok); err != nil || tok.ID == "" {
			return nil, fmt.Errorf("POST /v1/tokens: no token id in %s", bytes.TrimSpace(body))
		}
		if tok.Status != "active" {
			return nil, fmt.Errorf("POST /v1/tokens: token %s is %q, want active", tok.ID, tok.Status)
		}
		ids = append(ids, tok.ID)
	}
	return ids, nil
}

// Card is a test card for the tokenize request.
type Card struct {
	Number   string `json:"number"`
	ExpMonth int    `json:"exp_month"`
	ExpYear  int    `json:"exp_year"`
	CVC      string `json:"cvc"`
	Holder   string `json:"holder_name"`
}

// CardPrefix is the start of every generated number: a Visa test range
// that none of the simulator's special test cards (4000…) falls in, so each
// generated card simply succeeds.
const CardPrefix = "424242"

// RandomCard returns a Luhn-valid 16-digit Visa test number (CardPrefix,
// nine random digits, check digit) with an expiry two to three years ahead
// and a random CVC. math/rand/v2's top-level functions are safe and cheap
// from many goroutines.
func RandomCard() Card {
	var b [15]byte
	copy(b[:], CardPrefix)
	for i := len(CardPrefix); i < len(b); i++ {
		b[i] = byte('0' + rand.IntN(10))
	}
	return Card{
		Number:   card.CompleteLuhn(string(b[:])),
		ExpMonth: 1 + rand.IntN(12),
		ExpYear:  time.Now().Year() + 3,
		CVC:      benchCVC(b[8:11]),
		Holder:   "Bench Tester",
	}
}

// benchCVC is three of the number's digits, but never 000: all zeros is the
// simulator's incorrect CVC for every card, and every generated card is to
// succeed.
func benchCVC(d []byte) string {
	if string(d) == "000" {
		return "100"
	}
	return string(d)
}

func tokenizeBody(c Card) []byte {
	b, _ := json.Marshal(struct {
		Card   Card `json:"card"`
		Verify bool `json:"verify"`
	}{c, true})
	return b
}
