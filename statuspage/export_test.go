package statuspage

import (
	"context"
	"time"
)

// RenderPage renders scope's status page again from its current snapshot,
// as serveHTML does once per snapshot, and returns its size.
func (s *Server) RenderPage(ctx context.Context, scope string) (int, error) {
	snap, err := s.snapshot(ctx, scope)
	if err != nil {
		return 0, err
	}
	body, err := s.render(snap, scope)
	return len(body), err
}

// SetBuildWait sets how long a visitor waits for a rebuild (buildWait),
// before the server serves.
func (s *Server) SetBuildWait(d time.Duration) { s.buildWait = d }
