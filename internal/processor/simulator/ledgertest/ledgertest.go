// Package ledgertest is what every simulator.Ledger must give the simulator: the books outlive a
// restart (everything an earlier call did is still in force: captures, voids, refunds, replays
// of a reference, the counters), and several simulators over one set of books act as one
// acquirer under concurrent calls (nothing captured twice, refunded beyond its capture or
// authorized twice under one reference). It runs the simulator's own calls against the Ledger,
// so it checks the rules and the Ledger's isolation together.
//
// It runs against the memory Ledger in package simulator's tests and against the store, SQLite
// and PostgreSQL, in package storeledger's.
package ledgertest

import (
	"context"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
)

// Ledgers is one set of books, new and empty, as a test reaches it.
type Ledgers struct {
	// First is the books as the first server sees them.
	First simulator.Ledger
	// Another returns the books as another server sharing them sees them, while First is in
	// use (it may return First where only one process can use the books).
	Another func() simulator.Ledger
	// Restart closes every handle on the books the test was given and opens them again, as
	// a restarted server does.
	Restart func() simulator.Ledger
}

// Opener makes new, empty books for t; they are removed when t ends.
type Opener func(t *testing.T) Ledgers

// Run runs every check against the books open makes, each with its own.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Ledgers)
	}{
		{"SurvivesRestart", testSurvivesRestart},
		{"Sale", testSale},
		{"Concurrent", testConcurrent},
		{"ConcurrentCapture", testConcurrentCapture},
		{"ConcurrentRefunds", testConcurrentRefunds},
		{"ConcurrentReference", testConcurrentReference},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var ctx = context.Background()

// Card is a test card as the simulator receives it, valid for three more years.
func Card(number string) processor.Card {
	return processor.Card{Number: number, ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: "123", HolderName: "Abu Bin Ali"}
}

func authorize(t *testing.T, s *simulator.Simulator, ref string, amount int64) processor.Authorization {
	t.Helper()
	a, err := s.Authorize(ctx, processor.AuthorizeRequest{MerchantID: "mer_1", Reference: ref, Card: Card(simulator.CardSuccessVisa),
		Amount: amount, Currency: "MYR"})
	if err != nil {
		t.Fatalf("Authorize %s: %v", ref, err)
	}
	return a
}

func closeSim(t *testing.T, s *simulator.Simulator) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
