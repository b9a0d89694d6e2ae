package statuspage

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

//go:embed assets
var assets embed.FS

var (
	pageTemplate = template.Must(template.New("status.html").Funcs(template.FuncMap{
		"statusLabel": statusLabel,
		"uptime":      formatUptime,
		"ago":         ago,
		"when":        func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") },
		"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"title":       titleCase,
		"dict":        func(v IncidentView, now time.Time) incidentArgs { return incidentArgs{V: v, Now: now} },
	}).ParseFS(assets, "assets/status.html"))
	statusCSS = func() []byte { b, _ := fs.ReadFile(assets, "assets/status.css"); return b }()
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

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
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
	Components []*Component
	Open       []IncidentView
	History    []IncidentView
	Now        time.Time
	FeedURL    string
}

func (s *Server) serveHTML(w http.ResponseWriter, r *http.Request) {
	snap, err := s.snapshot(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := pageView{Name: s.opts.Name, Snap: snap, Components: snap.Components, Open: snap.Open, History: snap.History, Now: snap.At, FeedURL: "/status/feed.atom"}
	if slug := mux.Vars(r)["page"]; slug != "" {
		pc, ok := snap.Component("page:" + slug)
		if !ok {
			securityHeaders(w.Header())
			http.Error(w, "no such page", http.StatusNotFound)
			return
		}
		v.Scope, v.ScopeTitle = slug, pc.Name
		v.Components, v.Open, v.History = scope(snap, pc)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	securityHeaders(h)
	s.cacheHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	s.write(w, r, http.StatusOK, buf.Bytes())
}

// scope narrows the page to one link page: the page, the hub, and the
// destinations and hosts its links depend on.
func scope(snap *Snapshot, pc *Component) ([]*Component, []IncidentView, []IncidentView) {
	keep := map[string]bool{"hub": true, pc.ID: true}
	for _, t := range pc.targets {
		keep["dest:"+t] = true
		keep["host:"+hostOf(t)] = true
	}
	var comps []*Component
	for _, c := range snap.Components {
		if keep[c.ID] && (c.Page == "" || c.ID == pc.ID) {
			comps = append(comps, c)
		}
	}
	filter := func(vs []IncidentView) []IncidentView {
		var out []IncidentView
		for _, v := range vs {
			for _, id := range v.Components {
				if keep[id] {
					out = append(out, v)
					break
				}
			}
		}
		return out
	}
	return comps, filter(snap.Open), filter(snap.History)
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
