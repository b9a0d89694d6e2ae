package statuspage

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"

	"linkwatch/hub"
)

var badgeColors = map[string]string{
	Operational: "#2da44e", DegradedPerformance: "#bf8700", PartialOutage: "#d1670b",
	MajorOutage: "#cf222e", UnderMaintenance: "#0969da", toneUnknown: badgeGrey,
}

var uptimeWindows = map[string]int{"24h": 1, "7d": 7, "30d": 30, "90d": 90}

// serveBadge answers an SVG badge for a page or a link: its status, or
// with ?uptime=24h|7d|30d|90d its uptime, or for a link with
// ?metric=p50|p95&range=24h|7d|30d its response time.
func (s *Server) serveBadge(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	p, ok := s.opts.Catalog().Page(vars["page"])
	key, label := linkwatch.PageComponent(vars["page"]), vars["page"]
	if link := vars["link"]; ok && link != "" {
		var l *hub.Link
		l, ok = p.Link(link)
		if ok {
			key, label = linkwatch.DestComponent(l.URL), vars["page"]+"/"+link
		}
	}
	if !ok {
		http.Error(w, "no such page or link", http.StatusNotFound)
		return
	}
	if q := r.URL.Query(); q.Has("metric") || q.Has("range") {
		s.serveLatencyBadge(w, r, vars["page"], vars["link"], q)
		return
	}
	// The page's own status: its links and the hub that redirects them,
	// never another page's destinations.
	snap, err := s.snapshot(r.Context(), vars["page"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, ok := snap.byKeyOf(key)
	if !ok {
		s.fail(w, r, fmt.Errorf("badge: component %q missing from the snapshot of %q", key, vars["page"]))
		return
	}
	// A page's badge is the worse of the page and the hub, as the page
	// shows it: "no data" or the last known status in grey where linkwatch
	// did not measure it.
	shown := c
	if hubC, ok := snap.byKeyOf("hub"); ok && vars["link"] == "" && worse(c.Status, hubC.Status) != c.Status {
		shown = hubC
	}
	value, color := shown.Label, badgeColors[shown.Tone]
	if win := r.URL.Query().Get("uptime"); win != "" {
		days, ok := uptimeWindows[win]
		if !ok {
			http.Error(w, "uptime must be 24h, 7d, 30d or 90d", http.StatusBadRequest)
			return
		}
		label += " " + win
		u := c.UptimeOver(days)
		switch {
		case u < 0:
			value, color = "no data", badgeGrey
		case u >= 99.9:
			value, color = fmt.Sprintf("%.2f%%", u), "#2da44e"
		case u >= 99:
			value, color = fmt.Sprintf("%.2f%%", u), "#bf8700"
		default:
			value, color = fmt.Sprintf("%.2f%%", u), "#cf222e"
		}
	}
	h := w.Header()
	s.cacheHeaders(h)
	h.Set("Content-Type", "image/svg+xml; charset=utf-8")
	s.write(w, r, http.StatusOK, []byte(badgeSVG(label, strings.ToLower(value), color)))
}

// badgeSVG draws a flat two-part badge. Widths are estimated from the text
// length (about 6.5 px a character at 11 px Verdana), as shields.io does
// without a font.
func badgeSVG(label, value, color string) string {
	lw, vw := textWidth(label), textWidth(value)
	total := lw + vw
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s: %s">`+
		`<title>%s: %s</title>`+
		`<rect width="%d" height="20" rx="3" fill="#555"/><rect x="%d" width="%d" height="20" rx="3" fill="%s"/><rect x="%d" width="4" height="20" fill="%s"/>`+
		`<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">`+
		`<text x="%d" y="14">%s</text><text x="%d" y="14">%s</text></g></svg>`,
		total, xmlEscape(label), xmlEscape(value), xmlEscape(label), xmlEscape(value),
		total, lw, vw, color, lw, color,
		lw/2, xmlEscape(label), lw+vw/2, xmlEscape(value))
}

func textWidth(s string) int { return int(float64(len([]rune(s)))*6.5) + 12 }

// Latency badge thresholds: a response time people do not notice, one they
// do, and one that loses them.
const (
	latencyFast = 300 * time.Millisecond // below: green
	latencySlow = time.Second            // below: yellow; at or above: red
)

// latencyColor colours a latency badge by the thresholds above, grey
// without a response (failed checks have no response time).
func latencyColor(d time.Duration, responses int64) string {
	switch {
	case responses == 0:
		return badgeGrey
	case d < latencyFast:
		return badgeColors[Operational]
	case d < latencySlow:
		return badgeColors[DegradedPerformance]
	default:
		return badgeColors[MajorOutage]
	}
}

const badgeGrey = "#6e7781"

// serveLatencyBadge answers a link's response-time badge: its p50 or p95
// (default) over 24h (default), 7d or 30d, read with its chart.
func (s *Server) serveLatencyBadge(w http.ResponseWriter, r *http.Request, page, link string, q url.Values) {
	l, ok := s.link(page, link)
	switch {
	case !ok:
		badRequest(w, "metric and range are for a link's badge: /badge/{page}/{link}.svg")
		return
	case q.Has("uptime"):
		badRequest(w, "uptime cannot be combined with metric or range")
		return
	}
	metric := q.Get("metric")
	if metric == "" {
		metric = "p95"
	}
	if metric != "p50" && metric != "p95" {
		badRequest(w, "metric must be p50 or p95")
		return
	}
	rng, msg := chartRangeOf(q)
	if msg != "" {
		badRequest(w, msg)
		return
	}
	ch, err := s.linkChart(r.Context(), page, l, rng)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	total := ch.Series.Total
	d := total.P95
	if metric == "p50" {
		d = total.P50
	}
	value := "no data"
	if total.Responses > 0 {
		value = formatLatency(d)
	}
	h := w.Header()
	s.cacheHeaders(h)
	h.Set("Content-Type", "image/svg+xml; charset=utf-8")
	s.write(w, r, http.StatusOK, []byte(badgeSVG(page+"/"+link+" "+metric+" "+rng.Name, value, latencyColor(d, total.Responses))))
}
