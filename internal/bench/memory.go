package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// MemorySample is the server's resident memory at one moment of the
// scenario phase, with how many requests had been sent by then.
type MemorySample struct {
	Elapsed  time.Duration
	Requests int64
	RSS      int64 // bytes (VmRSS)
}

// rss reads a process's resident set size from /proc (Linux).
func rss(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}

// sampleMemory reads pid's RSS every interval until ctx ends, with the
// count of requests sent so far; the first sample is taken at once.
func sampleMemory(ctx context.Context, pid int, every time.Duration, sent *atomic.Int64) (<-chan []MemorySample, error) {
	if _, err := rss(pid); err != nil {
		return nil, fmt.Errorf("memory sampling: %w", err)
	}
	out := make(chan []MemorySample, 1)
	go func() {
		start := time.Now()
		var samples []MemorySample
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v, err := rss(pid); err == nil {
				samples = append(samples, MemorySample{Elapsed: time.Since(start), Requests: sent.Load(), RSS: v})
			}
			select {
			case <-ctx.Done():
				out <- samples
				return
			case <-t.C:
			}
		}
	}()
	return out, nil
}
