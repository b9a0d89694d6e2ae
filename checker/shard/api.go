package shard

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"linkwatch"
)

// LiveReader reads the live members of every region: a heartbeat within
// the last within of the database's time.
type LiveReader interface {
	LiveMembers(ctx context.Context, within time.Duration) ([]linkwatch.Member, error)
}

// API answers GET /api/admin/replicas: the live replicas of every region,
// which of them answered, and how many of them share its region's checks.
type API struct {
	store LiveReader
	m     *Membership
	log   *slog.Logger
}

// NewAPI returns the replicas endpoint for m's view of the membership.
func NewAPI(store LiveReader, m *Membership, log *slog.Logger) *API {
	return &API{store: store, m: m, log: log}
}

// Replica is one live replica as the replicas endpoint and the console
// show it.
type Replica struct {
	ID          string    `json:"id"`
	Region      string    `json:"region"`
	Addr        string    `json:"addr"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	Self        bool      `json:"self,omitempty"`
}

// Replicas is the membership as this replica sees it: the live replicas
// of every region, by region and id, and how many share its region's
// checks.
type Replicas struct {
	Self     string    `json:"self"`
	LeaseMS  int64     `json:"lease_ms"`
	Sharing  int       `json:"sharing"` // members of this replica's region that split its hosts, itself included once it has joined
	Replicas []Replica `json:"replicas"`
}

// Replicas reads the live replicas of every region.
func (a *API) Replicas(ctx context.Context) (Replicas, error) {
	live, err := a.store.LiveMembers(ctx, a.m.Lookback())
	if err != nil {
		return Replicas{}, err
	}
	self := a.m.Self()
	out := Replicas{Self: self.ID, LeaseMS: a.m.Lease().Milliseconds(), Sharing: len(a.m.Assignment().Members), Replicas: []Replica{}}
	for _, l := range live {
		out.Replicas = append(out.Replicas, Replica{ID: l.ID, Region: l.Region, Addr: l.Addr, StartedAt: l.StartedAt.UTC(),
			HeartbeatAt: l.HeartbeatAt.UTC(), Self: l.ID == self.ID})
	}
	slices.SortFunc(out.Replicas, func(x, y Replica) int { return cmp.Or(cmp.Compare(x.Region, y.Region), cmp.Compare(x.ID, y.ID)) })
	return out, nil
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, err := a.Replicas(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		a.log.Error("admin API: read the replicas", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "the replicas could not be read"})
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}
