package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestFeedIDsAreMadeOnceAndKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lw.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, key := range []string{"dest:https://a.example/", "dest:https://b.example/"} {
		inc, err := db.Record(ctx, incidents.Change{Incident: linkwatch.Incident{Key: key, Kind: linkwatch.KindDestination, Title: key,
			Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, StartedAt: time.Now(), UpdatedAt: time.Now()}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inc.ID)
	}
	feed, byIncident, err := db.FeedIDs(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if !uuidV4.MatchString(feed) || !uuidV4.MatchString(byIncident[ids[0]]) || !uuidV4.MatchString(byIncident[ids[1]]) {
		t.Errorf("ids are not UUIDv4: feed %q, incidents %v", feed, byIncident)
	}
	if byIncident[ids[0]] == byIncident[ids[1]] || feed == byIncident[ids[0]] {
		t.Errorf("ids repeat: feed %q, incidents %v", feed, byIncident)
	}
	if _, _, err := db.FeedIDs(ctx, []int64{999}); !errors.Is(err, linkwatch.ErrNotFound) {
		t.Errorf("unknown incident: %v, want linkwatch.ErrNotFound", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	feed2, byIncident2, err := db.FeedIDs(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if feed2 != feed || byIncident2[ids[0]] != byIncident[ids[0]] || byIncident2[ids[1]] != byIncident[ids[1]] {
		t.Errorf("ids changed across a reopen: %q %v, then %q %v", feed, byIncident, feed2, byIncident2)
	}
}
