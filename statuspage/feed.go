package statuspage

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"linkwatch"
)

// The feeds list the public incidents, newest first, each with its
// updates, then the maintenance windows (in progress, scheduled, and those
// completed in the last 90 days), so feed readers and chat integrations
// that poll Statuspage's history.atom work. Entry ids are urn:uuid values
// stored with each incident (a maintenance window's is derived from the
// feed's), so they survive a new public_url; the feed's <updated> is its
// newest entry's, and the answers carry an ETag and Last-Modified so
// readers can poll with a conditional GET and get 304 Not Modified.

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

// atomEntry is an entry. It names its author, the feed's, as well: an
// entry inherits the feed's, but not every reader knows it.
type atomEntry struct {
	ID        string      `xml:"id"`
	Title     string      `xml:"title"`
	Published string      `xml:"published"`
	Updated   string      `xml:"updated"`
	Author    atomAuthor  `xml:"author"`
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
	entries []feedEntry
}

// feedEntry is an incident or a maintenance window, as both formats list
// it.
type feedEntry struct {
	id                 string // urn:uuid
	title, link, html  string
	published, updated time.Time
}

func (s *Server) feed(r *http.Request) (feed, error) {
	snap, err := s.snapshot(r.Context(), "")
	if err != nil {
		return feed{}, err
	}
	f := feed{id: "urn:uuid:" + snap.feedID}
	for _, v := range slices.Concat(snap.Open, snap.History) {
		f.entries = append(f.entries, feedEntry{id: "urn:uuid:" + snap.entryIDs[v.ID], title: v.Title,
			link: fmt.Sprintf("%s/status#incident-%d", s.opts.URL, v.ID), html: entryHTML(v), published: v.StartedAt, updated: v.LastChange()})
	}
	for _, m := range slices.Concat(snap.Maintenance, snap.pastMaintenance) {
		f.entries = append(f.entries, maintenanceEntry(snap, m, s.opts.URL))
	}
	for _, e := range f.entries {
		if e.updated.After(f.updated) {
			f.updated = e.updated
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

// maintenanceEntry is a maintenance window's entry: what it puts under
// maintenance, and when. It changes (its updated) as the window starts and
// ends.
func maintenanceEntry(snap *Snapshot, m linkwatch.Maintenance, base string) feedEntry {
	what, span := snap.MaintenanceLabel(m), fmt.Sprintf("from %s to %s", stampUTC(m.StartsAt), stampUTC(m.EndsAt))
	e := feedEntry{id: "urn:uuid:" + nameUUID(snap.feedID, "maintenance/"+m.Ref()),
		link: base + "/status#maintenance-" + m.Ref(), published: m.CreatedAt, updated: m.CreatedAt}
	var status, body string
	switch {
	case !snap.At.Before(m.EndsAt):
		e.title, status, body = "Maintenance completed: "+m.Title, "Completed", what+" was under maintenance "+span+"."
		e.updated = m.EndsAt
	case !snap.At.Before(m.StartsAt):
		e.title, status, body = "Maintenance in progress: "+m.Title, "In progress", what+" is under maintenance "+span+"."
		e.updated = later(m.CreatedAt, m.StartsAt)
	default:
		e.title, status, body = "Scheduled maintenance: "+m.Title, "Scheduled", what+" will be under maintenance "+span+"."
	}
	e.html = fmt.Sprintf("<p><strong>%s</strong> - %s</p>", status, xmlEscape(body))
	return e
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func stampUTC(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") }

// nameUUID is the name-based UUID (RFC 9562, version 5: SHA-1) of name in
// the namespace of the UUID ns: the same for the same feed and name on
// every start and replica, and stored nowhere.
func nameUUID(ns, name string) string {
	space, _ := hex.DecodeString(strings.ReplaceAll(ns, "-", "")) // a stored UUID; a bad one still gives a stable id
	sum := sha1.Sum(append(space, name...))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	h := hex.EncodeToString(u)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Server) serveAtom(w http.ResponseWriter, r *http.Request) {
	f, err := s.feed(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	base := s.opts.URL
	author := atomAuthor{Name: s.opts.Name, URI: base + "/status"}
	a := atomFeed{ID: f.id, Title: s.opts.Name + " - incident history", Updated: f.updated.Format(time.RFC3339), Author: author,
		Links: []atomLink{{Rel: "alternate", Type: "text/html", Href: base + "/status"}, {Rel: "self", Type: "application/atom+xml", Href: base + "/status/feed.atom"}}}
	for _, e := range f.entries {
		a.Entries = append(a.Entries, atomEntry{ID: e.id, Title: e.title,
			Published: e.published.UTC().Format(time.RFC3339), Updated: e.updated.UTC().Format(time.RFC3339), Author: author,
			Link: atomLink{Rel: "alternate", Type: "text/html", Href: e.link}, Content: atomContent{Type: "html", Body: e.html}})
	}
	s.writeFeed(w, r, "application/atom+xml; charset=utf-8", f.updated, a)
}

type rssFeed struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	Atom    string     `xml:"xmlns:atom,attr"`
	DC      string     `xml:"xmlns:dc,attr"`
	Channel rssChannel `xml:"channel"`
}

// rssChannel is the channel. Its author, like its items', is Dublin
// Core's dc:creator (RSS's managingEditor must be an e-mail address).
type rssChannel struct {
	Title         string    `xml:"title"`
	Link          string    `xml:"link"`
	Description   string    `xml:"description"`
	LastBuildDate string    `xml:"lastBuildDate"`
	Creator       string    `xml:"dc:creator"`
	Self          rssSelf   `xml:"atom:link"`
	Items         []rssItem `xml:"item"`
}

// rssSelf is the atom:link rel="self" RSS validators ask for.
type rssSelf struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr"`
}

// rssItem is an item. Its author is Dublin Core's dc:creator: RSS's own
// <author> must be an e-mail address, which a status page has none of.
type rssItem struct {
	Title       string  `xml:"title"`
	Link        string  `xml:"link"`
	GUID        rssGUID `xml:"guid"`
	PubDate     string  `xml:"pubDate"`
	Creator     string  `xml:"dc:creator"`
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
	rf := rssFeed{Version: "2.0", Atom: "http://www.w3.org/2005/Atom", DC: "http://purl.org/dc/elements/1.1/", Channel: rssChannel{Title: s.opts.Name + " - incident history",
		Link: base + "/status", Description: "Incidents and their updates", LastBuildDate: f.updated.Format(time.RFC1123Z),
		Creator: s.opts.Name, Self: rssSelf{Href: base + "/status/feed.rss", Rel: "self", Type: "application/rss+xml"}}}
	for _, e := range f.entries {
		rf.Channel.Items = append(rf.Channel.Items, rssItem{Title: e.title, Link: e.link, GUID: rssGUID{Value: e.id},
			PubDate: e.published.UTC().Format(time.RFC1123Z), Creator: s.opts.Name, Description: e.html})
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
	s.cacheHeaders(h)
	h.Set("Content-Type", contentType)
	h.Set("ETag", `"`+base64.RawURLEncoding.EncodeToString(sum[:12])+`"`)
	http.ServeContent(w, r, "", modified, bytes.NewReader(body))
}
