package console

import (
	"context"
	"net/http"
	"time"

	"linkwatch/checker/shard"
)

// ReplicaReader reads the live replicas of every region (shard.API).
type ReplicaReader interface {
	Replicas(ctx context.Context) (shard.Replicas, error)
}

// regionView is one region's live replicas.
type regionView struct {
	Name     string // "" is the one unnamed region
	Replicas []replicaView
}

type replicaView struct {
	shard.Replica
	Age time.Duration // since its last heartbeat
}

// replicasView is the replicas page: nil Regions when this linkwatch is
// one process (SQLite).
type replicasView struct {
	Single  bool
	Lease   time.Duration
	Sharing int
	Regions []regionView
}

func (c *Console) replicasPage(w http.ResponseWriter, r *http.Request, s session) {
	if c.opts.Replicas == nil {
		c.render(w, r, s, http.StatusOK, "replicas.html", "Replicas and regions", replicasView{Single: true})
		return
	}
	got, err := c.opts.Replicas.Replicas(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	now := c.opts.Now()
	v := replicasView{Lease: time.Duration(got.LeaseMS) * time.Millisecond, Sharing: got.Sharing}
	for _, rep := range got.Replicas { // by region, then id
		if len(v.Regions) == 0 || v.Regions[len(v.Regions)-1].Name != rep.Region {
			v.Regions = append(v.Regions, regionView{Name: rep.Region})
		}
		last := &v.Regions[len(v.Regions)-1]
		last.Replicas = append(last.Replicas, replicaView{Replica: rep, Age: now.Sub(rep.HeartbeatAt).Round(time.Second)})
	}
	c.render(w, r, s, http.StatusOK, "replicas.html", "Replicas and regions", v)
}
