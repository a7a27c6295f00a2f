package app

import (
	"context"

	"github.com/coffer-vault/coffer/internal/dashboard"
	"github.com/coffer-vault/coffer/internal/store"
)

// CreateDashboardUser adds a user who may sign in to the merchant's
// dashboard; safe while a server runs on the same store.
func CreateDashboardUser(ctx context.Context, c Config, merchantID, email, password string) (*store.DashboardUser, error) {
	if err := dashboard.CheckUser(merchantID, email, password); err != nil {
		return nil, err
	}
	d, err := open(ctx, &c, c.Logger(), false)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return dashboard.CreateUser(ctx, d.store, merchantID, email, password)
}
