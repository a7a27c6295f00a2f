package checkout

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// TestBrowserSmoke proves a browser starts and loads a page here, apart from
// any Coffer page: when the real browser tests fail, this tells whether the
// browser or the page is at fault.
func TestBrowserSmoke(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Coffer smoke</title><h1 id="hello">Hello, browser</h1>`)
	}))
	defer srv.Close()

	ctx := harness.NewBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "Coffer smoke" {
		t.Errorf("title %q, want %q", title, "Coffer smoke")
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#hello")))
	if err != nil {
		t.Fatal(err)
	}
	if text != "Hello, browser" {
		t.Errorf("#hello text %q", text)
	}
	png, err := os.ReadFile(harness.Screenshot(t, ctx, "smoke"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Error("the screenshot is not a PNG")
	}
}
