// Command linkbench measures the prober against a local fleet of fake
// destinations: how many destinations it checks every interval on this
// machine, with what scheduler lag, CPU and memory. The fleet runs in a child
// process so its cost is not charged to the prober.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "linkbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 1 {
		switch args[1] {
		case "fleet":
			return runFleet(ctx, args[2:], stdout, stderr)
		case "system":
			return runSystem(ctx, args[2:], stdout, stderr)
		case "replicas":
			return runReplicas(ctx, args[2:], stdout, stderr)
		case "outage":
			return runOutage(ctx, args[2:], stdout, stderr)
		case "chaos":
			return runChaos(ctx, args[2:], stdout, stderr)
		case "hammer":
			return runHammer(ctx, args[2:], stdout, stderr)
		}
	}
	return runProbeBench(ctx, args[1:], stdout, stderr)
}
