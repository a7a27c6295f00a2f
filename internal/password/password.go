// Package password hashes and checks dashboard users' passwords with
// argon2id. A hash is kept in PHC form with its own random salt and the
// parameters it was made with, so the parameters can be raised later
// without breaking the hashes already stored.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Parameters of new hashes: OWASP's argon2id recommendation (19 MiB, two
// passes, one lane) keeps a sign-in near 30 ms on one core while making
// each guess against a stolen hash cost as much memory.
const (
	memoryKiB = 19 * 1024
	passes    = 2
	lanes     = 1
	saltLen   = 16
	keyLen    = 32
)

// MinLength and MaxLength bound a password: short ones are guessed, and
// argon2 on megabytes of input is a way to burn the server's CPU.
const (
	MinLength = 10
	MaxLength = 1024
)

// ErrMalformed is a stored hash that is not argon2id in PHC form.
var ErrMalformed = errors.New("password: malformed hash")

var b64 = base64.RawStdEncoding

// Check reports why pw may not be a password ("" when it may).
func Check(pw string) string {
	switch {
	case len(pw) < MinLength:
		return fmt.Sprintf("must be at least %d characters", MinLength)
	case len(pw) > MaxLength:
		return fmt.Sprintf("must be at most %d characters", MaxLength)
	}
	return ""
}

// Hash returns pw's argon2id hash in PHC form, with a new random salt.
func Hash(pw string) string {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (Go ≥1.24 panics instead)
	key := argon2.IDKey([]byte(pw), salt, passes, memoryKiB, lanes, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memoryKiB, passes, lanes,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether pw matches the stored hash, comparing in constant
// time with the hash's own parameters.
func Verify(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformed
	}
	var version int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformed
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return false, ErrMalformed
	}
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false, ErrMalformed
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Dummy is a valid hash of no one's password: checking an unknown e-mail
// against it costs what checking a known one does, so timing does not tell
// which e-mails have users. Made on first use, not at every start of every
// command.
var Dummy = sync.OnceValue(func() string { return Hash("coffer dummy password, matches nobody") })
