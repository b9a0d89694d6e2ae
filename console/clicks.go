package console

import (
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"linkwatch/hub"
	"linkwatch/statuspage"
)

// clicksView is the clicks page: each link's clicks today, over 7 and 30
// days (and how many of the 30 days' went to a fallback), and the chart
// of one link's clicks, or all of them, over the range chosen.
type clicksView struct {
	Rows   []clickRow
	Total  clickRow
	Chart  template.HTML
	Range  string   // the chart's: 24h, 7d, 30d
	Ranges []string // the choices
	Link   string   // the chart's link (page/link); empty: every link
}

// clickRow is one link's clicks.
type clickRow struct {
	Link                          hub.LinkKey
	Today, Week, Month, Fallbacks int64
}

// clickRanges are the chart's ranges, as the status page's charts have.
var clickRanges = []string{"24h", "7d", "30d"}

// The table's spans: the last 7 and 30 days, from the hour they start in.
const (
	clickWeek  = 7 * 24 * time.Hour
	clickMonth = 30 * 24 * time.Hour
)

func (c *Console) clicksPage(w http.ResponseWriter, r *http.Request, s session) {
	if c.opts.Clicks == nil {
		c.render(w, r, s, http.StatusNotFound, "message.html", "Clicks", "This process counts no clicks.")
		return
	}
	q := r.URL.Query()
	v := clicksView{Range: cmp.Or(q.Get("range"), "7d"), Ranges: clickRanges, Link: q.Get("link")}
	var msg string
	if !slices.Contains(clickRanges, v.Range) {
		msg, v.Range = fmt.Sprintf("The range must be %s.", strings.Join(clickRanges, ", ")), "7d"
	}
	var key hub.LinkKey
	if v.Link != "" {
		page, link, ok := strings.Cut(v.Link, "/")
		if !ok || hub.ValidateSlug(page) != nil || hub.ValidateSlug(link) != nil {
			msg, v.Link = "The link must be page/link, as the table names it.", ""
		}
		key = hub.LinkKey{Page: page, Link: link}
	}
	now := c.opts.Now().UTC()
	chartFrom, err := statuspage.ChartFrom(v.Range, now)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	// One read, by hour, of what the table and the chart need: the chart
	// of 30 days starts at a 6-hour boundary, before the table's 30 days.
	monthFrom := now.Add(-clickMonth).Truncate(time.Hour)
	from := monthFrom
	if chartFrom.Before(from) {
		from = chartFrom
	}
	buckets, err := c.opts.Clicks.ClickCounts(r.Context(), hub.ClickQuery{From: from, To: now.Truncate(time.Hour).Add(time.Hour)})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	today, weekFrom := now.Truncate(24*time.Hour), now.Add(-clickWeek).Truncate(time.Hour)
	var points []statuspage.CountPoint
	for _, b := range buckets {
		if n := len(v.Rows); n == 0 || v.Rows[n-1].Link != b.Link {
			v.Rows = append(v.Rows, clickRow{Link: b.Link})
		}
		row := &v.Rows[len(v.Rows)-1]
		if !b.Start.Before(monthFrom) {
			row.Month += b.Clicks
			row.Fallbacks += b.Fallback
		}
		if !b.Start.Before(weekFrom) {
			row.Week += b.Clicks
		}
		if !b.Start.Before(today) {
			row.Today += b.Clicks
		}
		if v.Link == "" || b.Link == key {
			points = append(points, statuspage.CountPoint{Start: b.Start, N: b.Clicks})
		}
	}
	v.Rows = slices.DeleteFunc(v.Rows, func(r clickRow) bool { return r.Month == 0 && r.Fallbacks == 0 })
	slices.SortStableFunc(v.Rows, func(a, b clickRow) int { return cmp.Compare(b.Month, a.Month) })
	for _, row := range v.Rows {
		v.Total.Today += row.Today
		v.Total.Week += row.Week
		v.Total.Month += row.Month
		v.Total.Fallbacks += row.Fallbacks
	}
	subject := "every link"
	if v.Link != "" {
		subject = v.Link
	}
	if v.Chart, err = statuspage.CountChart("clicks-chart", "clicks", subject, v.Range, now, points); err != nil {
		c.fail(w, r, s, err)
		return
	}
	if msg != "" {
		c.renderError(w, r, s, http.StatusBadRequest, "clicks.html", "Clicks", v, msg)
		return
	}
	c.render(w, r, s, http.StatusOK, "clicks.html", "Clicks", v)
}
