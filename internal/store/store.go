// Package store defines what Coffer persists and the transactional interface
// every backend implements: Store, and Tx, which embeds one repository
// interface per entity (MerchantTx, TokenTx, PaymentTx…), each declared in
// its entity's file next to the records it stores.
//
// Records here are persistence shapes, never sent as they are. The API's JSON
// shapes are views built from them in internal/payment (TokenView,
// PaymentView, SessionView, EventView…), because an event carries its object
// exactly as the API shows it; httpapi adds the few only it shows (customer,
// merchant, list pages) and each dialect renders its provider's own. The
// small records with json tags (Settings, Verification, PaymentCard,
// ProcessorResult, Failure, Authentication) are stored as JSON columns and
// are also embedded in those views as they are: a tag changes both.
package store

import (
	"context"
	"errors"
)

var (
	// ErrNotFound: no such record for this merchant.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a uniqueness rule was violated.
	ErrConflict = errors.New("store: conflict")
	// ErrContention: concurrent writes kept conflicting and the backend gave
	// up retrying; nothing was written, and the caller may retry.
	ErrContention = errors.New("store: too much contention, retry")
)

// SingleServer is implemented by a store that one server process has to
// itself (SQLite: other processes are CLI commands, which change merchants
// and keys but never what the API alone changes, such as webhook
// endpoints). Such a server may keep what only its API changes cached in
// memory; a store several servers share (PostgreSQL) must be asked.
type SingleServer interface {
	SingleServer() bool
}

// Store is a backend. Write runs fn in a transaction that is durable (fsynced)
// when Write returns nil; if fn returns an error nothing it wrote persists.
// Backends may commit several concurrent Writes together (group commit), so fn
// must be quick and do no I/O outside the transaction. A backend may also run
// fn more than once (PostgreSQL retries serialization failures), so fn must
// reset any state it sets outside the transaction at its start.
type Store interface {
	Read(ctx context.Context, fn func(Tx) error) error
	Write(ctx context.Context, fn func(Tx) error) error
	Ping(ctx context.Context) error
	Close() error
}

// Tx is the repository inside one transaction. Every lookup of a
// merchant-owned record takes the merchant id: scoping is not optional.
type Tx interface {
	MerchantTx
	DataKeyTx
	CustomerTx
	TokenTx
	PaymentTx
	SessionTx
	ChallengeTx
	EventTx
	DeliveryTx
	IdempotencyTx
	InstanceTx
	AuditTx
	ProcessorAccountTx
	APIKeyTx
	SimulatorTx
	DashboardTx
}
