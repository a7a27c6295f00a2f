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
}

// DashboardUser is one person who may sign in to a merchant's dashboard.
type DashboardUser struct {
	ID         string
	MerchantID string
	Email      string
	// PasswordHash is the argon2id hash in PHC form ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
	PasswordHash string
	Created      time.Time
}

// DashboardSession is a signed-in browser, known by the SHA-256 of the
// random id its cookie holds.
type DashboardSession struct {
	IDHash  []byte
	UserID  string
	Created time.Time
	Expires time.Time
}
