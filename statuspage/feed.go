package statuspage

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The feeds list incidents, newest first, each with its updates, so feed
// readers and chat integrations that poll Statuspage's history.atom work.

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomEntry struct {
	ID        string      `xml:"id"`
	Title     string      `xml:"title"`
	Published string      `xml:"published"`
	Updated   string      `xml:"updated"`
	Link      atomLink    `xml:"link"`
	Content   atomContent `xml:"content"`
}

type atomContent struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

// entryHTML is an incident's updates as escaped HTML for a feed entry.
func entryHTML(v IncidentView) string {
	var b strings.Builder
	for _, u := range v.Updates {
		fmt.Fprintf(&b, "<p><small>%s</small><br><strong>%s</strong> - %s</p>",
			u.CreatedAt.UTC().Format("Jan 2, 15:04 UTC"), xmlEscape(titleCase(u.Status)), xmlEscape(u.Body))
	}
	return b.String()
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (s *Server) feedIncidents(r *http.Request) ([]IncidentView, *Snapshot, error) {
	snap, err := s.snapshot(r.Context())
	if err != nil {
		return nil, nil, err
	}
	return append(append([]IncidentView(nil), snap.Open...), snap.History...), snap, nil
}

func (s *Server) serveAtom(w http.ResponseWriter, r *http.Request) {
	list, snap, err := s.feedIncidents(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	base := s.opts.URL
	f := atomFeed{ID: "tag:linkwatch," + base + ":/history", Title: s.opts.Name + " - incident history", Updated: snap.At.Format(time.RFC3339),
		Links: []atomLink{{Type: "text/html", Href: base + "/status"}, {Rel: "self", Type: "application/atom+xml", Href: base + "/status/feed.atom"}}}
	for _, v := range list {
		link := fmt.Sprintf("%s/status#incident-%d", base, v.ID)
		f.Entries = append(f.Entries, atomEntry{ID: fmt.Sprintf("tag:linkwatch,%s:/incident/%d", base, v.ID), Title: v.Title,
			Published: v.StartedAt.UTC().Format(time.RFC3339), Updated: v.UpdatedAt.UTC().Format(time.RFC3339),
			Link: atomLink{Rel: "alternate", Type: "text/html", Href: link}, Content: atomContent{Type: "html", Body: entryHTML(v)}})
	}
	s.writeXML(w, r, "application/atom+xml; charset=utf-8", f)
}

type rssFeed struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title       string    `xml:"title"`
	Link        string    `xml:"link"`
	Description string    `xml:"description"`
	Items       []rssItem `xml:"item"`
}

type rssItem struct {
	Title       string `xml:"title"`
	Link        string `xml:"link"`
	GUID        string `xml:"guid"`
	PubDate     string `xml:"pubDate"`
	Description string `xml:"description"`
}

func (s *Server) serveRSS(w http.ResponseWriter, r *http.Request) {
	list, _, err := s.feedIncidents(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	base := s.opts.URL
	f := rssFeed{Version: "2.0", Channel: rssChannel{Title: s.opts.Name + " - incident history", Link: base + "/status", Description: "Incidents and their updates"}}
	for _, v := range list {
		link := fmt.Sprintf("%s/status#incident-%d", base, v.ID)
		f.Channel.Items = append(f.Channel.Items, rssItem{Title: v.Title, Link: link, GUID: link, PubDate: v.StartedAt.UTC().Format(time.RFC1123Z), Description: entryHTML(v)})
	}
	s.writeXML(w, r, "application/rss+xml; charset=utf-8", f)
}

func (s *Server) writeXML(w http.ResponseWriter, r *http.Request, contentType string, v any) {
	body, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	securityHeaders(h)
	s.cacheHeaders(h)
	h.Set("Content-Type", contentType)
	s.write(w, r, http.StatusOK, append([]byte(xml.Header), body...))
}
