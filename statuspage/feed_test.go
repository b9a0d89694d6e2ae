package statuspage_test

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/atom"

	"linkwatch/hub"
)

// urnUUID: a stored random UUID (version 4, incidents and the feed) or a
// name-based one (version 5, maintenance windows).
var urnUUID = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func parseFeed(t *testing.T, url string) (*http.Response, *gofeed.Feed) {
	t.Helper()
	resp, body := get(t, url)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d", url, resp.StatusCode)
	}
	f, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s does not parse: %v", url, err)
	}
	return resp, f
}

// atomID is the feed-level <id>, which only gofeed's Atom parser keeps.
func atomID(t *testing.T, url string) string {
	t.Helper()
	_, body := get(t, url)
	f, err := (&atom.Parser{}).Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s does not parse as Atom: %v", url, err)
	}
	return f.ID
}

func TestFeedsParseWithAuthorsLastingIDsAndUpdated(t *testing.T) {
	t.Parallel()
	srv, src := seeded(t)
	// The newest public change: the maintenance window, made after the
	// open incident's posted update.
	ups, err := src.IncidentUpdates(t.Context(), 1)
	if err != nil || len(ups) != 1 {
		t.Fatalf("updates of incident 1: %v %v", ups, err)
	}
	windows, err := src.ListMaintenance(t.Context(), time.Time{})
	if err != nil || len(windows) != 1 || windows[0].CreatedAt.Before(ups[0].CreatedAt) {
		t.Fatalf("maintenance windows %v (%v): want one, made after the update", windows, err)
	}
	newest := windows[0].CreatedAt.UTC().Truncate(time.Second)

	// Two incidents and the maintenance window.
	resp, atom := parseFeed(t, srv.URL+"/status/feed.atom")
	if atom.FeedType != "atom" || len(atom.Items) != 3 {
		t.Fatalf("atom: type %s, %d items", atom.FeedType, len(atom.Items))
	}
	if len(atom.Authors) == 0 || atom.Authors[0].Name != "Acme status" {
		t.Errorf("atom authors = %v", atom.Authors)
	}
	feedID := atomID(t, srv.URL+"/status/feed.atom")
	if !urnUUID.MatchString(feedID) {
		t.Errorf("atom id %q is not a urn:uuid", feedID)
	}
	if atom.UpdatedParsed == nil || !atom.UpdatedParsed.Equal(newest) {
		t.Errorf("atom updated = %v, want the newest entry's %v", atom.UpdatedParsed, newest)
	}
	if atom.FeedLink != "https://links.example/status/feed.atom" {
		t.Errorf("atom self link = %q", atom.FeedLink)
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err != nil || !lm.Equal(newest) {
		t.Errorf("Last-Modified %q (%v), want %v", resp.Header.Get("Last-Modified"), err, newest)
	}
	var ids []string
	for _, it := range atom.Items {
		if !urnUUID.MatchString(it.GUID) {
			t.Errorf("entry id %q is not a urn:uuid", it.GUID)
		}
		ids = append(ids, it.GUID)
	}

	_, rss := parseFeed(t, srv.URL+"/status/feed.rss")
	if rss.FeedType != "rss" || len(rss.Items) != 3 {
		t.Fatalf("rss: type %s, %d items", rss.FeedType, len(rss.Items))
	}
	// The channel has an author, and every item too, as the Atom feed and
	// each of its entries have.
	if len(rss.Authors) != 1 || rss.Authors[0].Name != "Acme status" {
		t.Errorf("rss authors = %v, want Acme status", rss.Authors)
	}
	for i, it := range rss.Items {
		if len(it.Authors) != 1 || it.Authors[0].Name != "Acme status" {
			t.Errorf("rss item %d (%s) authors = %v, want Acme status", i, it.Title, it.Authors)
		}
	}
	if rss.UpdatedParsed == nil || !rss.UpdatedParsed.Equal(newest) {
		t.Errorf("rss lastBuildDate = %v, want %v", rss.UpdatedParsed, newest)
	}
	if rss.FeedLink != "https://links.example/status/feed.rss" {
		t.Errorf("rss self link = %q", rss.FeedLink)
	}
	for i, it := range rss.Items {
		if it.GUID != ids[i] {
			t.Errorf("rss item %d guid %q, atom id %q", i, it.GUID, ids[i])
		}
	}

	// Another public URL (and a fresh status page): the same ids, the
	// maintenance window's (derived, not stored) too.
	cat, err := hub.NewCatalog([]hub.PageSpec{{Slug: "acme", Links: []hub.LinkSpec{{Slug: "shop", URL: shopURL}, {Slug: "blog", URL: blogURL}}}}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	moved := statusServer(t, src, cat, "https://status.other.example")
	_, atom2 := parseFeed(t, moved.URL+"/history.atom")
	if id2 := atomID(t, moved.URL+"/history.atom"); id2 != feedID || len(atom2.Items) != 3 || atom2.Items[0].GUID != ids[0] || atom2.Items[1].GUID != ids[1] || atom2.Items[2].GUID != ids[2] {
		t.Errorf("ids changed with public_url: feed %q -> %q, entries %v -> %v", feedID, id2, ids, atom2.Items)
	}
	if !strings.HasPrefix(atom2.Items[0].Link, "https://status.other.example/status#incident-") {
		t.Errorf("entry link %q does not follow public_url", atom2.Items[0].Link)
	}
}

func TestFeedsAnswerConditionalGETs(t *testing.T) {
	t.Parallel()
	srv, _ := seeded(t)
	for _, path := range []string{"/status/feed.atom", "/status/feed.rss", "/history.atom"} {
		resp, body := get(t, srv.URL+path)
		etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if etag == "" || lm == "" || len(body) == 0 {
			t.Fatalf("%s: ETag %q, Last-Modified %q", path, etag, lm)
		}
		for _, h := range []http.Header{{"If-None-Match": {etag}}, {"If-Modified-Since": {lm}}} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			req.Header = h
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != http.StatusNotModified {
				t.Errorf("%s with %v: %d, want 304", path, h, r.StatusCode)
			}
		}
		// A stale validator gets the feed.
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("If-None-Match", `"stale"`)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Errorf("%s with a stale ETag: %d, want 200", path, r.StatusCode)
		}
	}
}
