package sqlstore

import (
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// dashboardQueries are the queries of store.DashboardTx.
type dashboardQueries struct{ *conn }

const dashboardUserCols = `u.id, u.merchant_id, u.email, u.password_hash, u.created, u.totp_secret, u.totp_enabled, u.totp_last_step`

// userDest is where a row's dashboardUserCols scan to; finishUser completes u.
func userDest(u *store.DashboardUser, created *int64) []any {
	return []any{&u.ID, &u.MerchantID, &u.Email, &u.PasswordHash, created, &u.TOTPSecretCT, &u.TOTPEnabled, &u.TOTPLastStep}
}

// finishUser converts what scanning left raw; an empty secret is none
// (a backend may hand back NULL as an empty blob).
func finishUser(u *store.DashboardUser, created int64) {
	u.Created = fromTS(created)
	if len(u.TOTPSecretCT) == 0 {
		u.TOTPSecretCT = nil
	}
}

func scanDashboardUser(sc scanner) (*store.DashboardUser, error) {
	var u store.DashboardUser
	var created int64
	if err := sc.Scan(userDest(&u, &created)...); err != nil {
		return nil, notFound(err)
	}
	finishUser(&u, created)
	return &u, nil
}

func (t dashboardQueries) InsertDashboardUser(u *store.DashboardUser) error {
	_, err := t.exec(`INSERT INTO dashboard_users (id, merchant_id, email, password_hash, created, totp_secret, totp_enabled, totp_last_step)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.MerchantID, u.Email, u.PasswordHash, ts(u.Created), nullBytes(u.TOTPSecretCT), u.TOTPEnabled, u.TOTPLastStep)
	return err
}

func (t dashboardQueries) GetDashboardUser(id string) (*store.DashboardUser, error) {
	return scanDashboardUser(t.row(`SELECT `+dashboardUserCols+` FROM dashboard_users u WHERE u.id = ?`, id))
}

func (t dashboardQueries) SetDashboardTOTP(userID string, secretCT []byte, enabled bool, lastStep int64) error {
	res, err := t.exec(`UPDATE dashboard_users SET totp_secret = ?, totp_enabled = ?, totp_last_step = ? WHERE id = ?`,
		nullBytes(secretCT), enabled, lastStep, userID)
	if err != nil {
		return err
	}
	return affected(res)
}

func (t dashboardQueries) UseDashboardTOTPStep(userID string, step int64) error {
	res, err := t.exec(`UPDATE dashboard_users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?`, step, userID, step)
	if err != nil {
		return err
	}
	if err := affected(res); err != nil {
		if _, gerr := t.GetDashboardUser(userID); gerr != nil {
			return gerr
		}
		return fmt.Errorf("%w: TOTP step already used", store.ErrConflict)
	}
	return nil
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
		Scan(append([]any{&s.IDHash, &s.UserID, &created, &expires}, userDest(&u, &uCreated)...)...)
	if err != nil {
		return nil, nil, notFound(err)
	}
	s.Created, s.Expires = fromTS(created), fromTS(expires)
	finishUser(&u, uCreated)
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

func (t dashboardQueries) InsertDashboardPendingSignIn(p *store.DashboardPendingSignIn) error {
	_, err := t.exec(`INSERT INTO dashboard_pending_signins (id_hash, user_id, created, expires_at) VALUES (?, ?, ?, ?)`,
		p.IDHash, p.UserID, ts(p.Created), ts(p.Expires))
	return err
}

func (t dashboardQueries) GetDashboardPendingSignIn(idHash []byte) (*store.DashboardPendingSignIn, *store.DashboardUser, error) {
	var p store.DashboardPendingSignIn
	var u store.DashboardUser
	var created, expires, uCreated int64
	err := t.row(`SELECT p.id_hash, p.user_id, p.created, p.expires_at, `+dashboardUserCols+`
		FROM dashboard_pending_signins p JOIN dashboard_users u ON u.id = p.user_id WHERE p.id_hash = ?`, idHash).
		Scan(append([]any{&p.IDHash, &p.UserID, &created, &expires}, userDest(&u, &uCreated)...)...)
	if err != nil {
		return nil, nil, notFound(err)
	}
	p.Created, p.Expires = fromTS(created), fromTS(expires)
	finishUser(&u, uCreated)
	return &p, &u, nil
}

func (t dashboardQueries) DeleteDashboardPendingSignIn(idHash []byte) error {
	_, err := t.exec(`DELETE FROM dashboard_pending_signins WHERE id_hash = ?`, idHash)
	return err
}

func (t dashboardQueries) DeleteExpiredDashboardPendingSignIns(before time.Time) (int, error) {
	res, err := t.exec(`DELETE FROM dashboard_pending_signins WHERE expires_at <= ?`, ts(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
