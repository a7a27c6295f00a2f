package store

import "github.com/coffer-vault/coffer/internal/plainjson"

// AppendJSON appends v as json.Marshal writes it, without reflection; false
// when a value is not plain (plainjson): the caller then uses json.Marshal.
// Every token write stores its verification, and every token view shows it.
func (v *Verification) AppendJSON(b []byte) ([]byte, bool) {
	n, ok := len(b), true
	b, ok = plainjson.More(b, ok, `{"status":`, v.Status)
	b, ok = plainjson.More(b, ok, `,"three_d_secure":`, v.ThreeDSecure)
	b, ok = plainjson.More(b, ok, `,"cvc_check":`, v.CVCCheck)
	b, ok = plainjson.More(b, ok, `,"avs_check":`, v.AVSCheck)
	b, ok = plainjson.OmitEmpty(b, ok, `,"auth_code":`, v.AuthCode)
	b, ok = plainjson.OmitEmpty(b, ok, `,"network_reference":`, v.NetworkRef)
	b, ok = plainjson.OmitEmpty(b, ok, `,"failure_code":`, v.FailureCode)
	b = append(b, `,"verified_at":`...)
	if v.VerifiedAt == nil {
		b = append(b, "null"...)
	} else if ok {
		b, ok = plainjson.Time(b, *v.VerifiedAt)
	}
	if v.Authentication != nil && ok {
		b = append(b, `,"authentication":`...)
		b, ok = v.Authentication.AppendJSON(b)
	}
	if !ok {
		return b[:n], false
	}
	return append(b, '}'), true
}

// AppendJSON appends a as json.Marshal writes it; see Verification.AppendJSON.
func (a *Authentication) AppendJSON(b []byte) ([]byte, bool) {
	n, ok := len(b), true
	b, ok = plainjson.More(b, ok, `{"status":`, a.Status)
	b, ok = plainjson.OmitEmpty(b, ok, `,"eci":`, a.ECI)
	b, ok = plainjson.OmitEmpty(b, ok, `,"version":`, a.Version)
	b, ok = plainjson.OmitEmpty(b, ok, `,"transaction_id":`, a.TransactionID)
	if !ok {
		return b[:n], false
	}
	return append(b, '}'), true
}
