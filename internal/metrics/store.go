package metrics

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CommitStats is what a store that groups writes into commits reports
// (the SQLite store's Stats): commits made and the writes they carried.
type CommitStats interface {
	Stats() (commits, writes uint64)
}

// SyncStats is what a store that makes commits durable apart from them
// reports (the SQLite store's syncer): fdatasyncs of its log and the time
// they took, so a slow disk shows apart from slow statements.
type SyncStats interface {
	SyncStats() (syncs uint64, took time.Duration)
}

// CommitObserver is what such a store may implement to have each commit
// measured as it happens: its batch size and how long it took to commit
// (the fsync included).
type CommitObserver interface {
	ObserveCommits(func(writes int, took time.Duration))
}

// PoolStatser is what a store may implement to have its connection pools
// measured, by a name of its choosing per pool ("read", "write").
type PoolStatser interface {
	PoolStats() map[string]sql.DBStats
}

// WatchStore registers the store's metrics: whichever of CommitStats,
// CommitObserver and PoolStatser st implements.
func (m *Metrics) WatchStore(st any) error {
	if m == nil {
		return nil
	}
	if cs, ok := st.(CommitStats); ok {
		commits := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "coffer_store_commits_total",
			Help: "Write transactions the store committed (group commit: one per batch)."},
			func() float64 { c, _ := cs.Stats(); return float64(c) })
		writes := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "coffer_store_committed_writes_total",
			Help: "Writes those commits carried; divided by commits, the mean batch size."},
			func() float64 { _, w := cs.Stats(); return float64(w) })
		if err := m.Register(commits, writes); err != nil {
			return err
		}
	}
	if ss, ok := st.(SyncStats); ok {
		syncs := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "coffer_store_wal_syncs_total",
			Help: "fdatasyncs of the write-ahead log (one covers every commit before it)."},
			func() float64 { n, _ := ss.SyncStats(); return float64(n) })
		took := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "coffer_store_wal_sync_seconds_total",
			Help: "Time spent in those fdatasyncs; divided by their count, the disk's sync latency."},
			func() float64 { _, d := ss.SyncStats(); return d.Seconds() })
		if err := m.Register(syncs, took); err != nil {
			return err
		}
	}
	if co, ok := st.(CommitObserver); ok {
		batch := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "coffer_store_commit_batch_size",
			Help: "Writes per group commit.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}})
		took := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "coffer_store_commit_duration_seconds",
			Help:    "Time a group commit took, its sync included.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, 1}})
		if err := m.Register(batch, took); err != nil {
			return err
		}
		co.ObserveCommits(func(writes int, d time.Duration) {
			batch.Observe(float64(writes))
			took.Observe(d.Seconds())
		})
	}
	if ps, ok := st.(PoolStatser); ok {
		return m.Register(poolCollector{ps})
	}
	return nil
}

var (
	poolOpen     = prometheus.NewDesc("coffer_db_connections_open", "Connections open, in use or idle.", []string{"pool"}, nil)
	poolInUse    = prometheus.NewDesc("coffer_db_connections_in_use", "Connections in use.", []string{"pool"}, nil)
	poolIdle     = prometheus.NewDesc("coffer_db_connections_idle", "Idle connections.", []string{"pool"}, nil)
	poolMax      = prometheus.NewDesc("coffer_db_connections_max", "The pool's limit of open connections (0: none).", []string{"pool"}, nil)
	poolWaits    = prometheus.NewDesc("coffer_db_connection_waits_total", "Times a caller waited for a connection.", []string{"pool"}, nil)
	poolWaitSecs = prometheus.NewDesc("coffer_db_connection_wait_seconds_total", "Time spent waiting for connections.", []string{"pool"}, nil)
)

// poolCollector reads database/sql's pool statistics at each scrape.
type poolCollector struct{ ps PoolStatser }

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolOpen, poolInUse, poolIdle, poolMax, poolWaits, poolWaitSecs} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.ps.PoolStats() {
		ch <- prometheus.MustNewConstMetric(poolOpen, prometheus.GaugeValue, float64(s.OpenConnections), name)
		ch <- prometheus.MustNewConstMetric(poolInUse, prometheus.GaugeValue, float64(s.InUse), name)
		ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.Idle), name)
		ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxOpenConnections), name)
		ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.WaitCount), name)
		ch <- prometheus.MustNewConstMetric(poolWaitSecs, prometheus.CounterValue, s.WaitDuration.Seconds(), name)
	}
}

// PendingFunc reports the webhook queue: deliveries pending and when the
// oldest of them was created (zero when none is).
type PendingFunc func(ctx context.Context) (pending int, oldest time.Time, err error)

var (
	queuePending = prometheus.NewDesc("coffer_webhook_deliveries_pending",
		"Webhook and callback deliveries not yet delivered nor given up (waiting, retrying or under way).", nil, nil)
	queueOldest = prometheus.NewDesc("coffer_webhook_oldest_pending_seconds",
		"Age of the oldest pending delivery (0 when none is pending).", nil, nil)
)

// queueTimeout bounds the store read a scrape makes.
const queueTimeout = 2 * time.Second

// WatchWebhookQueue registers the queue gauges, read from the store at
// each scrape. A failed read leaves them out of that scrape (and is
// counted by promhttp as an error) rather than showing a false zero.
func (m *Metrics) WatchWebhookQueue(f PendingFunc) error {
	if m == nil {
		return nil
	}
	return m.Register(queueCollector{f: f, now: time.Now})
}

type queueCollector struct {
	f   PendingFunc
	now func() time.Time
}

func (queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queuePending
	ch <- queueOldest
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
	defer cancel()
	n, oldest, err := c.f(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queuePending, err)
		return
	}
	age := 0.0
	if n > 0 && !oldest.IsZero() {
		age = max(0, c.now().Sub(oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(queuePending, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(queueOldest, prometheus.GaugeValue, age)
}
