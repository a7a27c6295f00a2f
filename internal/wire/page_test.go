package wire

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestWritePage: a page is written whole with the nonce its headers name;
// a page whose rendering fails sends none of what was rendered, only a
// bare 500, and still carries the security headers.
func TestWritePage(t *testing.T) {
	headers := func(h http.Header, nonce string) { h.Set("Content-Security-Policy", "style-src 'nonce-"+nonce+"'") }
	var used string
	w := httptest.NewRecorder()
	if err := WritePage(w, 201, func(b *bytes.Buffer, nonce string) error {
		used = nonce
		b.WriteString("<p nonce=" + nonce + ">ok</p>")
		return nil
	}, headers); err != nil {
		t.Fatal(err)
	}
	if w.Code != 201 || used == "" || !strings.Contains(w.Body.String(), used) ||
		!strings.Contains(w.Header().Get("Content-Security-Policy"), used) || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("page: %d %q %v", w.Code, w.Body.String(), w.Header())
	}

	w = httptest.NewRecorder()
	err := WritePage(w, 200, func(b *bytes.Buffer, nonce string) error {
		b.WriteString("<p>half a page")
		return errors.New("template broke")
	}, headers)
	if err == nil || w.Code != 500 || strings.Contains(w.Body.String(), "half") || w.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("failed page: %v %d %q %v", err, w.Code, w.Body.String(), w.Header())
	}
}
