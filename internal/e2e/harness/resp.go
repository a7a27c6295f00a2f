package harness

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Resp is a decoded response.
type Resp struct {
	Status int
	Body   map[string]any // the JSON object, when the body is one
	Raw    []byte
	Header http.Header
}

// Client is the HTTP client tests share: pooled, and bounded in time so a hung
// server fails a test instead of the run.
var Client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// Request builds a request; body may be nil, a string or []byte (sent as
// is) or a value (sent as JSON). hdr is name, value, name, value….
func (s *Server) Request(method, path, key string, body any, hdr ...string) *http.Request {
	s.T.Helper()
	return NewRequest(s.T, s.URL, method, path, key, body, hdr...)
}

// NewRequest is Request for a server known only by its base URL (a built
// binary the test started).
func NewRequest(t testing.TB, base, method, path, key string, body any, hdr ...string) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return req
}

// Call sends one request with the secret (or publishable) key as bearer.
func (s *Server) Call(method, path, key string, body any, hdr ...string) Resp {
	s.T.Helper()
	return s.Do(Client, s.Request(method, path, key, body, hdr...))
}

// CallWithin is Call with a time limit, returning how long the answer took:
// a retry that waits out a lease fails here instead of hanging the test.
func (s *Server) CallWithin(limit time.Duration, method, path, key string, body any, hdr ...string) (Resp, time.Duration) {
	s.T.Helper()
	start := time.Now()
	r := s.Do(&http.Client{Timeout: limit}, s.Request(method, path, key, body, hdr...))
	return r, time.Since(start)
}

// Do sends req with c and decodes the answer; a transport error fails the
// test, and so does an answer unlike api/openapi.yaml when s.SpecCheck.
func (s *Server) Do(c *http.Client, req *http.Request) Resp {
	s.T.Helper()
	res, err := c.Do(req)
	if err != nil {
		s.T.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := Resp{Status: res.StatusCode, Raw: raw, Header: res.Header}
	if s.SpecCheck {
		if err := CheckResponse(req, res.StatusCode, res.Header, raw); err != nil {
			s.T.Errorf("%v", err)
		}
	}
	if len(bytes.TrimSpace(raw)) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			s.T.Fatalf("%s %s: response is not JSON: %v: %s", req.Method, req.URL.Path, err, raw)
		}
	}
	return r
}

// Want fails the test unless the status matches.
func (r Resp) Want(t testing.TB, status int) Resp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	return r
}

// Str digs a string out of the body: r.Str("card", "mask").
func (r Resp) Str(path ...string) string { return Str(r.Body, path...) }

// Num digs a number out of the body: r.Num("amount_captured").
func (r Resp) Num(path ...string) int64 { return Num(r.Body, path...) }

// ErrInfo returns error.type, error.code and error.param.
func (r Resp) ErrInfo() (typ, code, param string) {
	return r.Str("error", "type"), r.Str("error", "code"), r.Str("error", "param")
}

// Dig follows keys through nested JSON objects; nil where one is missing.
func Dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// Str is Dig for a string ("" when absent or not a string).
func Str(v any, path ...string) string {
	s, _ := Dig(v, path...).(string)
	return s
}

// Num is Dig for a JSON number as an integer (0 when absent).
func Num(v any, path ...string) int64 {
	f, _ := Dig(v, path...).(float64)
	return int64(f)
}

// Float is Dig for a JSON number as it was decoded.
func Float(v any, path ...string) float64 {
	f, _ := Dig(v, path...).(float64)
	return f
}

// MustJSON marshals v or fails the test.
func MustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
