package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/coffer-vault/coffer/internal/browsertest"
)

// BrowserTimeout bounds one test's whole use of its browser, start included,
// so a hung page fails the test instead of the CI timeout.
const BrowserTimeout = 60 * time.Second

// NewBrowser starts a fresh headless Chromium for t (internal/browsertest)
// and returns a context for one tab in it.
func NewBrowser(t *testing.T) context.Context { return browsertest.New(t, BrowserTimeout) }

// Screenshot saves a full-page PNG of the tab and returns its path. It goes
// to $COFFER_SCREENSHOT_DIR when set (to keep, e.g. as CI artifacts, or to
// look at), else to a directory removed with the test.
func Screenshot(t *testing.T, ctx context.Context, name string) string {
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
