package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"

	"github.com/coffer-vault/coffer/internal/bench"
)

// benchCmd is `coffer bench`: a closed-loop load test of a running server
// (--url, --key) or of an embedded one on a temporary data folder.
func benchCmd(fs *flag.FlagSet) runFunc {
	var o bench.Options
	fs.StringVar(&o.URL, "url", "", "server to benchmark (default: an embedded server on a temporary data folder)")
	fs.StringVar(&o.Key, "key", "", "merchant secret key sk_… (with --url)")
	fs.StringVar(&o.Scenario, "scenario", bench.Tokenize, "scenario: "+strings.Join(bench.Scenarios, "|"))
	fs.IntVar(&o.Concurrency, "concurrency", bench.DefaultConcurrency, "workers, each with one request in flight")
	fs.DurationVar(&o.Duration, "duration", bench.DefaultDuration, "measured time per phase")
	fs.DurationVar(&o.Warmup, "warmup", bench.DefaultWarmup, "unmeasured time before each phase")
	fs.DurationVar(&o.Timeout, "timeout", bench.DefaultTimeout, "per-request timeout")
	fs.BoolVar(&o.Baseline, "baseline", false, "measure a bare net/http handler in this process and GET /healthz first, and print the ratios against both")
	asJSON := fs.Bool("json", false, "print one JSON object")
	serverLog := fs.String("server-log", "", "file for the embedded server's logs (default: discarded)")
	fs.Int64Var(&o.Requests, "requests", 0, "end the scenario after this many requests past the warmup (--duration still bounds it); default 0: no limit")
	fs.DurationVar(&o.MemoryEvery, "memory-every", 0, "sample the server's RSS at this interval during the scenario; default 0s: off")
	fs.IntVar(&o.ServerPID, "server-pid", 0, "with --url and --memory-every: the server's process id; default 0: this process, for the embedded server")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (client and embedded server) to FILE")
	memProfile := fs.String("memprofile", "", "write an allocation profile of this process (client and embedded server) to FILE at the end")
	traceFile := fs.String("trace", "", "write an execution trace of this process to FILE (go tool trace: scheduling, GC, syscalls)")
	return func(ctx context.Context, inv *invocation) error {
		if err := checkBench(o, *serverLog); err != nil {
			return err
		}
		if *serverLog != "" {
			f, err := os.OpenFile(*serverLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			defer f.Close()
			o.ServerLog = f
		}
		o.Progress = inv.stderr
		if *cpuProfile != "" {
			stop, err := startCPUProfile(*cpuProfile)
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			defer stop()
		}
		if *memProfile != "" {
			// Every allocation, not a sample: GC cost follows bytes allocated.
			runtime.MemProfileRate = 1
			defer writeAllocProfile(*memProfile, inv.stderr)
		}
		if *traceFile != "" {
			stop, err := startTrace(*traceFile)
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			defer stop()
		}

		res, err := bench.Run(ctx, o)
		// A run that measured something prints it, even when it then fails the
		// error threshold; setup failures and interruptions print only the error.
		if err == nil || errors.Is(err, bench.ErrTooManyErrors) || errors.Is(err, bench.ErrNoRequests) {
			var werr error
			if *asJSON {
				werr = res.WriteJSON(inv.stdout, err)
			} else {
				werr = res.Format(inv.stdout)
			}
			if werr != nil {
				return werr
			}
		}
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		return nil
	}
}

// checkBench refuses options that cannot run, naming the flag.
func checkBench(o bench.Options, serverLog string) error {
	switch {
	case !slices.Contains(bench.Scenarios, o.Scenario):
		return usageErrorf("bench: --scenario: unknown scenario %q (want %s)", o.Scenario, strings.Join(bench.Scenarios, ", "))
	case o.Concurrency <= 0:
		return usageErrorf("bench: --concurrency must be positive")
	case o.Duration <= 0:
		return usageErrorf("bench: --duration must be positive")
	case o.Warmup < 0:
		return usageErrorf("bench: --warmup must not be negative")
	case o.Requests < 0:
		return usageErrorf("bench: --requests must not be negative")
	case o.MemoryEvery < 0:
		return usageErrorf("bench: --memory-every must not be negative")
	case o.ServerPID != 0 && (o.URL == "" || o.MemoryEvery == 0):
		return usageErrorf("bench: --server-pid needs --url and --memory-every")
	case o.Timeout < 0:
		return usageErrorf("bench: --timeout must not be negative")
	case serverLog != "" && o.URL != "":
		return usageErrorf("bench: --server-log is for the embedded server (no --url)")
	}
	return nil
}

// startCPUProfile profiles the whole run: with the embedded server that is
// where the time goes, next to the load generator's own share.
func startCPUProfile(path string) (stop func(), err error) {
	return startRecording(path, pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// startRecording opens path and starts a recorder writing to it; stop ends
// the recording and closes the file.
func startRecording(path string, start func(io.Writer) error, end func()) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { end(); f.Close() }, nil
}

// writeAllocProfile writes what was allocated since the start (alloc_space,
// alloc_objects), which is what the collector's share of CPU follows.
func writeAllocProfile(path string, stderr io.Writer) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: --memprofile: %v\n", err)
	}
}

// startTrace records the runtime's execution trace: where a request waited
// (for a P, the writer, a syscall) rather than where CPU went.
func startTrace(path string) (stop func(), err error) {
	return startRecording(path, trace.Start, trace.Stop)
}
