package wire

import (
	"encoding/json"
	"testing"
)

// benchBody is a typical POST /v1/payments body with a card.
var benchBody = []byte(`{"amount":1000,"currency":"MYR","card":{"number":"4242424242424242","exp_month":12,"exp_year":2034,"cvc":"123",
"holder_name":"Abu Bin Ali"},"order_id":"order-2026-0001","description":"Order for product id #4","capture":true,
"metadata":{"cart":"c_81723","channel":"web","phone":"+60 12-345 6789"}}`)

type benchTarget struct {
	Amount      int64             `json:"amount"`
	Currency    string            `json:"currency"`
	Card        *cardBody         `json:"card"`
	OrderID     string            `json:"order_id"`
	Description string            `json:"description"`
	Capture     bool              `json:"capture"`
	Metadata    map[string]string `json:"metadata"`
}

// BenchmarkDecodeJSON is the guard plus encoding/json; BenchmarkUnmarshal
// encoding/json alone, on the same body: the guard's cost per request.
func BenchmarkDecodeJSON(b *testing.B) {
	rules := Rules{Card: []string{"card.number"}}
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		var v benchTarget
		if e := DecodeJSON(benchBody, &v, rules); e != nil {
			b.Fatal(e)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		var v benchTarget
		if err := json.Unmarshal(benchBody, &v); err != nil {
			b.Fatal(err)
		}
	}
}
