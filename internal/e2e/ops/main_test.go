// Package ops tests what an operator does around a running server, through
// the built binary: HTTPS with HTTP/2 and a certificate reloaded on SIGHUP,
// and a backup taken under load, restored into a new folder and served
// again.
package ops

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
	buildOut  []byte
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// coffer builds the binary once per test run.
func coffer(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the coffer binary")
	}
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "coffer-ops-bin-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "coffer")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/coffer-vault/coffer/cmd/coffer")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return binPath
}
