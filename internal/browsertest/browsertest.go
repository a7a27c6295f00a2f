// Package browsertest starts the real headless Chromium that the hosted
// pages' tests drive (through chromedp). It is imported by tests only; it
// lives outside them so that every package's browser tests start the
// browser the same way, with the flags CI needs.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path finds the browser: $COFFER_CHROMIUM, then Debian's path (what
// .ci/run installs), then the usual names in PATH.
func Path() string {
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

// New starts a fresh headless Chromium for t and returns a context for one
// tab in it. The browser is killed when t ends or timeout passes, whichever
// is first.
//
// Without a browser the test is skipped, loudly, except in CI: hosted pages
// are tested only here, so a CI run without them must not look green.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	path := Path()
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
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
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
