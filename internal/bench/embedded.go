package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/app"
)

// embedded is a server run in this process on a temporary data folder.
type embedded struct {
	url, key string
	dir      string
	cancel   context.CancelFunc
	done     chan error
}

// lockedBuffer is the server's Stdout: Serve writes from its own goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startEmbedded runs app.Serve on 127.0.0.1:0 over a fresh data folder and
// returns once it accepts connections, with the development merchant's
// secret key read from what Serve printed.
func startEmbedded(ctx context.Context, logw io.Writer) (*embedded, error) {
	if logw == nil {
		logw = io.Discard
	}
	dir, err := os.MkdirTemp("", "coffer-bench-")
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	e := &embedded{dir: dir, cancel: cancel, done: make(chan error, 1)}
	var out lockedBuffer
	ready := make(chan string, 1)
	cfg := app.Config{
		Addr:            "127.0.0.1:0",
		DataDir:         dir,
		Stdout:          &out,
		Stderr:          logw,
		OnReady:         func(addr string) { ready <- addr },
		ShutdownTimeout: 10 * time.Second,
	}
	go func() { e.done <- app.Serve(sctx, cfg) }()

	select {
	case addr := <-ready:
		e.url = "http://" + addr
	case err := <-e.done:
		e.done <- err // stop reads it again
		e.stop()
		if err == nil {
			err = errors.New("server exited before it was ready")
		}
		return nil, err
	case <-ctx.Done():
		e.stop()
		return nil, ctx.Err()
	}
	key, err := secretKey(out.String())
	if err != nil {
		e.stop()
		return nil, err
	}
	e.key = key
	return e, nil
}

// secretKey finds the development merchant's credentials: the last
// non-empty line of Serve's output, a JSON object with "secret_key".
func secretKey(out string) (string, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	var creds struct {
		ID        string `json:"id"`
		SecretKey string `json:"secret_key"`
	}
	if err := json.Unmarshal([]byte(last), &creds); err != nil || !strings.HasPrefix(creds.SecretKey, "sk_") {
		return "", fmt.Errorf("no development merchant key in the server's output %q", out)
	}
	return creds.SecretKey, nil
}

// stop shuts the server down gracefully and removes the data folder.
func (e *embedded) stop() error {
	e.cancel()
	err := <-e.done
	if rerr := os.RemoveAll(e.dir); err == nil {
		err = rerr
	}
	return err
}

// allowCardBursts raises the merchant's card-suffix limit (cards per BIN
// and last four per hour) to its maximum, so that the bench's random cards
// measure the server and not that control.
func (t *target) allowCardBursts(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, t.url+"/v1/merchant",
		strings.NewReader(`{"card_testing":{"suffix_cards_per_hour":1000000}}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+t.key)
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PATCH /v1/merchant: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
