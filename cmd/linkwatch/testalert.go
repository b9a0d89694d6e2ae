package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"linkwatch/alerting"
	"linkwatch/cmd/linkwatch/config"
)

// runTestAlert sends a marked test alert through each configured channel
// (or the one -channel names) and prints what each receiver answered;
// exit 1 if any failed. The sending is alerting.SendTest's, as the
// console's "send test" does it.
func runTestAlert(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("test-alert", stderr)
	path := fs.String("config", "", "config file whose alert channels to test (required)")
	only := fs.String("channel", "", "test only this channel: slack, slack:<name>, sentry or webhook:<name>")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return errUsage("test-alert: -config is required")
	}
	cfg, err := config.LoadFile(ctx, *path, getenv)
	if err != nil {
		return err
	}
	sentry, err := newSentry(cfg)
	if err != nil {
		return err
	}
	sinks, err := newSinks(cfg, noThreads{}, sentry)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(sinks))
	for _, s := range sinks {
		names = append(names, s.Name())
	}
	switch {
	case len(sinks) == 0:
		return &exitError{code: 1, msg: *path + ": no alert channel is configured (alerts.slack, alerts.sentry, alerts.webhooks)"}
	case *only != "" && !slices.Contains(names, *only):
		return errUsage("test-alert: -channel %q is not configured (configured: %s)", *only, strings.Join(names, ", "))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	failed := 0
	for _, s := range sinks {
		if *only != "" && s.Name() != *only {
			continue
		}
		ans := alerting.SendTest(ctx, s, time.Now())
		verdict := "OK"
		if !ans.OK() {
			verdict, failed = "FAILED", failed+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", ans.Channel, verdict, ans)
	}
	if cfg.Alerts.DataDog != nil && *only == "" {
		fmt.Fprintf(tw, "datadog\tSKIPPED\tDogStatsD is UDP: the agent answers nothing to test\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("test-alert: %d %s failed", failed, plural(failed, "channel"))}
	}
	return nil
}

// noThreads is the thread store of a test: a test alert is a message of
// its own, so a Slack bot never asks it.
type noThreads struct{}

var errNoThreads = errors.New("test alerts start no thread")

func (noThreads) ThreadRef(context.Context, int64, string) (string, error)  { return "", errNoThreads }
func (noThreads) SetThreadRef(context.Context, int64, string, string) error { return errNoThreads }
