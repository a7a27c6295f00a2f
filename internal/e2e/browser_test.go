package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/browsertest"
)

// browserTimeout bounds one test's whole use of its browser, start included,
// so a hung page fails the test instead of the 20-minute CI timeout.
const browserTimeout = 60 * time.Second

// newBrowser starts a fresh headless Chromium for t (internal/browsertest)
// and returns a context for one tab in it.
func newBrowser(t *testing.T) context.Context { return browsertest.New(t, browserTimeout) }

// screenshot saves a full-page PNG of the tab and returns its path. It goes
// to $COFFER_SCREENSHOT_DIR when set (to keep, e.g. as CI artifacts, or to
// look at), else to a directory removed with the test.
func screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 means PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("COFFER_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, t.Name()+"-"+name) + ".png"
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s: %s", name, path)
	return path
}

// TestBrowserSmoke proves a browser starts and loads a page here, apart from
// any Coffer page: when the real browser tests fail, this tells whether the
// browser or the page is at fault.
func TestBrowserSmoke(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Coffer smoke</title><h1 id="hello">Hello, browser</h1>`)
	}))
	defer srv.Close()

	ctx := newBrowser(t)
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
	png, err := os.ReadFile(screenshot(t, ctx, "smoke"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Error("the screenshot is not a PNG")
	}
}
