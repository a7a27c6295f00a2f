package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/dialect/ottu"
	"github.com/coffer-vault/coffer/internal/dialect/pivot"
	"github.com/coffer-vault/coffer/internal/dialect/senangpay"
	"github.com/coffer-vault/coffer/internal/dialect/sensepass"
	"github.com/coffer-vault/coffer/internal/event"
)

// TestWebComposesDialects: every dialect's routes are served by the one
// handler, behind the native API's middleware (a Request-Id on every
// answer), each in its own shape; and the dispatcher gets every callback
// format a session may name.
func TestWebComposesDialects(t *testing.T) {
	web, err := NewWeb(WebConfig{}) // no request below reaches the service
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{senangpay.Format, sensepass.Format, sensepass.FormatGET, pivot.Format, ottu.Format} {
		if web.Formats[name] == nil {
			t.Errorf("format %q is not composed", name)
		}
	}
	if len(web.Formats) != 5 {
		t.Errorf("formats = %d, want 5", len(web.Formats))
	}
	for _, c := range []struct {
		method, path string
		status       int
		key          string // a top-level key of the dialect's error shape
	}{
		{"GET", "/pivot/v9/nothing", 404, "code"},
		{"PUT", "/pivot/v2/payments", 405, "code"},
		{"GET", "/sensepass/api/nothing", 404, "success"},
		{"GET", "/ottu/b/nothing/", 404, "detail"},
		{"GET", "/v1/nothing", 404, "error"},
	} {
		w := httptest.NewRecorder()
		web.Handler.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		var body map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != c.status || body[c.key] == nil {
			t.Errorf("%s %s = %d %s, want %d with %q", c.method, c.path, w.Code, w.Body, c.status, c.key)
		}
		if !strings.HasPrefix(w.Header().Get("Request-Id"), "req_") {
			t.Errorf("%s %s: no Request-Id from the API's middleware", c.method, c.path)
		}
	}
}

type fakeDialect map[string]event.Format

func (fakeDialect) Register(*http.ServeMux)            {}
func (f fakeDialect) Formats() map[string]event.Format { return f }

type fakeFormat struct{ event.Format }

// TestFormatsClaimedTwice: two dialects naming one callback format is a
// start-up error, not a silent overwrite.
func TestFormatsClaimedTwice(t *testing.T) {
	a, b := fakeDialect{"x": fakeFormat{}, "y": fakeFormat{}}, fakeDialect{"y": fakeFormat{}}
	if _, err := formatsOf([]dialect{a, b}); err == nil || !strings.Contains(err.Error(), `"y"`) {
		t.Fatalf("err = %v, want the duplicate named", err)
	}
	if _, err := formatsOf([]dialect{fakeDialect{"z": nil}}); err == nil {
		t.Fatal("a nil format was accepted")
	}
	fs, err := formatsOf([]dialect{a, fakeDialect{"z": fakeFormat{}}})
	if err != nil || len(fs) != 3 {
		t.Fatalf("formats = %v, %v", fs, err)
	}
}
