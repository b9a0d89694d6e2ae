package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"linkwatch"
	"linkwatch/checker/schedule"
	"linkwatch/cmd/linkwatch/config"
	"linkwatch/hub"
)

// runCheck is `linkwatch check`: one round over every destination and
// fallback, a table of results (or with -json one JSON object a line), exit
// 1 if any is down. A URL not checked because its host asked for a
// back-off is skipped, not down.
// Usable in CI before deploying a config. On a terminal, stderr shows the
// round's progress.
func runCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", stderr)
	path := fs.String("config", "", "config file (default: the embedded demo config)")
	asJSON := fs.Bool("json", false, "print one JSON object per row (NDJSON) instead of the table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(ctx, *path, getenv)
	if err != nil {
		return err
	}
	catalog, err := hub.NewCatalog(cfg.CatalogSpec(), hub.NewCounter(nil))
	if err != nil {
		return fmt.Errorf("build catalog: %w", err)
	}
	targets := catalog.DestinationTargets()
	var prober schedule.Prober = newChecker(cfg, "", nil, nil)
	stop := func() {}
	if isTerminal(stderr) {
		p := &progress{prober: prober, total: len(targets)}
		prober, stop = p, p.show(stderr)
	}
	results := schedule.RunOnce(ctx, prober, targets, min(cfg.Probe.Workers, 64))
	stop()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	byURL := make(map[string]linkwatch.Result, len(results))
	var n checkCounts
	for _, r := range results {
		byURL[r.URL] = r
		n.add(r)
	}
	rows := checkRows(catalog, byURL)
	if *asJSON {
		err = printCheckJSON(stdout, rows)
	} else {
		err = printCheckTable(stdout, rows, n)
	}
	if err != nil {
		return err
	}
	if n.down > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d %s down", n.down, n.total, plural(n.total, "URL"))}
	}
	return nil
}

// checkCounts counts a round's results, one per URL checked.
type checkCounts struct {
	total, down, degraded, skipped int
}

func (n *checkCounts) add(r linkwatch.Result) {
	n.total++
	switch r.Status {
	case linkwatch.StatusDown:
		n.down++
	case linkwatch.StatusDegraded:
		n.degraded++
	case linkwatch.StatusSkipped:
		n.skipped++
	}
}

// The roles of a row's URL for its link.
const (
	roleDestination = "destination" // where the link sends visitors
	roleFallback    = "fallback"    // where it sends them while its destination is down
)

// checkRow is one row of `check`: a link's destination or fallback, and
// the result of that URL's check (one per URL, however many rows share it).
type checkRow struct {
	page, link, role, url string
	result                linkwatch.Result
}

// checkRows returns a row per link and one more per link with a fallback,
// in config order: every URL the round counted is named by a row.
func checkRows(catalog *hub.Catalog, byURL map[string]linkwatch.Result) []checkRow {
	var rows []checkRow
	for _, p := range catalog.Pages() {
		for _, l := range p.Links {
			rows = append(rows, checkRow{p.Slug, l.Slug, roleDestination, l.URL, byURL[l.URL]})
			if l.Fallback != "" {
				rows = append(rows, checkRow{p.Slug, l.Slug, roleFallback, l.Fallback, byURL[l.Fallback]})
			}
		}
	}
	return rows
}

// printCheckTable prints the rows and a line of totals.
func printCheckTable(stdout io.Writer, rows []checkRow, n checkCounts) error {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PAGE\tLINK\tROLE\tSTATUS\tCODE\tLATENCY\tCAUSE\tSUMMARY")
	for _, row := range rows {
		r := row.result
		code, latency := "-", "-"
		if r.StatusCode != 0 {
			code = fmt.Sprint(r.StatusCode)
		}
		if !r.Skipped() {
			latency = r.Latency.Round(time.Millisecond).String()
		}
		summary := r.Summary
		if summary == "" {
			summary = r.FinalURL
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.page, row.link, row.role, r.Status, code,
			latency, dash(string(r.Cause)), summary)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "\n%d %s: %d up, %d degraded, %d down, %d skipped\n",
		n.total, plural(n.total, "URL"), n.total-n.down-n.degraded-n.skipped, n.degraded, n.down, n.skipped)
	return err
}

// checkRecord is one line of `check -json`: a row of the table. Every
// field is on every line, null where there is nothing to say.
type checkRecord struct {
	Page      string     `json:"page"`
	Link      string     `json:"link"`
	Role      string     `json:"role"` // destination or fallback
	URL       string     `json:"url"`
	Status    string     `json:"status"`     // up, degraded, down or skipped (not checked)
	Code      *int       `json:"code"`       // of the last response; null without one
	LatencyMS *int64     `json:"latency_ms"` // start to end, across every hop; null when skipped
	Cause     string     `json:"cause"`      // "" when up; why it was not checked when skipped
	Summary   string     `json:"summary"`    // one line for humans
	FinalURL  *string    `json:"final_url"`  // where the redirects ended; null without a final response
	CheckedAt *time.Time `json:"checked_at"` // UTC; null when skipped
	// SkippedUntil is when the back-off that skipped the check ends; null
	// unless skipped.
	SkippedUntil *time.Time `json:"skipped_until"`
}

// printCheckJSON prints a JSON object per row, one a line (NDJSON).
func printCheckJSON(stdout io.Writer, rows []checkRow) error {
	enc := json.NewEncoder(stdout)
	for _, row := range rows {
		r := row.result
		rec := checkRecord{Page: row.page, Link: row.link, Role: row.role, URL: row.url, Status: string(r.Status),
			Cause: string(r.Cause), Summary: r.Summary}
		if r.StatusCode != 0 {
			rec.Code = &r.StatusCode
		}
		if r.FinalURL != "" {
			rec.FinalURL = &r.FinalURL
		}
		if r.Skipped() {
			until := r.SkippedUntil.UTC()
			rec.SkippedUntil = &until
		} else {
			ms, at := r.Latency.Milliseconds(), r.Start.UTC()
			rec.LatencyMS, rec.CheckedAt = &ms, &at
		}
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
