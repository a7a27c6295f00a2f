package payment

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
)

// Session keys: the RSA keys card holders' browsers encrypt cards to.
// Generating an RSA-2048 key costs about 100 ms of CPU, so sessions do not
// get one each: a merchant has a small rotating set — a new key for new
// sessions every sessionKeyRotation, each kept while sessions made under it
// can live. A ciphertext is bound to its session by the OAEP label (the
// session id), so a card encrypted for one session cannot be replayed into
// another session under the same key. Keys live in the database (private
// half vault-sealed) so that every server instance can decrypt.

const (
	sessionKeyBits     = 2048
	sessionKeyRotation = 24 * time.Hour
)

// EncryptionKey is a session's public key as the API shows it.
type EncryptionKey struct {
	KID  string         `json:"kid"`
	Alg  string         `json:"alg"`  // RSA-OAEP-256
	SPKI string         `json:"spki"` // standard base64 of the DER SubjectPublicKeyInfo
	JWK  map[string]any `json:"jwk"`
}

type sessionKeyEntry struct {
	key *store.SessionKey
	pub *rsa.PublicKey
}

// currentSessionKey returns the merchant's key for new sessions, making one
// when the newest is older than the rotation period.
func (s *Sealer) currentSessionKey(ctx context.Context, merchantID string) (*sessionKeyEntry, error) {
	now := s.now()
	s.skMu.Lock()
	defer s.skMu.Unlock() // serialises generation: one new key, not one per concurrent request
	if e := s.skCurrent[merchantID]; e != nil && now.Sub(e.key.Created) < sessionKeyRotation {
		return e, nil
	}
	k, err := read(ctx, s.store, func(tx store.Tx) (*store.SessionKey, error) {
		return tx.CurrentSessionKey(merchantID, now.Add(-sessionKeyRotation))
	})
	switch {
	case isNotFound(err):
		if k, err = s.newSessionKey(ctx, merchantID); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	pub, err := parsePublic(k.Public)
	if err != nil {
		return nil, err
	}
	e := &sessionKeyEntry{key: k, pub: pub}
	s.skCurrent[merchantID] = e
	return e, nil
}

func (s *Sealer) newSessionKey(ctx context.Context, merchantID string) (*store.SessionKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, sessionKeyBits)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	k := &store.SessionKey{ID: id.New("kid"), MerchantID: merchantID, Public: pub, Created: s.now()}
	if k.PrivateCT, err = s.seal(ctx, merchantID, "session_key", k.ID, der); err != nil {
		return nil, err
	}
	clear(der)
	if err := s.store.Write(ctx, func(tx store.Tx) error { return tx.InsertSessionKey(k) }); err != nil {
		return nil, err
	}
	s.pkMu.Lock()
	s.skPrivate[merchantID+"/"+k.ID] = priv
	s.pkMu.Unlock()
	return k, nil
}

// sessionPrivateKey opens (once per process) the private half of one of a
// merchant's keys. The cache is keyed by merchant too, so one merchant's
// session can never reach another's key.
func (s *Sealer) sessionPrivateKey(ctx context.Context, merchantID, kid string) (*rsa.PrivateKey, error) {
	ck := merchantID + "/" + kid
	s.pkMu.Lock()
	priv := s.skPrivate[ck]
	s.pkMu.Unlock()
	if priv != nil {
		return priv, nil
	}
	k, err := read(ctx, s.store, func(tx store.Tx) (*store.SessionKey, error) { return tx.GetSessionKey(merchantID, kid) })
	if err != nil {
		return nil, err
	}
	der, err := s.open(ctx, merchantID, "session_key", kid, k.PrivateCT)
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, err
	}
	rk, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("payment: session key is not RSA")
	}
	s.pkMu.Lock()
	s.skPrivate[ck] = rk
	s.pkMu.Unlock()
	return rk, nil
}

func parsePublic(der []byte) (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("payment: session key is not RSA")
	}
	return pub, nil
}

// encryptionKey renders a public key for the API (spki) and browsers (jwk).
func encryptionKey(k *store.SessionKey, pub *rsa.PublicKey) *EncryptionKey {
	b64u := base64.RawURLEncoding.EncodeToString
	return &EncryptionKey{KID: k.ID, Alg: "RSA-OAEP-256", SPKI: base64.StdEncoding.EncodeToString(k.Public),
		JWK: map[string]any{"kty": "RSA", "kid": k.ID, "alg": "RSA-OAEP-256", "use": "enc", "key_ops": []string{"encrypt"},
			"n": b64u(pub.N.Bytes()), "e": b64u(big.NewInt(int64(pub.E)).Bytes())}}
}

// encryptedCard is the JSON a browser encrypts (API.md).
type encryptedCard struct {
	Number     string `json:"number"`
	ExpMonth   int    `json:"exp_month"`
	ExpYear    int    `json:"exp_year"`
	CVC        string `json:"cvc"`
	HolderName string `json:"holder_name"`
}

// CardCipher is how a provider dialect's clients encrypt a card for a
// session: RSA-OAEP-SHA256 under the session's key, either directly or
// wrapping an AES-256-GCM key (the hybrid envelope, base64 of JSON
// {"encryptedKey","nonce","ciphertext"}, each base64), with or without the
// session id as the OAEP label. Their providers bind no label, so such a
// ciphertext is bound to the merchant's current key, not to one session:
// the dialect's confirm is authenticated by the merchant's own credentials.
type CardCipher struct {
	// Field names the encrypted card in errors ("paymentMethod.card.encryptedCard").
	Field string
	// Parse reads the decrypted plaintext in the provider's layout.
	Parse func(plain []byte) (*CardInput, error)
}

// maxEncryptedCard bounds an encrypted card: an RSA-2048 block is 344
// base64 characters; the hybrid envelope wraps one with a short ciphertext.
const maxEncryptedCard = 4096

// decryptCard opens an encrypted_card sent for a session. Every failure is
// the same 400: which step failed tells an attacker nothing useful, and the
// plaintext (a card) never appears in an error.
func (s *Sessions) decryptCard(ctx context.Context, sess *store.Session, b64 string, c *CardCipher) (*CardInput, error) {
	bad := invalid("encrypted_card", "encrypted_card_invalid",
		"encrypted_card could not be decrypted for this session: encrypt the card JSON with RSA-OAEP (SHA-256) under the session's key, with the session id as the OAEP label, and send it base64-encoded")
	if c != nil {
		bad = invalid(c.Field, "encrypted_card_invalid",
			"%s could not be decrypted for this session: encrypt the card JSON with RSA-OAEP (SHA-256) under the session's encryptionKey, directly or wrapping an AES-256-GCM key, and send it base64-encoded", c.Field)
	}
	if len(b64) > maxEncryptedCard {
		return nil, bad
	}
	ct, ok := unbase64(b64)
	if !ok {
		return nil, bad
	}
	priv, err := s.sealer.sessionPrivateKey(ctx, sess.MerchantID, sess.KeyID)
	if err != nil {
		if isNotFound(err) {
			return nil, bad
		}
		return nil, err
	}
	if c != nil {
		plain, ok := openDialectCard(priv, ct, sess.ID)
		if !ok {
			return nil, bad
		}
		defer clear(plain)
		ci, err := c.Parse(plain)
		if err != nil {
			return nil, bad
		}
		return ci, nil
	}
	plain, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ct, []byte(sess.ID))
	if err != nil {
		return nil, bad
	}
	defer clear(plain)
	var ec encryptedCard
	dec := json.NewDecoder(strings.NewReader(string(plain)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ec); err != nil {
		return nil, bad
	}
	return &CardInput{Number: ec.Number, ExpMonth: ec.ExpMonth, ExpYear: ec.ExpYear, CVC: ec.CVC, HolderName: ec.HolderName}, nil
}

// unbase64 reads standard or URL-safe base64, padded or not.
func unbase64(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, true
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	return b, err == nil
}

// openDialectCard opens a plain RSA-OAEP ciphertext or a hybrid envelope,
// with the session id as label or none.
func openDialectCard(priv *rsa.PrivateKey, ct []byte, label string) ([]byte, bool) {
	// Without a label first: the providers' clients set none, so the
	// common case costs one private-key operation.
	oaep := func(b []byte) ([]byte, bool) {
		if p, err := rsa.DecryptOAEP(sha256.New(), nil, priv, b, nil); err == nil {
			return p, true
		}
		p, err := rsa.DecryptOAEP(sha256.New(), nil, priv, b, []byte(label))
		return p, err == nil
	}
	var env struct {
		EncryptedKey string `json:"encryptedKey"`
		Nonce        string `json:"nonce"`
		Ciphertext   string `json:"ciphertext"`
	}
	// An RSA block may begin with '{' by chance: only a JSON object is an envelope.
	if len(ct) == 0 || ct[0] != '{' || json.Unmarshal(ct, &env) != nil {
		return oaep(ct)
	}
	wrapped, ok1 := unbase64(env.EncryptedKey)
	nonce, ok2 := unbase64(env.Nonce)
	sealed, ok3 := unbase64(env.Ciphertext)
	if !ok1 || !ok2 || !ok3 || len(nonce) != 12 {
		return nil, false
	}
	key, ok := oaep(wrapped)
	if !ok {
		return nil, false
	}
	defer clear(key)
	if len(key) != 32 {
		return nil, false
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, false
	}
	gcm, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, false
	}
	plain, err := gcm.Open(nil, nonce, sealed, nil)
	return plain, err == nil
}
