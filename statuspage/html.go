package statuspage

import (
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
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
		"statusLabel":  statusLabel,
		"uptime":       formatUptime,
		"bars":         barsHTML,
		"destinations": destinationsHTML,
		"duration":     incidents.HumanDuration,
		"when":         func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") },
		"iso":          func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"title":        titleCase,
		"dict":         func(v IncidentView, now time.Time) incidentArgs { return incidentArgs{V: v, Now: now} },
	}).ParseFS(assets, "assets/status.html", "assets/charts.html", "assets/notfound.html", "assets/unavailable.html", "assets/subscribe.html"))
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
	// LinkRows are the scoped page's links' rows (see writeLinkRows).
	LinkRows template.HTML
	// Top are the components listed at the top level: every one but the
	// destinations, which their hosts list (a page of 1,000 links has 52
	// of 1,052: the template ranges over these only).
	Top []*Component
	// Subscribe: the page shows the email subscription form.
	Subscribe bool
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
	// Compressed once too: a page of 1,000 links is 1.4 MB of HTML and
	// 48 KB gzipped, and every browser asks for gzip.
	snap.page.once.Do(func() {
		snap.page.body, snap.page.err = s.render(snap, slug)
		if snap.page.err == nil {
			snap.page.gzipped, snap.page.err = gzipped(snap.page.body)
		}
	})
	if snap.page.err != nil {
		s.fail(w, r, snap.page.err)
		return
	}
	h := w.Header()
	s.cacheHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Add("Vary", "Accept-Encoding")
	body := snap.page.body
	if acceptsGzip(r.Header) {
		h.Set("Content-Encoding", "gzip")
		body = snap.page.gzipped
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	s.write(w, r, http.StatusOK, body)
}

// gzipped is b compressed.
func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip
// (RFC 9110, 12.5.3): named with a weight other than 0, or, if not named,
// * with one.
func acceptsGzip(h http.Header) bool {
	gz, star := -1.0, -1.0
	for _, v := range h.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
					f, err := strconv.ParseFloat(v, 64)
					if err != nil {
						f = 0 // a weight that cannot be read accepts nothing
					}
					q = f
				}
			}
			switch coding = strings.TrimSpace(coding); {
			case strings.EqualFold(coding, "gzip"):
				gz = q
			case coding == "*":
				star = q
			}
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star > 0
}

// render is the status page of snap, for scope slug ("" for every page).
func (s *Server) render(snap *Snapshot, slug string) ([]byte, error) {
	v := pageView{Name: s.opts.Name, Snap: snap, Now: snap.At, FeedURL: "/status/feed.atom", Subscribe: s.formOn(slug)}
	if pc, ok := snap.byKeyOf(linkwatch.PageComponent(slug)); slug != "" && ok {
		v.Scope, v.ScopeTitle = slug, pc.Name
	}
	for _, c := range snap.Components {
		if c.GroupID == "" {
			v.Top = append(v.Top, c)
		}
	}
	var rows bytes.Buffer
	rows.Grow(len(snap.Links) * 384) // a row is about 340 bytes
	if err := writeLinkRows(&rows, snap.Links); err != nil {
		return nil, err
	}
	v.LinkRows = template.HTML(rows.String()) // every value escaped
	var buf bytes.Buffer
	buf.Grow(rows.Len() + len(v.Top)*2048 + 16<<10)
	err := pageTemplate.Execute(&buf, v)
	return buf.Bytes(), err
}

// IncidentHTML is an incident as its status page shows it, with its
// operators' updates (ups, oldest first): the one rendering of an
// incident, which the operator console shows as the preview of what
// visitors will see. It is a fragment (an article), styled by the status
// page's stylesheet.
func IncidentHTML(inc linkwatch.Incident, ups []linkwatch.Update, now time.Time) (template.HTML, error) {
	var buf bytes.Buffer
	err := pageTemplate.ExecuteTemplate(&buf, "incident", incidentArgs{V: publicView(inc, ups), Now: now})
	return template.HTML(buf.String()), err // html/template escaped every value in it
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
