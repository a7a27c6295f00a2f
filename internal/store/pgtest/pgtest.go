// Package pgtest gives tests a fresh, empty PostgreSQL database.
//
// With COFFER_TEST_DATABASE_URL set (any database on a server where that
// user may CREATE DATABASE), DSN creates a uniquely named database on that
// server for each call and drops it when the test ends.
//
// Otherwise the first DSN call in a test binary starts a throwaway server from
// the installed binaries — the newest /usr/lib/postgresql/<version>/bin (the
// Debian layout), else initdb and pg_ctl on PATH — initialised in a temporary
// folder, listening only on 127.0.0.1 on a free port and on a unix socket in
// that folder, with fsync and synchronous_commit on, so it behaves like a
// production server. When the tests run as root (which initdb refuses), the
// server runs as the "postgres" user. The test binary's TestMain must call
// Stop after m.Run:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		pgtest.Stop()
//		os.Exit(code)
//	}
//
// A run that dies before Stop (a panic, a -timeout, a kill -9) does not leave
// the server behind: a small watchdog process holds the read end of a pipe
// whose write end only the test binary has; when the test binary ends, however
// it ends, the kernel closes that end, the watchdog's read returns, and it
// stops the server and deletes the folder. (Should even the watchdog be
// killed, PostgreSQL itself shuts down within a minute of its data folder
// being deleted, as it re-checks its lock file periodically.)
//
// When no server can be had, DSN skips the test with a message saying what is
// missing — unless CI=true, where it fails the test: a mandatory suite must
// not pass in CI by being skipped.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-vault/coffer/internal/scratch"
)

// EnvURL names the variable holding an existing server's URL.
const EnvURL = "COFFER_TEST_DATABASE_URL"

var (
	mu       sync.Mutex
	started  bool
	srv      *server
	startErr error
	stopped  bool
)

// DSN returns the URL of a new, empty database that is dropped when t ends.
func DSN(t testing.TB) string {
	t.Helper()
	admin, err := adminURL()
	if err != nil {
		unavailable(t, err)
	}
	name := "coffer_test_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unavailable(t, fmt.Errorf("cannot connect to the test server: %w", err))
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { drop(t, admin, name) })
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

func drop(t testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	q := `DROP DATABASE IF EXISTS ` + pgx.Identifier{name}.Sanitize()
	// WITH (FORCE) (PostgreSQL 13+) ends sessions a test left open.
	if _, err := conn.Exec(ctx, q+` WITH (FORCE)`); err != nil {
		if _, err2 := conn.Exec(ctx, q); err2 != nil {
			t.Errorf("pgtest: drop database %s: %v", name, errors.Join(err, err2))
		}
	}
}

// unavailable skips t, or fails it when CI=true.
func unavailable(t testing.TB, err error) {
	t.Helper()
	msg := fmt.Sprintf("\n"+
		"************************************************************************\n"+
		"*** pgtest: NO POSTGRESQL, so the PostgreSQL store tests DID NOT RUN.\n"+
		"*** %v\n"+
		"*** Install the server (Debian/Ubuntu: apt-get install postgresql) or set\n"+
		"*** %s=postgres://user:password@host:5432/postgres\n"+
		"************************************************************************", err, EnvURL)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "\n*** CI=true: this suite is mandatory in CI, so this is a failure.")
	}
	warnOnce.Do(func() { fmt.Fprintln(os.Stderr, msg) })
	t.Skip(msg)
}

var warnOnce sync.Once

func adminURL() (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return u, nil
	}
	mu.Lock()
	defer mu.Unlock()
	if stopped {
		return "", errors.New("pgtest.Stop has already been called")
	}
	if !started {
		started = true
		srv, startErr = start()
	}
	if startErr != nil {
		return "", startErr
	}
	return srv.adminURL, nil
}

// withDatabase points a URL or key=value connection string at database name.
func withDatabase(conn, name string) (string, error) {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := url.Parse(conn)
		if err != nil {
			return "", fmt.Errorf("%s: %w", EnvURL, err)
		}
		u.Path, u.RawPath = "/"+name, ""
		return u.String(), nil
	}
	return conn + " dbname=" + name, nil // a later key wins
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Stop stops the server DSN started, if any, and deletes its folder. Call it
// from TestMain after m.Run; DSN fails after it. Stop is safe to call when no
// server was started, and more than once.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	stopped = true
	if srv == nil {
		return
	}
	if err := srv.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: stop: %v\n", err)
	}
	srv = nil
}

type server struct {
	dir      string // temporary folder: data, socket, log
	adminURL string
	watchdog *exec.Cmd
	alive    *os.File // write end of the watchdog's pipe; closing it stops the server
	waited   chan error
}

func (s *server) stop() error {
	s.alive.Close()
	select {
	case err := <-s.waited:
		return err
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("watchdog still running after 2m; the server in %s may still be running", s.dir)
	}
}

// binaries finds initdb and pg_ctl: the newest Debian install, else PATH.
func binaries() (initdb, pgctl string, err error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool {
		return versionLess(filepath.Base(filepath.Dir(filepath.Dir(found[j]))), filepath.Base(filepath.Dir(filepath.Dir(found[i]))))
	})
	for _, f := range found {
		ctl := filepath.Join(filepath.Dir(f), "pg_ctl")
		if isExec(f) && isExec(ctl) {
			return f, ctl, nil
		}
	}
	if f, err := exec.LookPath("initdb"); err == nil {
		if ctl, err := exec.LookPath("pg_ctl"); err == nil {
			return f, ctl, nil
		}
	}
	return "", "", errors.New("no PostgreSQL server binaries: found neither /usr/lib/postgresql/<version>/bin/{initdb,pg_ctl} nor initdb and pg_ctl on PATH")
}

// versionLess compares dotted versions numerically ("9.6" < "15").
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// runAs returns the credentials to run the server with: the postgres user's
// when we are root (initdb and postgres refuse to run as root), else our own.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, which initdb refuses, and there is no \"postgres\" user to run the server as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user postgres: odd uid/gid %q/%q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}, nil
}

func command(cred *syscall.Credential, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C", "PGTZ=UTC")
	// Its own process group: a ^C aimed at `go test` must not kill the
	// watchdog before it has cleaned up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	return cmd
}

func run(cmd *exec.Cmd) error {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func start() (_ *server, err error) {
	initdb, pgctl, err := binaries()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	dir, err := scratch.MkdirTemp("coffer-pgtest-")
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")

	// The watchdog comes first, so that whatever happens from here on, the
	// folder (and the server, once started) goes away with this process.
	r, w, err := os.Pipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	wd := command(cred, dir, "/bin/sh", "-c", `read x; `+
		`if [ -f "$1/postmaster.pid" ]; then "$0" stop -D "$1" -m fast -w -t 60 >/dev/null 2>&1 || "$0" stop -D "$1" -m immediate >/dev/null 2>&1; fi; `+
		`rm -rf "$2"`, pgctl, data, dir)
	wd.Stdin = r
	if err := wd.Start(); err != nil {
		r.Close()
		w.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start watchdog: %w", err)
	}
	r.Close()
	s := &server{dir: dir, watchdog: wd, alive: w, waited: make(chan error, 1)}
	go func() { s.waited <- wd.Wait() }()
	defer func() {
		if err != nil {
			s.stop()
		}
	}()

	// A fresh cluster is a copy of one initdb made earlier on this machine
	// (initdb takes seconds of CPU; a copy in memory, a fraction of one);
	// without such a template, initdb itself.
	if tmpl, err := template(cred, initdb); err == nil {
		if err := run(command(cred, dir, "/bin/cp", "-a", tmpl, data)); err != nil {
			return nil, err
		}
	} else if err := initCluster(cred, dir, initdb, data); err != nil {
		return nil, err
	}
	// Settings go in the configuration file rather than on a command line
	// the shell would have to quote. fsync and synchronous_commit are the
	// defaults; they are spelled out because durability is what is tested.
	conf := fmt.Sprintf("\n# pgtest\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n"+
		"fsync = on\nsynchronous_commit = on\nfull_page_writes = on\nmax_connections = 300\n"+
		"log_min_messages = warning\n", strings.ReplaceAll(dir, "'", "''"))
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString(conf)
	if err := errors.Join(err, f.Close()); err != nil {
		return nil, err
	}
	// The free port is found by binding to it and letting go; another
	// process may take it meanwhile, so try a few.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		err = run(command(cred, dir, pgctl, "start", "-D", data, "-w", "-t", "120",
			"-l", filepath.Join(dir, "server.log"), "-o", "-p "+strconv.Itoa(port)))
		if err == nil {
			s.adminURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			return s, nil
		}
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			return nil, fmt.Errorf("%w\nserver log:\n%s", err, log)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// initCluster runs initdb into data. The default collation is ICU's en-US
// where the server has ICU (PostgreSQL 15+ built with it, as Debian's is),
// like a typical production database: text does not sort byte-wise there,
// so code that assumes it does fails here too. Without ICU, the C locale.
func initCluster(cred *syscall.Credential, dir, initdb, data string) error {
	initArgs := []string{"-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"}
	if err := run(command(cred, dir, initdb, append(initArgs, "--locale=C", "--locale-provider=icu", "--icu-locale=en-US")...)); err != nil {
		// initdb as the server user created data; remove it the same way.
		if err2 := run(command(cred, dir, "/bin/rm", "-rf", data)); err2 != nil {
			return errors.Join(err, err2)
		}
		if err2 := run(command(cred, dir, initdb, append(initArgs, "--no-locale")...)); err2 != nil {
			return errors.Join(err, err2)
		}
	}
	return nil
}

// template returns a cluster freshly made by initdb, kept under
// scratch.Root for every later test binary on this machine to copy. Its
// name says which initdb made it, so an upgraded PostgreSQL makes a new one;
// it is built beside its final name and renamed into place, so concurrent
// test binaries never see half of one.
func template(cred *syscall.Credential, initdb string) (string, error) {
	st, err := os.Stat(initdb)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%d\x00%d", initdb, st.Size(), st.ModTime().UnixNano(), os.Getuid())))
	path := filepath.Join(scratch.Root(), "coffer-pgtest-template-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(path, "PG_VERSION")); err == nil {
		return path, nil
	}
	parent, err := scratch.MkdirTemp("coffer-pgtest-initdb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(parent)
	if cred != nil {
		if err := os.Chown(parent, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", err
		}
	}
	built := filepath.Join(parent, "data")
	if err := initCluster(cred, parent, initdb, built); err != nil {
		run(command(cred, parent, "/bin/rm", "-rf", built))
		return "", err
	}
	if err := os.Rename(built, path); err != nil {
		run(command(cred, parent, "/bin/rm", "-rf", built))
		if _, serr := os.Stat(filepath.Join(path, "PG_VERSION")); serr == nil {
			return path, nil // another test binary got there first
		}
		return "", err
	}
	return path, nil
}
