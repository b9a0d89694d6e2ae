package statuspage

import "context"

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
