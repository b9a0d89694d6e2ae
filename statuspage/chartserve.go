package statuspage

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gorilla/mux"

	"linkwatch/hub"
)

type cachedChart struct {
	chart chart
	at    time.Time
}

// serveChart answers GET /chart/{page}/{link}.svg?range=24h|7d|30d: the
// link's response-time chart as a standalone SVG.
func (s *Server) serveChart(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	l, ok := s.link(vars["page"], vars["link"])
	if !ok {
		notFound(w, "no such page or link")
		return
	}
	rng, msg := chartRangeOf(r.URL.Query())
	if msg != "" {
		badRequest(w, msg)
		return
	}
	ch, err := s.linkChart(r.Context(), vars["page"], l, rng)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	s.cacheHeaders(h)
	h.Set("Content-Type", "image/svg+xml; charset=utf-8")
	s.write(w, r, http.StatusOK, []byte(ch.svg(true)))
}

// link returns the link of a page of the catalog being served.
func (s *Server) link(page, link string) (*hub.Link, bool) {
	p, ok := s.opts.Catalog().Page(page)
	if !ok {
		return nil, false
	}
	return p.Link(link)
}

// chartRangeOf reads ?range= (default 24h); msg says what is wrong with it.
func chartRangeOf(q url.Values) (rng chartRange, msg string) {
	name := q.Get("range")
	if name == "" {
		name = "24h"
	}
	rng, ok := chartRanges[name]
	if !ok {
		return rng, "range must be " + chartRangeNames
	}
	return rng, ""
}

// linkChart returns a link's chart over rng, read from the rollups at most
// every CacheFor, like the page. Its incidents are the page's. The
// 24-hour chart is the one the page's snapshot read: the page shows it as
// a lazy image, so a visitor scrolling 1,000 links costs 1,000 drawings
// and no read, and the image says what the page's words say.
func (s *Server) linkChart(ctx context.Context, page string, l *hub.Link, rng chartRange) (chart, error) {
	if rng.Name == "24h" {
		snap, err := s.snapshot(ctx, page)
		if err != nil {
			return chart{}, err
		}
		if i := slices.IndexFunc(snap.Links, func(v LinkView) bool { return v.Slug == l.Slug && v.URL == l.URL }); i >= 0 {
			return snap.Links[i].chart, nil
		}
		// A link added by a reload since the snapshot: read it below.
	}
	s.chartMu.Lock()
	defer s.chartMu.Unlock()
	now := s.now()
	key := page + "/" + l.Slug + "/" + rng.Name
	if c, ok := s.charts[key]; ok && now.Sub(c.at) < s.opts.CacheFor {
		return c.chart, nil
	}
	snap, err := s.snapshot(ctx, page)
	if err != nil {
		return chart{}, err
	}
	subject := chartSubject{ID: "chart", Name: page + "/" + l.Slug, Targets: []string{l.URL}}
	charts, err := readCharts(ctx, s.src, []chartSubject{subject}, rng, now, slices.Concat(snap.Open, snap.History), snap.unknown)
	if err != nil {
		return chart{}, err
	}
	// Links removed by a reload leave stale entries; drop what has expired.
	for k, c := range s.charts {
		if now.Sub(c.at) >= s.opts.CacheFor {
			delete(s.charts, k)
		}
	}
	s.charts[key] = cachedChart{chart: charts[subject.ID], at: now}
	return charts[subject.ID], nil
}

func notFound(w http.ResponseWriter, msg string) {
	http.Error(w, msg, http.StatusNotFound)
}

func badRequest(w http.ResponseWriter, msg string) {
	http.Error(w, msg, http.StatusBadRequest)
}
