package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"linkwatch"
	"linkwatch/errlog"
)

// Store is what the Sampler reads from storage.
type Store interface {
	OpenIncidents(ctx context.Context) ([]linkwatch.Incident, error)
	OutboxBacklog(ctx context.Context) (linkwatch.Backlog, error)
}

// IncidentClass is what open incidents are counted by.
type IncidentClass struct {
	Kind   linkwatch.IncidentKind
	Impact linkwatch.Impact
}

// Sample is one reading of the figures kept in storage. They are the
// database's, so every replica sharing it reads the same.
type Sample struct {
	// At is when it was taken; zero: none has been.
	At time.Time
	// Storage is the storage health check's verdict: nil when the
	// database answers and commits.
	Storage error
	// Open counts the open incidents (regional notes included) by kind
	// and impact; a class counted before stays, at 0, once its last one
	// is resolved. nil: they could not be read.
	Open map[IncidentClass]int
	// Backlog is the outbox's deliveries not yet sent, when BacklogOK:
	// it could be read.
	Backlog   linkwatch.Backlog
	BacklogOK bool
}

// OldestPendingAge is how long the oldest delivery not yet sent has
// waited at now, since its alert was made: 0 when none waits (or the
// backlog could not be read).
func (s Sample) OldestPendingAge(now time.Time) time.Duration {
	if !s.BacklogOK || s.Backlog.Oldest.IsZero() {
		return 0
	}
	return max(now.Sub(s.Backlog.Oldest), 0)
}

// SamplerOptions configure a Sampler.
type SamplerOptions struct {
	// Health checks storage as /readyz/storage does: a read, a committed
	// write, no write refused lately.
	Health func(ctx context.Context) error
	// Timeout bounds one sample (default 5 s): a database that does not
	// answer is down, and the next sample tries again.
	Timeout time.Duration
	// Readable, when set, is closed once storage's tables can be read
	// (serve: its database reached and migrated). Until then, and while
	// Health fails, a sample holds Health's verdict only: reading would
	// fail on a missing table, or on the outage Health has already seen.
	Readable <-chan struct{}
	// Now is the sample's clock (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// Sampler reads the figures kept in storage, once for every exporter:
// the open incidents, the outbox backlog and storage's health. An
// exporter reads its latest Sample, so a scrape never waits on the
// database, and a database that is down costs one slow read per sample.
type Sampler struct {
	store Store
	opts  SamplerOptions
	// The reads' failures, logged once a minute at most.
	openFails, backlogFails *errlog.Reporter

	mu   sync.Mutex
	last Sample
	seen map[IncidentClass]bool // classes counted before, kept at 0
}

// NewSampler returns the sampler of store.
func NewSampler(store Store, opts SamplerOptions) *Sampler {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Sampler{store: store, opts: opts, seen: map[IncidentClass]bool{},
		openFails:    &errlog.Reporter{Log: opts.Log, Msg: "metrics: count open incidents", Now: opts.Now},
		backlogFails: &errlog.Reporter{Log: opts.Log, Msg: "metrics: count pending deliveries", Now: opts.Now}}
}

// Last returns the latest sample (the zero Sample before the first).
func (s *Sampler) Last() Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Sample takes one sample; Last returns it from then on. It is called
// from one goroutine at a time (Run's).
func (s *Sampler) Sample(ctx context.Context) {
	// The reads' own deadline: one that passes is a failure to report,
	// where the end of ctx is the process stopping.
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	next := Sample{At: s.opts.Now()}
	if s.opts.Health != nil {
		next.Storage = s.opts.Health(rctx)
	}
	if next.Storage != nil || !s.readable() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.last = next
		return
	}
	open, err := s.store.OpenIncidents(rctx)
	s.openFails.Report(ctx, err)
	if err == nil {
		next.Open = map[IncidentClass]int{}
		for _, inc := range open {
			next.Open[IncidentClass{inc.Kind, inc.Impact}]++
		}
	}
	next.Backlog, err = s.store.OutboxBacklog(rctx)
	s.backlogFails.Report(ctx, err)
	next.BacklogOK = err == nil
	s.mu.Lock()
	defer s.mu.Unlock()
	if next.Open != nil {
		for c := range next.Open {
			s.seen[c] = true
		}
		for c := range s.seen {
			if _, ok := next.Open[c]; !ok {
				next.Open[c] = 0
			}
		}
	}
	s.last = next
}

// readable reports whether storage's tables can be read yet.
func (s *Sampler) readable() bool {
	if s.opts.Readable == nil {
		return true
	}
	select {
	case <-s.opts.Readable:
		return true
	default:
		return false
	}
}

// Run samples at once, then every period, until ctx ends.
func (s *Sampler) Run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		s.Sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
