// Package prom serves linkwatch's metrics to Prometheus (/metrics), in
// its text format or OpenMetrics as the scraper asks, through the
// Prometheus Go client. The events are counted as they come (checks,
// deliveries, redirects' time); everything else is read from
// metrics.Sources at each scrape, the same figures DataDog gets. No label
// holds a URL, a host or anything else a config or a visitor can make
// unbounded: kinds, statuses, causes, impacts, channels and outcomes are
// each a short list.
package prom

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"linkwatch"
	"linkwatch/hub"
	"linkwatch/metrics"
)

// Namespace prefixes linkwatch's own metric names.
const Namespace = "linkwatch"

// SubscriptionsChannel is the channel label of every subscription's
// deliveries: subscriptions are made through the admin API, as many as
// callers like, and one series each would be unbounded.
const SubscriptionsChannel = "subscriptions"

// EmailChannel is the channel label of every email subscriber's
// deliveries, for the same reason; their confirmation mails are
// channel="email:confirmation".
const EmailChannel = "email"

// redirectBuckets are the redirect handler's times, in seconds: a
// redirect takes a few microseconds, a 404 page tens of them, so the
// buckets are fine there and coarse beyond a millisecond.
var redirectBuckets = []float64{1e-6, 2.5e-6, 5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 10e-3, 100e-3}

// checkBuckets are a check's times, in seconds, up to the longest
// probe.timeout allowed below the default interval.
var checkBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Exporter keeps linkwatch's metrics for Prometheus. It is a
// metrics.Recorder and the hub's RedirectTimer; Handler serves them.
type Exporter struct {
	registry   *prometheus.Registry
	handler    http.Handler
	checks     *prometheus.CounterVec
	checkTime  *prometheus.HistogramVec
	deliveries *prometheus.CounterVec
	// redirectTime has each outcome's histogram ready, so a redirect
	// looks up no label: Observe is a few atomic adds.
	redirectTime [len(hub.RedirectOutcomes)]prometheus.Observer
}

// Options configure an Exporter.
type Options struct {
	// Now is the clock of ages (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// New returns the exporter of src's figures, and of the events it is told.
func New(src metrics.Sources, opts Options) *Exporter {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	e := &Exporter{
		registry: prometheus.NewRegistry(),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "checks_total",
			Help: `Checks made, by target kind, status and root cause (cause="none" when healthy).`},
			[]string{"kind", "status", "cause"}),
		checkTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "check_duration_seconds",
			Help: "How long a check took, across every redirect hop, by target kind.", Buckets: checkBuckets},
			[]string{"kind"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "deliveries_total",
			Help: `Alert delivery attempts by channel and the state they left the delivery in (state="pending": failed, to be retried); ` +
				`every subscription's are channel="` + SubscriptionsChannel + `", every email subscriber's channel="` + EmailChannel + `".`},
			[]string{"channel", "state"}),
	}
	redirectTime := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "redirect_duration_seconds",
		Help:    "How long the hub took to answer a visitor's short-link request, by outcome (the handler's time, from the request routed to the answer written).",
		Buckets: redirectBuckets}, []string{"outcome"})
	for _, o := range hub.RedirectOutcomes {
		e.redirectTime[o] = redirectTime.WithLabelValues(o.String())
	}
	e.registry.MustRegister(e.checks, e.checkTime, e.deliveries, redirectTime, newSourced(src, opts.Now),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e.handler = promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(opts.Log.Handler(), slog.LevelError),
		EnableOpenMetrics: true,
	})
	return e
}

// Handler serves the metrics, in the Prometheus text format or in
// OpenMetrics as the scraper's Accept header asks.
func (e *Exporter) Handler() http.Handler { return e.handler }

// Result counts one check and observes its time.
func (e *Exporter) Result(r linkwatch.Result) {
	cause := string(r.Cause)
	if cause == "" {
		cause = "none"
	}
	e.checks.WithLabelValues(string(r.Kind), string(r.Status), cause).Inc()
	e.checkTime.WithLabelValues(string(r.Kind)).Observe(r.Latency.Seconds())
}

// Delivery counts one delivery attempt.
func (e *Exporter) Delivery(channel string, state linkwatch.DeliveryStatus) {
	if _, ok := linkwatch.SubscriptionOf(channel); ok {
		channel = SubscriptionsChannel
	}
	if _, ok := linkwatch.EmailSubscriberOf(channel); ok {
		channel = EmailChannel
	}
	e.deliveries.WithLabelValues(channel, string(state)).Inc()
}

// ObserveRedirect observes a visitor's short-link request: the hub's
// RedirectTimer, on the redirect path, allocating nothing.
func (e *Exporter) ObserveRedirect(o hub.RedirectOutcome, took time.Duration) {
	if int(o) < len(e.redirectTime) {
		e.redirectTime[o].Observe(took.Seconds())
	}
}
