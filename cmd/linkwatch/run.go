package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"linkwatch/cmd/linkwatch/config"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

const usage = `linkwatch — a link hub that watches its own health

Usage:
  linkwatch serve [-config FILE] [-addr ADDR]   run the hub, prober, status page and alerts
  linkwatch check [-config FILE]                check every destination once; exit 1 if any is down
  linkwatch validate -config FILE               check a config file; print every error
  linkwatch test-alert -config FILE [-channel NAME]
                                                send a marked test alert through each alert channel;
                                                print each receiver's answer; exit 1 if any failed
  linkwatch version                             print the version

Without -config, serve uses an embedded demo config.
`

// exitError carries a process exit code; msg is printed unless empty.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// errUsage is returned for a bad command line; it exits 2 like flag does.
func errUsage(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

// run is the whole program behind main, with its inputs passed in so tests
// can run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errUsage("no command given")
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "check":
		return runCheck(ctx, rest, getenv, stdout, stderr)
	case "validate":
		return runValidate(ctx, rest, getenv, stdout, stderr)
	case "test-alert":
		return runTestAlert(ctx, rest, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "linkwatch", buildVersion())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return errUsage("unknown command %q", cmd)
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v
		}
	}
	return "(devel)"
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("linkwatch "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, turning flag's errors into a usage exit.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &exitError{code: 0}
		}
		return errUsage("%v", err)
	}
	if fs.NArg() > 0 {
		return errUsage("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func runValidate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", stderr)
	path := fs.String("config", "", "config file to check (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return errUsage("validate: -config is required")
	}
	cfg, err := config.LoadFile(ctx, *path, getenv)
	if err != nil {
		return err
	}
	links := 0
	for _, p := range cfg.Pages {
		links += len(p.Links)
	}
	fmt.Fprintf(stdout, "%s: OK (%d %s, %d %s)\n", *path, len(cfg.Pages), plural(len(cfg.Pages), "page"), links, plural(links, "link"))
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
