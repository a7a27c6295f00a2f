package sqlite

import (
	"context"
	"strings"
	"testing"
)

// The customer indexes are partial (customer_id IS NOT NULL): writes of
// tokens and payments without a customer skip them, and the queries that
// name a customer still use them.
func TestCustomerIndexesArePartialAndUsed(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for table, index := range map[string]string{"tokens": "tokens_customer", "payments": "payments_customer"} {
		var def string
		if err := s.r.QueryRow(`SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?`, index).Scan(&def); err != nil {
			t.Fatalf("%s: %v", index, err)
		}
		if !strings.Contains(def, "WHERE customer_id IS NOT NULL") {
			t.Errorf("%s is not partial: %s", index, def)
		}
		// The listing query of a customer's records (sqlstore's page()).
		for _, q := range []string{
			`SELECT id FROM ` + table + ` WHERE merchant_id = ? AND customer_id = ? ORDER BY created DESC, id DESC LIMIT ?`,
			`SELECT id FROM ` + table + ` WHERE merchant_id = ? AND deleted_at IS NULL AND customer_id = ? ORDER BY created DESC, id DESC LIMIT ?`,
		} {
			if table == "payments" && strings.Contains(q, "deleted_at") {
				continue
			}
			rs, err := s.r.Query(`EXPLAIN QUERY PLAN `+q, "mer_x", "cus_x", 10)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rs.Next() {
				var id, parent, unused int
				var detail string
				if err := rs.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rs.Close()
			if p := strings.Join(plan, "; "); !strings.Contains(p, "INDEX "+index+" (merchant_id=? AND customer_id=?)") {
				t.Errorf("%s: plan %q does not use %s", q, p, index)
			}
		}
	}
}
