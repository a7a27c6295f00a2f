// Package event delivers the outbox: a background dispatcher sends every
// pending delivery — an event on its way to a webhook endpoint or a
// session's callback URL — signed the Standard Webhooks way, at least once,
// retrying with backoff until it succeeds or its time is up.
//
// All delivery state lives in the store, so any number of dispatchers (one
// per server instance) can share a database and a restarted one carries on
// where the last one stopped.
package event

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// SecretPrefix starts every signing secret, as Standard Webhooks libraries expect.
const SecretPrefix = "whsec_"

// Body is the exact webhook body for an event. Receivers verify the
// signature over these bytes, so they must not depend on map order or
// anything else that varies: the envelope is written by hand and the
// object (already JSON) is compacted.
func Body(e *store.Event) []byte {
	var b bytes.Buffer
	b.WriteString(`{"id":`)
	writeString(&b, e.ID)
	b.WriteString(`,"type":`)
	writeString(&b, e.Type)
	b.WriteString(`,"created":`)
	writeString(&b, e.Created.UTC().Format(time.RFC3339Nano))
	b.WriteString(`,"data":{"object":`)
	if n := b.Len(); len(bytes.TrimSpace(e.Data)) == 0 || json.Compact(&b, e.Data) != nil {
		// A body that is not JSON would fail every receiver forever;
		// null at least delivers the envelope (id, type) they can act on.
		b.Truncate(n)
		b.WriteString("null")
	}
	b.WriteString(`}}`)
	return b.Bytes()
}

func writeString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // marshalling a string cannot fail
	b.Write(q)
}

// Sign is one Standard Webhooks signature: "v1," and the base64 of
// HMAC-SHA256(secret, msgID.ts.body).
func Sign(secret []byte, msgID string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// NewSecret makes a signing secret: whsec_ and the standard base64 of 32
// random bytes, the form Standard Webhooks libraries decode.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // crypto/rand.Read never fails on supported platforms (Go ≥1.24 panics instead)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// ParseSecret decodes a whsec_ secret into the HMAC key. The specification
// recommends keys of 24 to 64 bytes; anything outside that is a mistake
// (a truncated paste, a secret of another kind), not a key.
func ParseSecret(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, errors.New("event: signing secret does not start with " + SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, errors.New("event: signing secret is not standard base64")
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, errors.New("event: signing secret must be 24 to 64 bytes")
	}
	return key, nil
}
