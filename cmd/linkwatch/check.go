package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"linkwatch/checker"
	"linkwatch/checker/schedule"
	"linkwatch/cmd/linkwatch/config"
	"linkwatch/hub"
)

// runCheck is `linkwatch check`: one round over every destination, a table
// of results (or with -json one JSON object a line), exit 1 if any is down.
// Usable in CI before deploying a config. On a terminal, stderr shows the
// round's progress.
func runCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", stderr)
	path := fs.String("config", "", "config file (default: the embedded demo config)")
	asJSON := fs.Bool("json", false, "print one JSON object per link and result (NDJSON) instead of the table")
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
	targets := destinationTargets(cfg, catalog)
	var prober schedule.Prober = newChecker(cfg, "", nil)
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
	byURL := make(map[string]checker.Result, len(results))
	down, degraded := 0, 0
	for _, r := range results {
		byURL[r.URL] = r
		switch r.Status {
		case checker.StatusDown:
			down++
		case checker.StatusDegraded:
			degraded++
		}
	}
	if *asJSON {
		err = printCheckJSON(stdout, catalog, byURL)
	} else {
		err = printCheckTable(stdout, catalog, byURL, len(results), down, degraded)
	}
	if err != nil {
		return err
	}
	if down > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d destinations down", down, len(results))}
	}
	return nil
}

// printCheckTable prints a row per link and a line of totals.
func printCheckTable(stdout io.Writer, catalog *hub.Catalog, byURL map[string]checker.Result, total, down, degraded int) error {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PAGE\tLINK\tSTATUS\tCODE\tLATENCY\tCAUSE\tSUMMARY")
	for _, p := range catalog.Pages() {
		for _, l := range p.Links {
			r := byURL[l.URL]
			code := "-"
			if r.StatusCode != 0 {
				code = fmt.Sprint(r.StatusCode)
			}
			summary := r.Summary
			if summary == "" {
				summary = r.FinalURL
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Slug, l.Slug, r.Status, code,
				r.Latency.Round(time.Millisecond), dash(string(r.Cause)), summary)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "\n%d destinations: %d up, %d degraded, %d down\n", total, total-down-degraded, degraded, down)
	return err
}

// checkRecord is one line of `check -json`: a link and its destination's
// result, in the words of the table.
type checkRecord struct {
	Page      string    `json:"page"`
	Link      string    `json:"link"`
	URL       string    `json:"url"`
	Status    string    `json:"status"`     // up, degraded or down
	Code      *int      `json:"code"`       // of the last response; null without one
	LatencyMS int64     `json:"latency_ms"` // start to end, across every hop
	Cause     string    `json:"cause"`      // "" when up
	Summary   string    `json:"summary"`    // one line for humans
	FinalURL  string    `json:"final_url,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

// printCheckJSON prints a JSON object per link, one a line (NDJSON).
func printCheckJSON(stdout io.Writer, catalog *hub.Catalog, byURL map[string]checker.Result) error {
	enc := json.NewEncoder(stdout)
	for _, p := range catalog.Pages() {
		for _, l := range p.Links {
			r := byURL[l.URL]
			rec := checkRecord{Page: p.Slug, Link: l.Slug, URL: l.URL, Status: string(r.Status), LatencyMS: r.Latency.Milliseconds(),
				Cause: string(r.Cause), Summary: r.Summary, FinalURL: r.FinalURL, CheckedAt: r.Start.UTC()}
			if r.StatusCode != 0 {
				rec.Code = &r.StatusCode
			}
			if err := enc.Encode(rec); err != nil {
				return err
			}
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
