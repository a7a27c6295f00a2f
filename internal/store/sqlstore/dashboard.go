package sqlstore

import (
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// dashboardQueries are the queries of store.DashboardTx.
type dashboardQueries struct{ *conn }

const dashboardUserCols = `u.id, u.merchant_id, u.email, u.password_hash, u.created`

func scanDashboardUser(sc scanner) (*store.DashboardUser, error) {
	var u store.DashboardUser
	var created int64
	if err := sc.Scan(&u.ID, &u.MerchantID, &u.Email, &u.PasswordHash, &created); err != nil {
		return nil, notFound(err)
	}
	u.Created = fromTS(created)
	return &u, nil
}

func (t dashboardQueries) InsertDashboardUser(u *store.DashboardUser) error {
	_, err := t.exec(`INSERT INTO dashboard_users (id, merchant_id, email, password_hash, created) VALUES (?, ?, ?, ?, ?)`,
		u.ID, u.MerchantID, u.Email, u.PasswordHash, ts(u.Created))
	return err
}

func (t dashboardQueries) GetDashboardUserByEmail(email string) (*store.DashboardUser, error) {
	return scanDashboardUser(t.row(`SELECT `+dashboardUserCols+` FROM dashboard_users u WHERE u.email = ?`, email))
}

func (t dashboardQueries) InsertDashboardSession(s *store.DashboardSession) error {
	_, err := t.exec(`INSERT INTO dashboard_sessions (id_hash, user_id, created, expires_at) VALUES (?, ?, ?, ?)`,
		s.IDHash, s.UserID, ts(s.Created), ts(s.Expires))
	return err
}

func (t dashboardQueries) GetDashboardSession(idHash []byte) (*store.DashboardSession, *store.DashboardUser, error) {
	var s store.DashboardSession
	var u store.DashboardUser
	var created, expires, uCreated int64
	err := t.row(`SELECT s.id_hash, s.user_id, s.created, s.expires_at, `+dashboardUserCols+`
		FROM dashboard_sessions s JOIN dashboard_users u ON u.id = s.user_id WHERE s.id_hash = ?`, idHash).
		Scan(&s.IDHash, &s.UserID, &created, &expires, &u.ID, &u.MerchantID, &u.Email, &u.PasswordHash, &uCreated)
	if err != nil {
		return nil, nil, notFound(err)
	}
	s.Created, s.Expires, u.Created = fromTS(created), fromTS(expires), fromTS(uCreated)
	return &s, &u, nil
}

func (t dashboardQueries) DeleteDashboardSession(idHash []byte) error {
	_, err := t.exec(`DELETE FROM dashboard_sessions WHERE id_hash = ?`, idHash)
	return err
}

func (t dashboardQueries) DeleteExpiredDashboardSessions(before time.Time) (int, error) {
	res, err := t.exec(`DELETE FROM dashboard_sessions WHERE expires_at <= ?`, ts(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
