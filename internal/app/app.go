// Package app wires Coffer's parts together for each command: it opens the
// key ring and the store, builds the services and runs the server. cmd/coffer
// only parses flags and calls in here; tests call Serve directly.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/coffer-vault/coffer/internal/event"
	"github.com/coffer-vault/coffer/internal/id"
	"github.com/coffer-vault/coffer/internal/idempotency"
	"github.com/coffer-vault/coffer/internal/keys"
	"github.com/coffer-vault/coffer/internal/logging"
	"github.com/coffer-vault/coffer/internal/payment"
	"github.com/coffer-vault/coffer/internal/processor"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
	"github.com/coffer-vault/coffer/internal/processor/simulator/storeledger"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/postgres"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
	"github.com/coffer-vault/coffer/internal/vault"
)

// Version is set at build time with -ldflags "-X …/internal/app.Version=…".
var Version = "dev"

// DevKeyFile is the development key file's name inside the data folder.
const DevKeyFile = "master.key"

// SimulatorJournal is where versions before the store kept the built-in test
// acquirer's ledger, inside the data folder: moved into the store at start.
const SimulatorJournal = "simulator.journal"

// Config is what every command needs to reach the vault.
type Config struct {
	Addr        string
	DataDir     string
	DatabaseURL string
	MasterKey   string // COFFER_MASTER_KEY
	KeyFile     string // explicit key file; default <data>/master.key

	Stdout io.Writer // the development merchant's credentials
	Stderr io.Writer // JSON logs

	// Processor replaces the built-in simulator (tests inject their own instance to count calls).
	Processor processor.Processor
	// OnReady is called with the listening address once the server accepts connections.
	OnReady func(addr string)
	// ShutdownTimeout bounds the wait for in-flight requests on shutdown.
	ShutdownTimeout time.Duration
	// PublicURL is where card holders' browsers reach this server (3-D
	// Secure and checkout pages); default http://<listen address>.
	PublicURL string
	// ChallengeTTL is how long a 3-D Secure challenge stays open (default 10 minutes).
	ChallengeTTL time.Duration
	// SweepInterval is how often expired challenges and sessions are swept (default 30 s).
	SweepInterval time.Duration
	// WebhooksAllowPrivate lets webhooks reach private and loopback
	// addresses. nil: allowed in the development setup (no KEK configured),
	// refused otherwise. Link-local and cloud metadata are always refused.
	WebhooksAllowPrivate *bool
	// WebhookRetryBase is the first retry's delay (default 5 s; tests shorten it).
	WebhookRetryBase time.Duration
	// WebhookTimeout bounds one delivery attempt (default 10 s).
	WebhookTimeout time.Duration
	// HeartbeatInterval is how often a server sharing a PostgreSQL database
	// tells the others it is alive (default 1 s); InstanceStaleAfter is how
	// long after its last beat they take over the keyed requests it held
	// (default 4 s). With SQLite the server runs alone and takes over its
	// predecessor's at start.
	HeartbeatInterval  time.Duration
	InstanceStaleAfter time.Duration
	// TLSCert and TLSKey are PEM files (both or neither): HTTPS with HTTP/2,
	// TLS 1.2 at least, the pair loaded again on SIGHUP.
	TLSCert, TLSKey string
	// MetricsAddr is where Prometheus's /metrics is served, on a listener
	// of its own (never the API's); "" serves no metrics.
	MetricsAddr string
	// OnMetricsReady is called with the metrics listener's address once it
	// accepts connections, before OnReady.
	OnMetricsReady func(addr string)
	// RateLimit is how many requests a second each API key may make of the
	// native API on this instance (bursts of twice as many); 0, the
	// default, for no limit.
	RateLimit int
}

// webhooksAllowPrivate resolves the webhook address policy.
func (c *Config) webhooksAllowPrivate() bool {
	if c.WebhooksAllowPrivate != nil {
		return *c.WebhooksAllowPrivate
	}
	return c.MasterKey == "" && c.KeyFile == ""
}

// Logger returns the JSON logger whose pipeline masks card numbers.
func (c *Config) Logger() *slog.Logger {
	w := c.Stderr
	if w == nil {
		w = os.Stderr
	}
	return slog.New(logging.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func (c *Config) stdout() io.Writer {
	if c.Stdout == nil {
		return os.Stdout
	}
	return c.Stdout
}

// deps are the opened pieces, closed together.
type deps struct {
	keys      *keys.Provider
	vault     *vault.Vault
	store     store.Store
	svc       *payment.Service
	proc      processor.Processor
	closeProc func() error
	dev       bool // the development set-up: SQLite and the development key file
}

func (d *deps) Close() error {
	err := d.store.Close()
	if d.closeProc != nil {
		err = errors.Join(err, d.closeProc())
	}
	return err
}

// open loads keys and opens the store. createKey allows creating a
// development key file (the embedded SQLite set-up on a fresh folder, with no
// key configured). Before it writes anything — the key file, the database,
// a migration — it checks the key against what the store remembers, so a
// command given the wrong or no key refuses to start instead of failing
// every request later.
func open(ctx context.Context, c *Config, log *slog.Logger, createKey bool) (*deps, error) {
	if c.DatabaseURL == "" && c.DataDir == "" {
		return nil, errors.New("no data folder: set --data or COFFER_DATA")
	}
	if !createKey {
		if err := needStore(c); err != nil {
			return nil, err
		}
	}
	src, err := keySource(c, createKey)
	if err != nil {
		return nil, err
	}
	var kp *keys.Provider
	if !src.create {
		if kp, err = src.provider(); err != nil {
			return nil, err
		}
		if err := checkStoreKeys(ctx, c, kp); err != nil {
			return nil, err
		}
	}
	if c.DataDir != "" && c.DatabaseURL == "" {
		// The SQLite database and the development key file live here.
		if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data folder: %w", err)
		}
	}
	if src.create {
		if _, err := keys.CreateFile(src.path); err != nil {
			return nil, err
		}
		log.Warn("DEVELOPMENT KEY FILE CREATED — NOT FOR PRODUCTION. Card data is encrypted under a key stored beside the database; "+
			"set COFFER_MASTER_KEY (base64 of 32 random bytes) or --key-file on a separate, protected volume for real use.", "path", src.path)
		if kp, err = src.provider(); err != nil {
			return nil, err
		}
	} else if src.dev {
		log.Warn("using the DEVELOPMENT key file in the data folder — not for production", "path", src.path)
	}
	var st store.Store
	if c.DatabaseURL != "" {
		st, err = postgres.Open(ctx, c.DatabaseURL)
	} else {
		st, err = sqlite.Open(ctx, c.DataDir)
	}
	if err != nil {
		return nil, err
	}
	// Another process may have set the store up under another key since
	// the check above: binding checks again, under the store's rules.
	if err := bindKeys(ctx, st, kp); err != nil {
		st.Close()
		return nil, keyError(kp, err)
	}
	kp.SetCheck(func(r *keys.Ring) error {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return verifyKeys(cctx, st, r)
	})
	proc := c.Processor
	var closeProc func() error
	if proc == nil {
		sim, err := openSimulator(ctx, c, st, log)
		if err != nil {
			st.Close()
			return nil, err
		}
		proc, closeProc = sim, sim.Close
	}
	v := vault.New(kp)
	svc := payment.New(st, v, proc, log)
	registerConnectors(svc)
	// Commands other than serve set merchants' callback URLs too: they
	// follow the same address policy.
	svc.Configure(payment.Options{WebhooksAllowPrivate: c.webhooksAllowPrivate()})
	return &deps{keys: kp, vault: v, store: st, proc: proc, closeProc: closeProc, svc: svc, dev: src.dev}, nil
}

// openSimulator builds the built-in acquirer. An acquirer remembers its
// authorizations whatever happens to its merchants' servers, so its books
// live in the store, one set for every instance sharing it. An older
// version's journal file (in the data folder, or the working folder when
// there was none) is moved into them first, so an upgrade loses nothing.
func openSimulator(ctx context.Context, c *Config, st store.Store, log *slog.Logger) (*simulator.Simulator, error) {
	books := storeledger.New(st)
	dir := c.DataDir
	if dir == "" {
		dir = "."
	}
	imp, err := simulator.ImportJournal(ctx, filepath.Join(dir, SimulatorJournal), books)
	switch {
	case errors.Is(err, simulator.ErrNotRenamed):
		log.Warn("the simulator's journal is in the store but could not be renamed; the next start skips it", "error", err.Error())
	case err != nil:
		return nil, err
	case imp.RenamedTo != "":
		log.Info("the simulator's journal was moved into the store", "renamed_to", imp.RenamedTo, "already_there", imp.Already,
			"authorizations", imp.Authorizations, "refunds", imp.Refunds, "references_taken", imp.Unreferenced)
	}
	return simulator.OverLedger(books), nil
}

// keySrc is where a command's KEK comes from.
type keySrc struct {
	env    string // COFFER_MASTER_KEY
	path   string // a key file
	dev    bool   // the development key file in the data folder
	create bool   // …which does not exist yet and is to be made
}

func (k keySrc) provider() (*keys.Provider, error) {
	if k.env != "" {
		mk := k.env
		return keys.NewProvider("COFFER_MASTER_KEY", func() (*keys.Ring, error) { return keys.ParseEnv(mk) })
	}
	return keys.FileProvider(k.path)
}

// keySource decides where the KEK comes from, creating nothing. A
// development key file is made only for the embedded SQLite set-up on a
// fresh folder: PostgreSQL is production, and a folder that already holds a
// database was set up under some key that a new one would not open.
func keySource(c *Config, create bool) (keySrc, error) {
	if c.MasterKey != "" {
		return keySrc{env: c.MasterKey}, nil
	}
	if c.KeyFile != "" {
		if _, err := os.Stat(c.KeyFile); err != nil {
			return keySrc{}, fmt.Errorf("key file %s: %w (a key file is never created when one is named)", c.KeyFile, errors.Unwrap(err))
		}
		return keySrc{path: c.KeyFile}, nil
	}
	dev := ""
	if c.DataDir != "" {
		dev = filepath.Join(c.DataDir, DevKeyFile)
	}
	if c.DatabaseURL != "" {
		hint := ""
		if _, err := os.Stat(dev); dev != "" && err == nil {
			hint = fmt.Sprintf(" (%s exists: if it is this database's key, pass --key-file %s)", dev, dev)
		}
		return keySrc{}, fmt.Errorf("no master key: a PostgreSQL database needs COFFER_MASTER_KEY or --key-file; "+
			"a development key file is made only for the embedded SQLite set-up%s", hint)
	}
	if _, err := os.Stat(dev); err == nil {
		return keySrc{path: dev, dev: true}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return keySrc{}, fmt.Errorf("key file %s: %w", dev, err)
	}
	db := filepath.Join(c.DataDir, sqlite.FileName)
	if _, err := os.Stat(db); err == nil {
		return keySrc{}, fmt.Errorf("no master key for the existing database %s: its development key file %s is missing; "+
			"set COFFER_MASTER_KEY or --key-file to the key it was created with", db, dev)
	}
	if !create {
		return keySrc{}, fmt.Errorf("no master key: set COFFER_MASTER_KEY or --key-file (%s does not exist)", dev)
	}
	return keySrc{path: dev, dev: true, create: true}, nil
}

// Serve runs the API server until ctx ends, then shuts down gracefully:
// in-flight requests finish, queued writes commit, the store closes.
func Serve(ctx context.Context, c Config) error {
	tuneGC()
	// The port is taken before anything is written: on a busy port serve
	// fails leaving no data folder, key file or development merchant.
	ln, err := listen(c.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	log := c.Logger()
	// The pair is loaded before anything is created too: a bad one stops
	// the start with nothing written.
	certs, err := loadTLS(c)
	if err != nil {
		return err
	}
	d, err := open(ctx, &c, log, true)
	if err != nil {
		return err
	}
	defer d.Close()
	obs, err := startMetrics(&c, log)
	if err != nil {
		return err
	}
	defer obs.stop()

	if err := devMerchant(ctx, &c, d, log); err != nil {
		return err
	}

	keeper := idempotency.New(d.store)
	instance := ""
	if c.DatabaseURL == "" {
		// Alone on its database: a key left started belongs to a request
		// that died with the previous run, and its retry must not wait out
		// the lease.
		if n, err := keeper.EndLeases(ctx); err != nil {
			return err
		} else if n > 0 {
			log.Warn("requests interrupted by the previous run are free to be retried", "count", n)
		}
	} else {
		instance = id.New("ins")
		if err := keeper.Join(ctx, instance, orDuration(c.InstanceStaleAfter, 4*time.Second)); err != nil {
			return fmt.Errorf("registering the instance: %w", err)
		}
	}
	web, err := NewWeb(WebConfig{Service: d.svc, Ready: readiness{d.store, d.keys}, Keeper: keeper, Logger: log, Metrics: obs.http(),
		RateLimit: c.RateLimit})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           web.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	scheme := "http"
	if certs != nil {
		serveTLS(srv, certs)
		certs.watch(bg, log)
		scheme = "https"
	}
	public := c.PublicURL
	if public == "" {
		public = scheme + "://" + browserAddr(ln.Addr())
	}
	_, sim := d.proc.(*simulator.Simulator)
	d.svc.Configure(payment.Options{PublicURL: public, ChallengeTTL: c.ChallengeTTL, TestMode: sim,
		WebhooksAllowPrivate: c.webhooksAllowPrivate(), Metrics: obs.payment()})
	sweepEvery := c.SweepInterval
	if sweepEvery <= 0 {
		sweepEvery = 30 * time.Second
	}
	go housekeeping(bg, keeper, d.vault, d.svc, log, sweepEvery)
	dispatcher := event.New(event.Config{Store: d.store, Secrets: d.svc, Log: log, AllowPrivate: c.webhooksAllowPrivate(),
		Timeout: c.WebhookTimeout, RetryBase: c.WebhookRetryBase, Formats: web.Formats, Metrics: obs.event()})
	if err := obs.watch(d.store, dispatcher); err != nil {
		return err
	}
	dispatched := make(chan struct{})
	go func() { defer close(dispatched); dispatcher.Run(bg) }()
	defer func() { stopBG(); <-dispatched }() // in-flight deliveries end before the store closes
	if instance != "" {
		beating := make(chan struct{})
		go func() {
			defer close(beating)
			keeper.Heartbeat(bg, orDuration(c.HeartbeatInterval, time.Second), func(err error) {
				log.Error("instance heartbeat failed", "error", err.Error())
			})
		}()
		defer func() { stopBG(); <-beating }() // it leaves the register before the store closes
	}

	log.Info("coffer listening", "addr", ln.Addr().String(), "scheme", scheme, "version", Version, "keys", d.keys.String(), "instance", instance)
	if c.OnReady != nil {
		c.OnReady(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- serve(srv, ln, certs) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return shutdown(srv, d, c.ShutdownTimeout, log)
}

// shutdown lets in-flight requests finish within timeout (25s when 0),
// then writes the keys' last uses still queued: Serve's deferred calls
// close the store after it.
func shutdown(srv *http.Server, d *deps, timeout time.Duration, log *slog.Logger) error {
	if timeout == 0 {
		timeout = 25 * time.Second
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	d.svc.FlushKeyUses(sctx)
	log.Info("shutdown complete")
	return nil
}

// devMerchant makes and prints a merchant for the development set-up
// only; a production store's merchants come from `coffer merchant create`.
func devMerchant(ctx context.Context, c *Config, d *deps, log *slog.Logger) error {
	n, err := d.svc.CountMerchants(ctx)
	if err != nil || n > 0 || !d.dev {
		return err
	}
	creds, err := d.svc.CreateMerchant(ctx, "Development merchant", payment.DefaultSettings())
	if err != nil {
		return fmt.Errorf("creating the development merchant: %w", err)
	}
	b, _ := json.Marshal(creds)
	fmt.Fprintf(c.stdout(), "Development merchant created. Its keys are shown only now:\n%s\n", b)
	log.Info("development merchant created", "merchant", creds.ID)
	return nil
}

// listen takes the server's port, 127.0.0.1:8080 when addr is empty.
func listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	return net.Listen("tcp", addr)
}

// housekeeping sweeps expired idempotency keys, picks up KEK versions added
// by `coffer keys rotate` (so new data keys are wrapped under them), and
// settles payments a crash left in processing.
func housekeeping(ctx context.Context, keeper *idempotency.Keeper, v *vault.Vault, svc *payment.Service, log *slog.Logger, sweepEvery time.Duration) {
	sweep := time.NewTicker(time.Hour)
	reload := time.NewTicker(time.Minute)
	challenges := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	defer reload.Stop()
	defer challenges.Stop()
	reconcile := func() {
		if _, err := svc.Reconcile(ctx); err != nil && ctx.Err() == nil {
			log.Error("reconciling interrupted payments failed", "error", err.Error())
		}
	}
	reconcile() // a crash before this start may have left payments in processing
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			if n, err := keeper.Sweep(ctx); err != nil {
				log.Error("idempotency sweep failed", "error", err.Error())
			} else if n > 0 {
				log.Info("idempotency keys expired", "count", n)
			}
		case <-challenges.C:
			// Expires unanswered challenges (failing their token or
			// payment) and erases card data kept for them.
			if n, err := svc.SweepChallenges(ctx); err != nil && ctx.Err() == nil {
				log.Error("sweeping 3-D Secure challenges failed", "error", err.Error())
			} else if n > 0 {
				log.Info("3-D Secure challenges swept", "count", n)
			}
			// Sessions past their time become expired even if nobody looks.
			if n, err := svc.SweepSessions(ctx); err != nil && ctx.Err() == nil {
				log.Error("sweeping payment sessions failed", "error", err.Error())
			} else if n > 0 {
				log.Info("payment sessions expired", "count", n)
			}
		case <-reload.C:
			if err := v.ReloadKeys(); err != nil {
				log.Error("reloading keys failed; keeping the current ring", "error", err.Error())
			}
			reconcile()
		}
	}
}

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// browserAddr is a listening address as a browser can reach it: a wildcard
// host becomes loopback.
func browserAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// CreateMerchant adds a merchant; safe while a server runs on the same store.
func CreateMerchant(ctx context.Context, c Config, name string, patch payment.SettingsPatch) (*payment.Credentials, error) {
	log := c.Logger()
	d, err := open(ctx, &c, log, true)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	st := payment.DefaultSettings()
	patch.Apply(&st)
	return d.svc.CreateMerchant(ctx, name, st)
}

// CheckNewMerchant refuses, without opening anything, a merchant that
// CreateMerchant would refuse: the CLI checks its arguments before it
// creates a data folder.
func CheckNewMerchant(c Config, name string, patch payment.SettingsPatch) error {
	st := payment.DefaultSettings()
	patch.Apply(&st)
	return payment.CheckNewMerchant(name, &st, c.webhooksAllowPrivate())
}

// needStore refuses to make a SQLite database for a command that only
// changes an existing one (merchant update, keys): a mistyped --data must
// not leave an empty store behind.
func needStore(c *Config) error {
	if c.DatabaseURL != "" {
		return nil
	}
	db := filepath.Join(c.DataDir, sqlite.FileName)
	if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no database in %s: `coffer serve` or `coffer merchant create` makes one", c.DataDir)
	}
	return nil
}

// UpdateMerchant changes a merchant's settings.
func UpdateMerchant(ctx context.Context, c Config, merchantID string, patch payment.SettingsPatch) (*store.Merchant, error) {
	d, err := open(ctx, &c, c.Logger(), false)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.svc.UpdateSettings(ctx, merchantID, patch)
}

// RotateKeys adds a KEK version to the key file and rewraps every data key
// under it. Running servers keep working: they reload the key file when they
// meet the new version.
func RotateKeys(ctx context.Context, c Config) (version uint32, rewrapped int, err error) {
	if c.MasterKey != "" {
		return 0, 0, errors.New("the KEK comes from COFFER_MASTER_KEY: add a version there (\"1:<old>,2:<new>\"), restart the servers, then run `coffer keys rewrap`")
	}
	path := c.KeyFile
	if path == "" {
		path = filepath.Join(c.DataDir, DevKeyFile)
	}
	d, err := open(ctx, &c, c.Logger(), false)
	if err != nil {
		return 0, 0, err
	}
	defer d.Close()
	if version, err = keys.RotateFile(path); err != nil {
		return 0, 0, err
	}
	if err := d.vault.ReloadKeys(); err != nil {
		return version, 0, err
	}
	// The new version's check value is recorded before any data key is
	// wrapped under it.
	if err := bindKeys(ctx, d.store, d.keys); err != nil {
		return version, 0, keyError(d.keys, err)
	}
	rewrapped, err = d.svc.RewrapAll(ctx)
	return version, rewrapped, err
}

// Rewrap rewraps every data key under the current KEK (after a version was
// added to COFFER_MASTER_KEY, or to finish an interrupted rotation).
func Rewrap(ctx context.Context, c Config) (int, error) {
	d, err := open(ctx, &c, c.Logger(), false)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	return d.svc.RewrapAll(ctx)
}
