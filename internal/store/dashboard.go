package store

import "time"

// DashboardTx stores the dashboard's users and their signed-in sessions.
type DashboardTx interface {
	// InsertDashboardUser adds a user; ErrConflict when the e-mail is taken.
	InsertDashboardUser(u *DashboardUser) error
	// GetDashboardUserByEmail finds a user by e-mail (as stored: callers
	// lower-case it first).
	GetDashboardUserByEmail(email string) (*DashboardUser, error)
	InsertDashboardSession(s *DashboardSession) error
	// GetDashboardSession finds a session by its id's digest, expired ones
	// too (the caller judges), with its user.
	GetDashboardSession(idHash []byte) (*DashboardSession, *DashboardUser, error)
	// DeleteDashboardSession ends a session; ending one already gone is no error.
	DeleteDashboardSession(idHash []byte) error
	// DeleteExpiredDashboardSessions removes sessions expired at before.
	DeleteExpiredDashboardSessions(before time.Time) (int, error)

	// GetDashboardUser finds a user by id.
	GetDashboardUser(id string) (*DashboardUser, error)
	// SetDashboardTOTP stores a user's TOTP state: the sealed secret (nil
	// for none), whether sign-in asks for a code, and the newest step a
	// code was accepted for. ErrNotFound for no such user.
	SetDashboardTOTP(userID string, secretCT []byte, enabled bool, lastStep int64) error
	// UseDashboardTOTPStep records that a code of step was accepted, in one
	// conditional write so that two requests racing with the same code
	// cannot both win: ErrConflict when a code of this step or a later one
	// was accepted already (a replay), ErrNotFound for no such user.
	UseDashboardTOTPStep(userID string, step int64) error
	// InsertDashboardPendingSignIn stores a sign-in waiting for its code.
	InsertDashboardPendingSignIn(p *DashboardPendingSignIn) error
	// GetDashboardPendingSignIn finds a pending sign-in by its id's digest,
	// expired ones too (the caller judges), with its user.
	GetDashboardPendingSignIn(idHash []byte) (*DashboardPendingSignIn, *DashboardUser, error)
	// DeleteDashboardPendingSignIn ends a pending sign-in; one already gone is no error.
	DeleteDashboardPendingSignIn(idHash []byte) error
	// DeleteExpiredDashboardPendingSignIns removes pending sign-ins expired at before.
	DeleteExpiredDashboardPendingSignIns(before time.Time) (int, error)
}

// DashboardUser is one person who may sign in to a merchant's dashboard.
type DashboardUser struct {
	ID         string
	MerchantID string
	Email      string
	// PasswordHash is the argon2id hash in PHC form ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
	PasswordHash string
	Created      time.Time
	// TOTPSecretCT is the sealed TOTP secret, nil when the user has none;
	// one being set up has it with TOTPEnabled false.
	TOTPSecretCT []byte
	// TOTPEnabled makes sign-in ask for a code after the password.
	TOTPEnabled bool
	// TOTPLastStep is the newest 30-second step a code was accepted for.
	TOTPLastStep int64
}

// DashboardSession is a signed-in browser, known by the SHA-256 of the
// random id its cookie holds.
type DashboardSession struct {
	IDHash  []byte
	UserID  string
	Created time.Time
	Expires time.Time
}

// DashboardPendingSignIn is a browser that gave a TOTP user's right
// password and must still give a code: no session exists yet. It is known
// by the SHA-256 of the random id its short-lived cookie holds.
type DashboardPendingSignIn struct {
	IDHash  []byte
	UserID  string
	Created time.Time
	Expires time.Time
}
