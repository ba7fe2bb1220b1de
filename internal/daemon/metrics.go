package daemon

import (
	"maps"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/crdtd/crdtd/gossip"
	"github.com/crdtd/crdtd/internal/store"
)

// metrics are the node's Prometheus metrics, on a registry of
// its own so that several nodes can run in one process (tests).
type metrics struct {
	registry          *prometheus.Registry
	operations        *prometheus.CounterVec
	httpRequests      *prometheus.CounterVec
	httpSeconds       *prometheus.HistogramVec
	commitSeconds     prometheus.Histogram
	checkpointSeconds prometheus.Histogram
	decodeErrors      *prometheus.CounterVec
	rejected          *prometheus.CounterVec
	merged            *prometheus.CounterVec
	replicationLag    prometheus.Histogram
	syncRequests      *prometheus.CounterVec
	syncBytes         *prometheus.CounterVec
	syncSeconds       prometheus.Histogram
	eventStreams      prometheus.Gauge
	eventsSent        prometheus.Counter
	cacheLoads        prometheus.Counter
	cacheEvictions    prometheus.Counter
	cacheReadErrors   prometheus.Counter
	cacheWriteErrors  prometheus.Counter

	// Children of the vectors every write touches, cached (children).
	ops    children[string, prometheus.Counter]
	routes children[routeCode, routeChildren]
}

// routeCode labels the HTTP metrics of one request.
type routeCode struct {
	route string
	code  int
}

// routeChildren are the HTTP metrics of one route and status code.
type routeChildren struct {
	requests prometheus.Counter
	seconds  prometheus.Observer
}

// operation returns the counter of acknowledged operations of a kind.
func (m *metrics) operation(kind string) prometheus.Counter {
	return m.ops.get(kind, func() prometheus.Counter { return m.operations.WithLabelValues(kind) })
}

// request returns the HTTP metrics of a route and status code.
func (m *metrics) request(route string, code int) routeChildren {
	return m.routes.get(routeCode{route, code}, func() routeChildren {
		return routeChildren{
			requests: m.httpRequests.WithLabelValues(route, strconv.Itoa(code)),
			seconds:  m.httpSeconds.WithLabelValues(route),
		}
	})
}

// children caches the children of a metric vector by their labels. Taking
// a child from the vector hashes its label values under a lock, three
// times for every write; reading the cache is an atomic load and a map
// lookup. The keys come from code (routes, status codes, kinds), so the
// cache stays small; it is copied on the rare miss.
type children[K comparable, M any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[K]M]
}

func (c *children[K, M]) get(k K, create func() M) M {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[K]M)
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
		maps.Copy(next, *m)
	}
	v := create()
	next[k] = v
	c.m.Store(&next)
	return v
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crdtd_operations_total", Help: "Local cart operations acknowledged, by kind.",
		}, []string{"kind"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crdtd_http_requests_total", Help: "HTTP requests, by route and status code.",
		}, []string{"route", "code"}),
		httpSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "crdtd_http_request_duration_seconds", Help: "HTTP request latency, by route.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}, []string{"route"}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "crdtd_store_commit_seconds",
			Help:    "Latency of making a change durable, fsync included: a log append for a local write, a transaction for carts merged from peers.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
		checkpointSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "crdtd_store_checkpoint_seconds", Help: "Latency of checkpoints, which fold the write-ahead log into the data file.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		decodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crdtd_decode_errors_total", Help: "Malformed input rejected, by source (http, gossip, disk).",
		}, []string{"source"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crdtd_merge_rejected_total", Help: "Remote state rejected after decoding, by reason.",
		}, []string{"reason"}),
		merged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crdtd_remote_merges_total", Help: "Remote deltas and repairs that changed local state, by channel.",
		}, []string{"channel"}),
		replicationLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "crdtd_replication_lag_seconds",
			Help:    "Time from a change's origin timestamp to its application on this node.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
	}
	m.syncRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crdtd_sync_requests_total",
		Help: "Device syncs, by result: ok (the push changed the cart), unchanged (nothing new: a retry or a pull), refused.",
	}, []string{"result"})
	m.syncBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crdtd_sync_bytes_total", Help: "Bytes of device sync bodies, by direction (received, sent).",
	}, []string{"direction"})
	m.syncSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "crdtd_sync_duration_seconds", Help: "Latency of device syncs, fsync included when the push changed the cart.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
	})
	m.registry.MustRegister(m.syncRequests, m.syncBytes, m.syncSeconds)
	m.eventStreams = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "crdtd_event_streams", Help: "Event streams (GET /v1/carts/{cart}/events) open now.",
	})
	m.eventsSent = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crdtd_events_sent_total", Help: "Cart views sent on event streams, the first view of each stream included.",
	})
	m.registry.MustRegister(m.eventStreams, m.eventsSent)
	m.cacheLoads = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crdtd_cart_cache_loads_total", Help: "Carts read from the data file into memory (cache misses).",
	})
	m.cacheEvictions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crdtd_cart_cache_evictions_total", Help: "Carts dropped from memory to keep the cache within --cache-size.",
	})
	m.cacheReadErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crdtd_cart_read_errors_total", Help: "Reads of a cart's state from the data file for gossip that failed.",
	})
	m.cacheWriteErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crdtd_cart_encode_errors_total", Help: "Carts that could not be encoded for the data file (kept for the next try).",
	})
	m.registry.MustRegister(m.cacheLoads, m.cacheEvictions, m.cacheReadErrors, m.cacheWriteErrors)
	m.registry.MustRegister(m.operations, m.httpRequests, m.httpSeconds, m.commitSeconds, m.checkpointSeconds,
		m.decodeErrors, m.rejected, m.merged, m.replicationLag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// registerNode adds the metrics read from the node's gossip, store and cart
// table on each scrape.
func (m *metrics) registerNode(g *gossip.Node, s *store.Store, cs *carts) {
	m.registry.MustRegister(&nodeCollector{gossip: g, store: s, carts: cs})
}

// nodeCollector reports gossip counters, membership and object counts.
type nodeCollector struct {
	gossip *gossip.Node
	store  *store.Store
	carts  *carts
}

var (
	descGossipMessages = prometheus.NewDesc("crdtd_gossip_messages_total",
		"Gossip messages sent and received, by channel and direction.", []string{"channel", "direction"}, nil)
	descGossipBytes = prometheus.NewDesc("crdtd_gossip_bytes_total",
		"Gossip payload bytes sent and received, by channel and direction.", []string{"channel", "direction"}, nil)
	descAERounds = prometheus.NewDesc("crdtd_antientropy_rounds_total",
		"Anti-entropy repair rounds run.", nil, nil)
	descAEExchanges = prometheus.NewDesc("crdtd_antientropy_exchanges_total",
		"Digest exchanges with peers, by result: in_sync, diverged, or rejected because the sender it names is not an alive member.",
		[]string{"result"}, nil)
	descAEOffers = prometheus.NewDesc("crdtd_antientropy_offers_total",
		"Repair offers: sent to peers, answered by them, and offers and answers rejected (unknown sender, or no offer of ours).",
		[]string{"result"}, nil)
	descAEBuckets = prometheus.NewDesc("crdtd_antientropy_divergent_buckets_total",
		"Digest buckets found different from a peer's.", nil, nil)
	descAEKeys = prometheus.NewDesc("crdtd_antientropy_keys_repaired_total",
		"Objects sent or received by anti-entropy repair.", nil, nil)
	descGossipDropped = prometheus.NewDesc("crdtd_gossip_dropped_total",
		"Gossip messages dropped because a queue was full, by queue.", []string{"queue"}, nil)
	descGossipDecode = prometheus.NewDesc("crdtd_gossip_decode_errors_total",
		"Malformed gossip messages dropped.", nil, nil)
	descGossipTransport = prometheus.NewDesc("crdtd_gossip_transport_errors_total",
		"Warnings and errors of the membership layer: mostly input it refused before gossip saw it (a wrong key or label, a malformed packet, a member with an invalid name, address or protocol versions).",
		nil, nil)
	descMembers = prometheus.NewDesc("crdtd_members",
		"Cluster members as this node sees them, by state.", []string{"state"}, nil)
	descCache = prometheus.NewDesc("crdtd_cart_cache",
		"The cart cache: carts in memory, and the bytes they are charged against --cache-size.",
		[]string{"measure"}, nil)
	descCarts = prometheus.NewDesc("crdtd_carts",
		"Carts held by this node: with_items have a line people see (the carts of /v1/status and /v1/carts); "+
			"empty had all their lines removed and keep what was removed, so that no stale peer brings it back.",
		[]string{"state"}, nil)
	descStoreCommits = prometheus.NewDesc("crdtd_store_commits_total",
		"Writes committed to the data file, and the transactions that carried them.", []string{"kind"}, nil)
	descStoreLog = prometheus.NewDesc("crdtd_store_log_appends_total",
		"Local writes appended to the write-ahead log, and the fdatasyncs that carried them.", []string{"kind"}, nil)
	descStoreLogSync = prometheus.NewDesc("crdtd_store_log_sync_seconds",
		"Latency of one write-ahead log append: a write and an fdatasync shared by a batch of local writes.", nil, nil)
	descStoreLogPending = prometheus.NewDesc("crdtd_store_log_pending_bytes",
		"Size of the write-ahead log not yet folded into the data file.", nil, nil)
)

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descGossipMessages, descGossipBytes, descAERounds, descAEExchanges, descAEOffers,
		descAEBuckets, descAEKeys, descGossipDropped, descGossipDecode, descGossipTransport, descMembers, descCarts, descCache,
		descStoreCommits, descStoreLog, descStoreLogSync, descStoreLogPending} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.gossip.Stats()
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	for _, x := range []struct {
		channel                    string
		sentN, sentB, recvN, recvB uint64
	}{
		{"broadcast", s.DeltasSentBroadcast, s.BytesSentBroadcast, s.DeltasRecvBroadcast, s.BytesRecvBroadcast},
		{"direct", s.DeltasSentDirect, s.BytesSentDirect, s.DeltasRecvDirect, s.BytesRecvDirect},
		{"reliable", s.DeltasSentReliable, s.BytesSentReliable, s.DeltasRecvReliable, s.BytesRecvReliable},
		{"repair", s.ObjectsSentRepair, s.BytesSentRepair, s.ObjectsRecvRepair, s.BytesRecvRepair},
	} {
		counter(descGossipMessages, x.sentN, x.channel, "sent")
		counter(descGossipMessages, x.recvN, x.channel, "received")
		counter(descGossipBytes, x.sentB, x.channel, "sent")
		counter(descGossipBytes, x.recvB, x.channel, "received")
	}
	counter(descAERounds, s.RepairRounds)
	counter(descAEExchanges, s.DigestsInSync, "in_sync")
	counter(descAEExchanges, s.DigestExchanges-min(s.DigestExchanges, s.DigestsInSync), "diverged")
	counter(descAEExchanges, s.DigestsRejected, "rejected")
	counter(descAEOffers, s.RepairOffers, "sent")
	counter(descAEOffers, s.RepairWants, "answered")
	counter(descAEOffers, s.RepairRejected, "rejected")
	counter(descAEBuckets, s.DivergentBuckets)
	counter(descAEKeys, s.KeysRepaired)
	counter(descGossipDropped, s.DroppedInbound, "inbound")
	counter(descGossipDropped, s.DroppedOutbound, "outbound")
	counter(descGossipDropped, s.DroppedReliable, "reliable")
	counter(descGossipDropped, s.DroppedBroadcasts, "broadcast")
	counter(descGossipDecode, s.DecodeErrors)
	counter(descGossipTransport, s.TransportErrors)

	states := map[string]int{"alive": 0, "suspect": 0, "dead": 0, "left": 0}
	for _, m := range c.gossip.Members() {
		states[m.State]++
	}
	for st, n := range states {
		ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(n), st)
	}
	withItems, held := c.carts.counts()
	ch <- prometheus.MustNewConstMetric(descCarts, prometheus.GaugeValue, float64(withItems), "with_items")
	ch <- prometheus.MustNewConstMetric(descCarts, prometheus.GaugeValue, float64(held-withItems), "empty")
	cached, cachedBytes := c.carts.cacheStats()
	ch <- prometheus.MustNewConstMetric(descCache, prometheus.GaugeValue, float64(cached), "carts")
	ch <- prometheus.MustNewConstMetric(descCache, prometheus.GaugeValue, float64(cachedBytes), "bytes")
	ss := c.store.Stats()
	counter(descStoreCommits, ss.Commits, "writes")
	counter(descStoreCommits, ss.Transactions, "transactions")
	counter(descStoreLog, ss.Logged, "records")
	counter(descStoreLog, ss.LogSyncs, "syncs")
	ch <- logSyncHistogram(ss)
	ch <- prometheus.MustNewConstMetric(descStoreLogPending, prometheus.GaugeValue, float64(ss.LogPendingBytes))
}

// logSyncHistogram turns the store's log latency buckets into a histogram.
func logSyncHistogram(ss store.Stats) prometheus.Metric {
	bounds := store.LatencyBounds()
	buckets := make(map[float64]uint64, len(bounds))
	var cum uint64
	for i, b := range bounds {
		cum += ss.LogSyncLatency[i]
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(descStoreLogSync, ss.LogSyncs, ss.LogSyncDuration.Seconds(), buckets)
}
