package wire

import (
	"bytes"
	"crypto/rand"
	"net/http"
)

// WritePage writes a whole HTML page, or only a bare 500 when rendering it
// fails: the page is rendered in memory first, so a half-written page never
// reaches a browser with a success status. render gets the page's fresh
// nonce for its inline style and script; headers sets the security policy
// for that same nonce, on the success and the failure alike. The rendering
// error is returned for the caller's log.
func WritePage(w http.ResponseWriter, status int, render func(buf *bytes.Buffer, nonce string) error,
	headers func(h http.Header, nonce string)) error {
	nonce := rand.Text()
	var buf bytes.Buffer
	err := render(&buf, nonce)
	headers(w.Header(), nonce)
	if err != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("Something went wrong.\n"))
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}
