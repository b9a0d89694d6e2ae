package main

import (
	"context"
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
// of results, exit 1 if any is down. Usable in CI before deploying a config.
func runCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", stderr)
	path := fs.String("config", "", "config file (default: the embedded demo config)")
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
	results := schedule.RunOnce(ctx, newChecker(cfg, ""), targets, min(cfg.Probe.Workers, 64))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	byURL := make(map[string]checker.Result, len(results))
	for _, r := range results {
		byURL[r.URL] = r
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PAGE\tLINK\tSTATUS\tCODE\tLATENCY\tCAUSE\tSUMMARY")
	down, degraded := 0, 0
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
	for _, r := range results {
		switch r.Status {
		case checker.StatusDown:
			down++
		case checker.StatusDegraded:
			degraded++
		}
	}
	fmt.Fprintf(stdout, "\n%d destinations: %d up, %d degraded, %d down\n", len(results), len(results)-down-degraded, degraded, down)
	if down > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d destinations down", down, len(results))}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
