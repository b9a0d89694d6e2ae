// Command linkwatch runs a link hub that watches its own health.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	// The image is FROM scratch, without /usr/share/zoneinfo: a recurring
	// maintenance window's CRON_TZ=<zone> reads the zones built in.
	_ "time/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) || ee.msg != "" {
			fmt.Fprintln(os.Stderr, "linkwatch:", err)
		}
		os.Exit(exitCode(err))
	}
}
