package hub

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

var apiNow = time.Date(2026, 11, 22, 13, 30, 0, 0, time.UTC)

type fakeClicks struct {
	got     ClickQuery
	buckets []ClickBucket
	err     error
}

func (f *fakeClicks) ClickCounts(_ context.Context, q ClickQuery) ([]ClickBucket, error) {
	f.got = q
	return f.buckets, f.err
}

func newClicksAPI(store ClickReader) *ClicksAPI {
	a := NewClicksAPI(store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.now = func() time.Time { return apiNow }
	return a
}

func TestParseClickQueryRejects(t *testing.T) {
	tests := []struct{ query, field, msg string }{
		{"by=week", "by", `must be hour or day, not "week"`},
		{"by=hour&by=day", "by", "must be given once"},
		{"pgae=acme", "pgae", "unknown parameter"},
		{"page=Acme", "page", "lowercase"},
		{"link=shop", "link", "needs page"},
		{"page=acme&link=a/b", "link", "lowercase"},
		{"from=yesterday", "from", `"yesterday" is not an RFC 3339 time or a YYYY-MM-DD date`},
		{"to=2026-13-01", "to", "is not an RFC 3339 time"},
		{"from=2026-11-22&to=2026-11-21", "to", "must be after from"},
		{"from=2026-11-22T10:00:00Z&to=2026-11-22T10:00:00Z&by=hour", "to", "must be after from"},
		{"from=2026-01-01&by=hour", "from", "at most 31 days by hour"},
		{"from=2024-01-01", "from", "at most 366 days by day"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			_, err := ParseClickQuery(q, apiNow)
			var qe *QueryError
			if !errors.As(err, &qe) || qe.Field != tt.field || !strings.Contains(qe.Msg, tt.msg) {
				t.Errorf("err = %v, want %s: …%s…", err, tt.field, tt.msg)
			}
		})
	}
}

func TestParseClickQueryDefaultsAndRounding(t *testing.T) {
	q, err := ParseClickQuery(url.Values{}, apiNow)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	if !q.ByDay || !q.To.Equal(day.AddDate(0, 0, 1)) || !q.From.Equal(day.AddDate(0, 0, -7)) {
		t.Errorf("defaults = %+v, want by day over the 7 days to the end of today", q)
	}
	v, _ := url.ParseQuery("by=hour&page=acme&link=shop&from=2026-11-22T10:15:00%2B01:00&to=2026-11-22T12:00:00Z")
	q, err = ParseClickQuery(v, apiNow)
	if err != nil {
		t.Fatal(err)
	}
	if q.ByDay || q.Page != "acme" || q.Link != "shop" || !q.From.Equal(day.Add(9*time.Hour)) || !q.To.Equal(day.Add(12*time.Hour)) {
		t.Errorf("query = %+v", q)
	}
}

func FuzzParseClickQuery(f *testing.F) {
	for _, s := range []string{"", "by=hour", "page=acme&link=shop", "from=2026-11-01&to=2026-11-02", "from=2026-11-22T10:00:00Z&by=hour", "by=%00", "to=9999-12-31"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseClickQuery(v, apiNow)
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) || qe.Field == "" {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		if !q.To.After(q.From) || (q.Link != "" && q.Page == "") {
			t.Fatalf("accepted a bad query %+v from %q", q, raw)
		}
	})
}

func TestClicksAPI(t *testing.T) {
	h := func(n int) time.Time { return time.Date(2026, 11, 22, n, 0, 0, 0, time.UTC) }
	store := &fakeClicks{buckets: []ClickBucket{
		{Link: LinkKey{"acme", "blog"}, Start: h(9), ClickCount: ClickCount{Clicks: 2}},
		{Link: LinkKey{"acme", "shop"}, Start: h(9), ClickCount: ClickCount{Clicks: 3, Fallback: 1}},
		{Link: LinkKey{"acme", "shop"}, Start: h(10), ClickCount: ClickCount{Clicks: 4, Fallback: 4}},
	}}
	api := newClicksAPI(store)
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("GET", "/api/admin/clicks?by=hour&page=acme&from=2026-11-22T09:00:00Z", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	var rep ClicksReport
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.By != "hour" || rep.Total != (ClickCount{9, 5}) || len(rep.Links) != 2 || rep.Links[1].Link != "shop" ||
		rep.Links[1].ClickCount != (ClickCount{7, 5}) || len(rep.Links[1].Buckets) != 2 || !rep.Links[1].Buckets[1].Start.Equal(h(10)) {
		t.Errorf("report = %+v", rep)
	}
	if store.got.Page != "acme" || !store.got.From.Equal(h(9)) || !store.got.To.Equal(h(14)) {
		t.Errorf("store asked %+v", store.got)
	}

	rec = httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/admin/clicks?by=hour", nil)
	req.Header.Set("Accept", "text/csv")
	api.ServeHTTP(rec, req)
	want := "page,link,start,clicks,fallback\nacme,blog,2026-11-22T09:00:00Z,2,0\nacme,shop,2026-11-22T09:00:00Z,3,1\nacme,shop,2026-11-22T10:00:00Z,4,4\n"
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" || rec.Body.String() != want {
		t.Errorf("CSV: %d %s\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}

	rec = httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("GET", "/api/admin/clicks?by=week", nil))
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"field":"by"`) {
		t.Errorf("bad by: %d %s", rec.Code, rec.Body)
	}

	store.err = errors.New("disk I/O error at /var/lib/secret.db")
	rec = httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("GET", "/api/admin/clicks", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("store failure: %d %s", rec.Code, rec.Body)
	}
}
