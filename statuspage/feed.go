package statuspage

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"linkwatch/hub/middleware"
)

// The feeds list incidents, newest first, each with its updates, so feed
// readers and chat integrations that poll Statuspage's history.atom work.
// Entry ids are urn:uuid values stored with each incident, so they survive
// a new public_url; the feed's <updated> is its newest entry's, and the
// answers carry an ETag and Last-Modified so readers can poll with a
// conditional GET and get 304 Not Modified.

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  atomAuthor  `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomAuthor struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
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

// feed is what both formats list.
type feed struct {
	id      string // urn:uuid
	updated time.Time
	entries []IncidentView
	snap    *Snapshot
}

func (s *Server) feed(r *http.Request) (feed, error) {
	snap, err := s.snapshot(r.Context(), "")
	if err != nil {
		return feed{}, err
	}
	f := feed{id: "urn:uuid:" + snap.feedID, snap: snap, entries: slices.Concat(snap.Open, snap.History)}
	for _, v := range f.entries {
		if t := v.LastChange(); t.After(f.updated) {
			f.updated = t
		}
	}
	if f.updated.IsZero() {
		// No incident in 90 days: the feed last changed when its last
		// entry aged out, which is not recorded; the start of the window
		// is a stable stand-in that a rebuild does not move forward.
		f.updated = snap.At.Truncate(24 * time.Hour).Add(-historyWindow)
	}
	f.updated = f.updated.UTC().Truncate(time.Second) // HTTP dates have seconds
	return f, nil
}

func (f feed) entryID(v IncidentView) string { return "urn:uuid:" + f.snap.entryIDs[v.ID] }

func (s *Server) serveAtom(w http.ResponseWriter, r *http.Request) {
	f, err := s.feed(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	base := s.opts.URL
	a := atomFeed{ID: f.id, Title: s.opts.Name + " - incident history", Updated: f.updated.Format(time.RFC3339),
		Author: atomAuthor{Name: s.opts.Name, URI: base + "/status"},
		Links:  []atomLink{{Rel: "alternate", Type: "text/html", Href: base + "/status"}, {Rel: "self", Type: "application/atom+xml", Href: base + "/status/feed.atom"}}}
	for _, v := range f.entries {
		link := fmt.Sprintf("%s/status#incident-%d", base, v.ID)
		a.Entries = append(a.Entries, atomEntry{ID: f.entryID(v), Title: v.Title,
			Published: v.StartedAt.UTC().Format(time.RFC3339), Updated: v.LastChange().UTC().Format(time.RFC3339),
			Link: atomLink{Rel: "alternate", Type: "text/html", Href: link}, Content: atomContent{Type: "html", Body: entryHTML(v)}})
	}
	s.writeFeed(w, r, "application/atom+xml; charset=utf-8", f.updated, a)
}

type rssFeed struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	Atom    string     `xml:"xmlns:atom,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title         string    `xml:"title"`
	Link          string    `xml:"link"`
	Description   string    `xml:"description"`
	LastBuildDate string    `xml:"lastBuildDate"`
	Self          rssSelf   `xml:"atom:link"`
	Items         []rssItem `xml:"item"`
}

// rssSelf is the atom:link rel="self" RSS validators ask for.
type rssSelf struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr"`
}

type rssItem struct {
	Title       string  `xml:"title"`
	Link        string  `xml:"link"`
	GUID        rssGUID `xml:"guid"`
	PubDate     string  `xml:"pubDate"`
	Description string  `xml:"description"`
}

type rssGUID struct {
	IsPermaLink bool   `xml:"isPermaLink,attr"`
	Value       string `xml:",chardata"`
}

func (s *Server) serveRSS(w http.ResponseWriter, r *http.Request) {
	f, err := s.feed(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	base := s.opts.URL
	rf := rssFeed{Version: "2.0", Atom: "http://www.w3.org/2005/Atom", Channel: rssChannel{Title: s.opts.Name + " - incident history",
		Link: base + "/status", Description: "Incidents and their updates", LastBuildDate: f.updated.Format(time.RFC1123Z),
		Self: rssSelf{Href: base + "/status/feed.rss", Rel: "self", Type: "application/rss+xml"}}}
	for _, v := range f.entries {
		link := fmt.Sprintf("%s/status#incident-%d", base, v.ID)
		rf.Channel.Items = append(rf.Channel.Items, rssItem{Title: v.Title, Link: link, GUID: rssGUID{Value: f.entryID(v)},
			PubDate: v.StartedAt.UTC().Format(time.RFC1123Z), Description: entryHTML(v)})
	}
	s.writeFeed(w, r, "application/rss+xml; charset=utf-8", f.updated, rf)
}

// writeFeed answers a feed with validators: an ETag of the body and
// Last-Modified of the newest entry. http.ServeContent answers a matching
// If-None-Match or If-Modified-Since with 304 and no body.
func (s *Server) writeFeed(w http.ResponseWriter, r *http.Request, contentType string, modified time.Time, v any) {
	body, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body = append([]byte(xml.Header), body...)
	sum := sha256.Sum256(body)
	h := w.Header()
	middleware.SetSecurityHeaders(h)
	s.cacheHeaders(h)
	h.Set("Content-Type", contentType)
	h.Set("ETag", `"`+base64.RawURLEncoding.EncodeToString(sum[:12])+`"`)
	http.ServeContent(w, r, "", modified, bytes.NewReader(body))
}
