package main

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Every command stops when its context ends (SIGTERM): validate and check
// do not go on reading a config.
func TestCommandsStopOnCancel(t *testing.T) {
	path := "config/testdata/aliasbomb.yaml"
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, cmd := range []string{"validate", "check", "serve"} {
		var out, errOut strings.Builder
		err := run(ctx, []string{"linkwatch", cmd, "-config", path}, func(string) string { return "" }, &out, &errOut)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s after cancel: err = %v, want context.Canceled", cmd, err)
		}
	}
}
