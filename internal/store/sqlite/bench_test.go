package sqlite

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/vault"
)

// BenchmarkTokenWrite measures the single writer alone: what a tokenization
// writes (a token and its event), from 32 goroutines at once as the HTTP
// server would send them, so writes share commits. ns/op is the writer's
// time per write, the bound on durable tokenizations per second.
func BenchmarkTokenWrite(b *testing.B) {
	ctx := context.Background()
	s, m := openWithMerchant(b)
	ct := make([]byte, 90)
	rand.Read(ct)
	data := []byte(`{"id":"tok_x","object":"token","status":"active","card":{"brand":"visa","bin":"424242","last4":"4242","exp_month":12,"exp_year":2030},` +
		`"verification":{"status":"verified","three_d_secure":"not_required","cvc_check":"pass","avs_check":"unavailable"},"metadata":{},` + strings.Repeat(`"pad":"x",`, 40) + `"livemode":false}`)
	c0, w0 := s.Stats()
	b.SetParallelism(16) // 32 writers on this machine's 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			now := time.Now().UTC()
			tok := &store.Token{ID: vault.NewToken(), MerchantID: m.ID, Status: store.TokenActive, Brand: "visa", BIN: "42424242",
				Last4: "4242", Mask: "42424242******4242", ExpMonth: 12, ExpYear: 2030, Fingerprint: id.New("fp"), CardCT: ct,
				Verification: store.Verification{Status: "verified"}, Created: now, Updated: now}
			ev := &store.Event{ID: id.NewOrdered("evt"), MerchantID: m.ID, Type: "token.created", ObjectType: "token", ObjectID: tok.ID,
				Data: data, Created: now}
			if err := s.Write(ctx, func(tx store.Tx) error {
				if err := tx.InsertToken(tok); err != nil {
					return err
				}
				return tx.InsertEvent(ev)
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	c1, w1 := s.Stats()
	if c1 > c0 {
		b.ReportMetric(float64(w1-w0)/float64(c1-c0), "writes/commit")
	}
}
