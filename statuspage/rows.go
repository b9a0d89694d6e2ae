package statuspage

import (
	"bytes"
	"html"
	"html/template"
	"strconv"
	"time"
)

// The status page's long lists are written here, value by value, each
// value escaped, rather than by the template: a page's links (1,000 on a
// big page), each component's 90 days, and a host's destinations.
// html/template reflects on every action it executes, and those lists are
// nearly all of a page's actions: written by the template, a page of
// 1,000 links took 60-150 ms to render; written here, a few.
//
// Every value written is either escaped with html.EscapeString, in text
// or in a double-quoted attribute, or a URL this package made (a chart's
// path); a fallback URL, which an operator configures, goes through the
// template, which checks its scheme.

// writeLinkRows writes the rows of a page's links (s.Links), as items of
// the links' list: name and state, destination and its uptime, response
// time, and the chart as a lazy image with its words. The rows' end tags
// are left out (HTML allows it, and the next row or the list's end closes
// them): 1,000 of them on a big page.
func writeLinkRows(b *bytes.Buffer, links []LinkView) error {
	for i := range links {
		l := &links[i]
		b.WriteString(`<li class="component" id="link-`)
		b.WriteString(html.EscapeString(l.Slug))
		b.WriteString(`"><h3>`)
		b.WriteString(html.EscapeString(l.Title))
		b.WriteString(` <span class="state state-`)
		b.WriteString(html.EscapeString(l.Tone))
		b.WriteString(`">`)
		b.WriteString(html.EscapeString(l.Label))
		b.WriteString(`</span></h3><p>`)
		b.WriteString(html.EscapeString(l.URL))
		b.WriteString(`<br>90 days: `)
		b.WriteString(formatUptime(l.Uptime))
		b.WriteString(` · 24 hours: `)
		if l.Responses > 0 {
			b.WriteString(`median `)
			b.WriteString(l.P50)
			b.WriteString(`, p95 `)
			b.WriteString(l.P95)
		} else {
			b.WriteString(`no data (no check got a response)`)
		}
		b.WriteString(`</p><img class="chart" src="`)
		b.WriteString(html.EscapeString(l.ChartURL))
		b.WriteString(`" loading="lazy" alt="`)
		b.WriteString(html.EscapeString(l.ChartText))
		b.WriteString(`">`)
		if l.Fallback != "" {
			if err := pageTemplate.ExecuteTemplate(b, "fallback", l.Fallback); err != nil {
				return err
			}
		}
		b.WriteString("\n")
	}
	return nil
}

// barsHTML is the items of c's 90-day history, a bar a day, oldest first.
// A run of days that read the same ("no data", "no downtime") says so
// once, in its last bar, for the whole run ("Tue 25 Aug – Fri 20 Nov
// 2026: no data"); the stylesheet shows it over whichever bar of the run
// is hovered. A day with downtime, or that linkwatch could not check,
// speaks for itself. The bars' end tags are left out (HTML allows it):
// 4,680 of them on a page of 50 hosts.
func barsHTML(c *Component) template.HTML {
	var b bytes.Buffer
	b.Grow(len(c.Days) * 16)
	start := 0
	for i, d := range c.Days {
		b.WriteString(`<li`)
		if cl := barClass[d.Level]; cl != "" {
			b.WriteString(` class="`)
			b.WriteString(cl)
			b.WriteString(`"`)
		}
		b.WriteString(`>`)
		if i+1 < len(c.Days) && sameRun(d, c.Days[i+1]) {
			continue
		}
		b.WriteString(`<span class="tip">`)
		b.WriteString(html.EscapeString(runWords(c.Days[start : i+1])))
		b.WriteString(`</span>`)
		start = i + 1
	}
	return template.HTML(b.String()) // every value escaped
}

// barClass is a day's bar's class by its level; a day without data has
// none.
var barClass = map[string]string{"operational": "up", "minor": "minor", "partial": "partial", "major": "major"}

// sameRun reports whether day b reads as day a does, figures aside, so
// that both are said at once: no data, or no downtime, and checked all
// day.
func sameRun(a, b Day) bool {
	plain := func(d Day) bool {
		return d.Unchecked < time.Minute && (d.Level == "nodata" || d.DownMinutes < 0.5)
	}
	return a.Level == b.Level && plain(a) && plain(b)
}

// runWords says a run of days (see sameRun): one day as its Tooltip, more
// as their first and last dates and what they have in common.
func runWords(days []Day) string {
	last := days[len(days)-1]
	if len(days) == 1 {
		return last.Tooltip()
	}
	first := days[0].Date.Format("Mon 2 Jan")
	if days[0].Date.Year() != last.Date.Year() {
		first += days[0].Date.Format(" 2006")
	}
	return first + " – " + last.Tooltip()
}

// destinationsHTML is the items of host c's destinations list: each
// destination's URL, state, the links that use it and its uptime.
func destinationsHTML(s *Snapshot, c *Component) template.HTML {
	var b bytes.Buffer
	for _, id := range c.Children {
		d, ok := s.ByID[id]
		if !ok {
			continue
		}
		b.WriteString(`<li id="component-`)
		b.WriteString(d.ID)
		b.WriteString(`" data-status="`)
		b.WriteString(d.Status)
		b.WriteString(`"><span class="name">`)
		b.WriteString(html.EscapeString(d.Name))
		b.WriteString(`</span> <span class="state state-`)
		b.WriteString(html.EscapeString(d.Tone))
		b.WriteString(`">`)
		b.WriteString(html.EscapeString(d.Label))
		b.WriteString(`</span> <span class="desc">`)
		b.WriteString(html.EscapeString(d.Description))
		b.WriteString(` · `)
		b.WriteString(formatUptime(d.Uptime))
		b.WriteString("</span></li>")
	}
	return template.HTML(b.String()) // every value escaped
}

// formatUptime says an uptime percentage: "99.95% uptime", "no data
// yet" (u < 0).
func formatUptime(u float64) string {
	if u < 0 {
		return "no data yet"
	}
	return strconv.FormatFloat(u, 'f', 2, 64) + "% uptime"
}
