package wire

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strconv"
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

// tokenBody is a typical POST /v1/tokens body, decoded strictly as the
// native API decodes.
var tokenBody = []byte(`{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2034,"cvc":"123",
"holder_name":"Siti Nurhaliza binti Tarudin"},"customer":"cus_8HwN2kq7","metadata":{"order_id":"ORD-2026-000123",
"source":"checkout","session":"s_Zk3q9Vd2","placed_at":"2026-12-08T03:03:43Z"}}`)

type tokenTarget struct {
	Card struct {
		Number     string `json:"number"`
		ExpMonth   int    `json:"exp_month"`
		ExpYear    int    `json:"exp_year"`
		CVC        string `json:"cvc"`
		HolderName string `json:"holder_name"`
	} `json:"card"`
	Customer string            `json:"customer"`
	Metadata map[string]string `json:"metadata"`
}

func BenchmarkDecodeJSONToken(b *testing.B) {
	rules := Rules{Card: []string{"card.number"}, Strict: true}
	b.SetBytes(int64(len(tokenBody)))
	b.ReportAllocs()
	for b.Loop() {
		var v tokenTarget
		if e := DecodeJSON(tokenBody, &v, rules); e != nil {
			b.Fatal(e)
		}
	}
}

// BenchmarkCheckJSON is the guard alone, on each body.
func BenchmarkCheckJSON(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{{"payment", benchBody}, {"token", tokenBody}} {
		b.Run(bc.name, func(b *testing.B) {
			rules := Rules{Card: []string{"card.number"}}
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				if e := CheckJSON(bc.body, rules); e != nil {
					b.Fatal(e)
				}
			}
		})
	}
}

// BenchmarkReadBody reads a body of a few sizes, its length declared as a
// client declares it, bounded as the dialects bound it.
func BenchmarkReadBody(b *testing.B) {
	for _, n := range []int{len(tokenBody), 4 << 10} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			body := bytes.Repeat([]byte{' '}, n)
			r := httptest.NewRequest("POST", "/", nil)
			rd := bytes.NewReader(body)
			r.Body = io.NopCloser(rd)
			r.ContentLength = int64(n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				if _, e := ReadBody(nil, r, 1<<20); e != nil {
					b.Fatal(e)
				}
			}
		})
	}
}
