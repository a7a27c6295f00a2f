package store

import "time"

// InstanceTx stores the heartbeats of server instances sharing the database.
type InstanceTx interface {
	// BeatInstance records that a server instance is alive (inserting it
	// the first time); instances sharing a database judge each other's
	// claims by it.
	BeatInstance(i *Instance) error
	GetInstance(id string) (*Instance, error)
	DeleteInstance(id string) error
	// DeleteInstancesBefore forgets instances whose last beat is older
	// than a time (long dead).
	DeleteInstancesBefore(t time.Time) (int, error)
}

// Instance is one running server sharing the database, known by its
// heartbeat.
type Instance struct {
	ID      string
	Started time.Time
	Beat    time.Time
}
