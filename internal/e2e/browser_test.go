package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserTimeout bounds one test's whole use of its browser, start included,
// so a hung page fails the test instead of the 20-minute CI timeout.
const browserTimeout = 60 * time.Second

// chromiumPath finds the browser: $COFFER_CHROMIUM, then Debian's path (what
// .ci/run installs), then the usual names in PATH.
func chromiumPath() string {
	if p := os.Getenv("COFFER_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts a fresh headless Chromium for t and returns a context
// for one tab in it. The browser is killed when t ends or browserTimeout
// passes, whichever is first.
//
// Without a browser the test is skipped, loudly, except in CI: hosted pages
// are tested only here, so a CI run without them must not look green.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		msg := "no Chromium found (set COFFER_CHROMIUM, or install Debian's chromium: apt-get install chromium)"
		if os.Getenv("CI") == "true" {
			t.Fatal("browser tests are required in CI: " + msg)
		}
		t.Skip("!!! SKIPPING BROWSER TEST: " + msg)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		// Containers and CI runners usually run as root, where Chromium's
		// sandbox will not start; the pages under test are our own.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Nothing but the server under test may be contacted: tests stay
		// hermetic and a CI runner without internet behaves the same.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// /dev/shm is 64 MB in a default Docker container; Chromium crashes
		// when it fills it.
		chromedp.Flag("disable-dev-shm-usage", true),
		// A fresh profile per test: no cookies, cache or autofill carried
		// from one test to the next.
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), browserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	// Registered after t.TempDir above, so it runs first: the browser has
	// exited (cancelAlloc waits for it) before its profile is removed.
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	// Start it now, so a browser that cannot run fails here, clearly, and
	// not in the middle of the first page the test loads.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return browserCtx
}

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
