package checkout

import (
	"os"
	"testing"

	"github.com/coffer-vault/coffer/internal/browsertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	browsertest.Stop()
	os.Exit(code)
}
