package statuspage

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"

	"linkwatch/incidents"
)

//go:embed assets
var assets embed.FS

var (
	pageTemplate = template.Must(template.New("status.html").Funcs(template.FuncMap{
		"statusLabel": statusLabel,
		"uptime":      formatUptime,
		"duration":    incidents.HumanDuration,
		"when":        func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") },
		"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"title":       titleCase,
		"dict":        func(v IncidentView, now time.Time) incidentArgs { return incidentArgs{V: v, Now: now} },
	}).ParseFS(assets, "assets/status.html", "assets/charts.html", "assets/notfound.html", "assets/unavailable.html"))
	// The charts' shapes are styled once, in chart.go, for the page and the
	// standalone SVG alike.
	statusCSS = func() []byte {
		b, _ := fs.ReadFile(assets, "assets/status.css")
		return append(b, chartShapesCSS+"\n"...)
	}()
)

func statusLabel(s string) string {
	switch s {
	case Operational:
		return "Operational"
	case DegradedPerformance:
		return "Degraded performance"
	case PartialOutage:
		return "Partial outage"
	case MajorOutage:
		return "Major outage"
	case UnderMaintenance:
		return "Under maintenance"
	}
	return s
}

func formatUptime(u float64) string {
	if u < 0 {
		return "no data yet"
	}
	return fmt.Sprintf("%.2f%% uptime", u)
}

type incidentArgs struct {
	V   IncidentView
	Now time.Time
}

// pageView is what the template renders.
type pageView struct {
	Name       string
	Scope      string // the page slug for /status/{page}, "" for everything
	ScopeTitle string
	Snap       *Snapshot
	Now        time.Time
	FeedURL    string
}

func (s *Server) serveHTML(w http.ResponseWriter, r *http.Request) {
	slug := mux.Vars(r)["page"]
	if slug != "" && !s.pageExists(slug) {
		s.serveNotFound(w, r, slug)
		return
	}
	snap, err := s.snapshot(r.Context(), slug)
	if errors.Is(err, errNoSnapshot) {
		s.serveUnavailable(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The page is a function of its snapshot: rendered once per snapshot,
	// so a burst of visitors costs one rendering, not one each.
	snap.page.once.Do(func() { snap.page.body, snap.page.err = s.render(snap, slug) })
	if snap.page.err != nil {
		s.fail(w, r, snap.page.err)
		return
	}
	h := w.Header()
	s.cacheHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	s.write(w, r, http.StatusOK, snap.page.body)
}

// render is the status page of snap, for scope slug ("" for every page).
func (s *Server) render(snap *Snapshot, slug string) ([]byte, error) {
	v := pageView{Name: s.opts.Name, Snap: snap, Now: snap.At, FeedURL: "/status/feed.atom"}
	if pc, ok := snap.byKeyOf(linkwatch.PageComponent(slug)); slug != "" && ok {
		v.Scope, v.ScopeTitle = slug, pc.Name
	}
	var buf bytes.Buffer
	err := pageTemplate.Execute(&buf, v)
	return buf.Bytes(), err
}

// serveNotFound answers the status of a page that does not exist with a
// real page, in the status page's style: a title, a language, a way on.
func (s *Server) serveNotFound(w http.ResponseWriter, r *http.Request, slug string) {
	var buf bytes.Buffer
	if err := pageTemplate.ExecuteTemplate(&buf, "notfound", struct{ Name, Slug string }{s.opts.Name, slug}); err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	s.cacheHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	s.write(w, r, http.StatusNotFound, buf.Bytes())
}

// serveUnavailable answers a status page that has never been built and
// cannot be now (a replica started while its database is out of reach)
// with a real page that says so, and when to try again.
func (s *Server) serveUnavailable(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := pageTemplate.ExecuteTemplate(&buf, "unavailable", struct{ Name string }{s.opts.Name}); err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Retry-After", retryAfter)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	s.write(w, r, http.StatusServiceUnavailable, buf.Bytes())
}

func (s *Server) serveCSS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	s.write(w, r, http.StatusOK, statusCSS)
}

func titleCase(s any) string {
	v := fmt.Sprint(s)
	if v == "" {
		return v
	}
	return strings.ToUpper(v[:1]) + v[1:]
}
