package tokens

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// A new token's answer is the token.created event's own rendering (the
// server renders the token once, before its write, for both): byte for
// byte the event's data, with the headers of every JSON answer.
func TestTokenAnswerIsItsEventsData(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	tok := s.Tokenize(t, sk, map[string]any{"card": harness.Card("4242424242424242"), "metadata": map[string]string{"order": "A-1"}}).Want(t, 201)
	if ct, cc := tok.Header.Get("Content-Type"), tok.Header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Fatalf("headers: Content-Type %q, Cache-Control %q", ct, cc)
	}
	if !bytes.HasSuffix(tok.Raw, []byte("}\n")) {
		t.Fatalf("answer does not end in one newline: %q", harness.Short(tok.Raw))
	}
	list := s.Call(http.MethodGet, "/v1/events?type=token.created&limit=1", sk, nil).Want(t, 200)
	data, _ := list.Body["data"].([]any)
	if len(data) != 1 || harness.Dig(data[0], "data", "object", "id") != tok.Str("id") {
		t.Fatalf("token.created event: %s", harness.Short(list.Raw))
	}
	if !bytes.Contains(list.Raw, []byte(`"data":{"object":`+string(bytes.TrimSuffix(tok.Raw, []byte("\n"))))) {
		t.Fatalf("the answer is not the event's data:\nanswer %s\nevents %s", tok.Raw, list.Raw)
	}
}
