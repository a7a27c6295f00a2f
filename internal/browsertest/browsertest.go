// Package browsertest starts the real headless Chromium that the hosted
// pages' tests drive (through chromedp). It is imported by tests only; it
// lives outside them so that every package's browser tests start the
// browser the same way, with the flags CI needs.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
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

// One Chromium per test binary serves every test in it, each in a browser
// context of its own (the incognito kind: its own cookies, storage, cache
// and permissions, discarded when the test ends). Starting a browser costs
// more CPU than most page tests spend in it, and tests run side by side.
var shared struct {
	once    sync.Once
	browser context.Context // the first tab; new contexts are made beside it
	stop    func()
	err     error
}

// startTimeout bounds starting the shared browser.
const startTimeout = 60 * time.Second

// New returns a context for one tab, in a fresh browser context of the test
// binary's headless Chromium (started on first use). The tab and its
// browser context are closed when t ends; every action in it fails once
// timeout has passed.
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
	shared.once.Do(func() { shared.err = start(path) })
	if shared.err != nil {
		t.Fatalf("starting %s: %v", path, shared.err)
	}
	tab, cancelTab := chromedp.NewContext(shared.browser, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(tab, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab() // closes the tab and disposes of its browser context
	})
	// Open the tab now, so a browser that cannot serve fails here, clearly,
	// and not in the middle of the first page the test loads.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab in %s: %v", path, err)
	}
	return ctx
}

func start(path string) error {
	dir, err := os.MkdirTemp("", "coffer-chromium-")
	if err != nil {
		return err
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
		// An empty profile: nothing from an earlier run (tests are isolated
		// from each other by their browser contexts).
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 800),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	shared.browser = browserCtx
	shared.stop = func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser to exit
		os.RemoveAll(dir)
	}
	// The first action on a chromedp context starts the browser and binds
	// its life to that context, so it runs on browserCtx itself, bounded
	// from outside.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(browserCtx) }()
	select {
	case err := <-started:
		if err != nil {
			shared.stop()
		}
		return err
	case <-time.After(startTimeout):
		shared.stop()
		return fmt.Errorf("the browser did not start within %v", startTimeout)
	}
}

// Stop ends the shared browser and removes its profile; a test binary's
// TestMain calls it after m.Run. (Should the binary die first, the kernel
// kills the browser with it: chromedp starts it with a parent-death signal.)
func Stop() {
	if shared.stop != nil {
		shared.stop()
	}
}
