package store_test

import (
	"reflect"
	"testing"

	"github.com/coffer-vault/coffer/internal/store"
)

// Tx is only the sum of its entity interfaces: each method belongs to
// exactly one of them, so a new method has to find its entity (Go lets two
// embedded interfaces repeat a method silently, and lets Tx grow its own).
// Each stays small enough for a consumer to depend on it alone.
func TestTxIsItsEntityInterfaces(t *testing.T) {
	const most = 15
	parts := []reflect.Type{
		reflect.TypeFor[store.MerchantTx](),
		reflect.TypeFor[store.DataKeyTx](),
		reflect.TypeFor[store.CustomerTx](),
		reflect.TypeFor[store.TokenTx](),
		reflect.TypeFor[store.PaymentTx](),
		reflect.TypeFor[store.SessionTx](),
		reflect.TypeFor[store.ChallengeTx](),
		reflect.TypeFor[store.EventTx](),
		reflect.TypeFor[store.DeliveryTx](),
		reflect.TypeFor[store.IdempotencyTx](),
		reflect.TypeFor[store.InstanceTx](),
		reflect.TypeFor[store.AuditTx](),
		reflect.TypeFor[store.ProcessorAccountTx](),
		reflect.TypeFor[store.APIKeyTx](),
		reflect.TypeFor[store.SimulatorTx](),
		reflect.TypeFor[store.DashboardTx](),
	}
	tx := reflect.TypeFor[store.Tx]()
	owner := map[string]string{}
	for _, p := range parts {
		if !tx.Implements(p) {
			t.Errorf("Tx does not embed %s", p.Name())
		}
		if p.NumMethod() > most {
			t.Errorf("%s has %d methods, more than %d: split it at a seam", p.Name(), p.NumMethod(), most)
		}
		for m := range p.Methods() {
			if o, ok := owner[m.Name]; ok {
				t.Errorf("%s is in both %s and %s", m.Name, o, p.Name())
			}
			owner[m.Name] = p.Name()
		}
	}
	for m := range tx.Methods() {
		if _, ok := owner[m.Name]; !ok {
			t.Errorf("Tx.%s belongs to no entity interface", m.Name)
		}
	}
}
