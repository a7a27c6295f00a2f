package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/password"
	"github.com/coffer-vault/coffer/internal/store"
)

// UserError is a refused user, naming the field at fault.
type UserError struct {
	Field, Reason string
}

func (e *UserError) Error() string { return e.Field + ": " + e.Reason }

// NormalEmail is the e-mail as stored and looked up: trimmed and lower-case,
// so "Ops@Example.com" signs in as the user made as "ops@example.com".
func NormalEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// CheckUser refuses, before anything is opened, a user CreateUser would refuse.
func CheckUser(merchantID, email, pw string) error {
	if !strings.HasPrefix(merchantID, "mer_") {
		return &UserError{"merchant", "want a merchant id mer_…"}
	}
	e := NormalEmail(email)
	if a, err := mail.ParseAddress(e); err != nil || a.Address != e || len(e) > 254 {
		return &UserError{"email", "not an e-mail address"}
	}
	if why := password.Check(pw); why != "" {
		return &UserError{"password", why}
	}
	return nil
}

// CreateUser adds a dashboard user to a merchant; the password is kept only
// as its argon2id hash.
func CreateUser(ctx context.Context, st store.Store, merchantID, email, pw string) (*store.DashboardUser, error) {
	if err := CheckUser(merchantID, email, pw); err != nil {
		return nil, err
	}
	u := &store.DashboardUser{ID: id.New("usr"), MerchantID: merchantID, Email: NormalEmail(email),
		PasswordHash: password.Hash(pw), Created: time.Now().UTC().Truncate(time.Microsecond)}
	err := st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.GetMerchant(merchantID); err != nil {
			return err
		}
		return tx.InsertDashboardUser(u)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, &UserError{"merchant", fmt.Sprintf("no merchant %s", merchantID)}
	case errors.Is(err, store.ErrConflict):
		return nil, &UserError{"email", "a user with this e-mail exists"}
	}
	return u, err
}
