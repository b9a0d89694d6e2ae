package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClockSkewMustBeADuration: LINKWATCH_TEST_CLOCK_SKEW is a Go
// duration; anything else stops serve with an error naming it, before
// anything is opened. (The replicas it skews are e2e's
// TestSkewedReplicasShareOnce.)
func TestClockSkewMustBeADuration(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"abc", "5", "-5 minutes", "1x"} {
		_, err := processClock(func(string) string { return bad })
		if err == nil || !strings.Contains(err.Error(), clockSkewEnv) || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s=%q: %v, want an error naming the variable and the value", clockSkewEnv, bad, err)
		}
	}
	now, err := processClock(func(string) string { return "-5m" })
	if err != nil {
		t.Fatal(err)
	}
	if off := time.Until(now()); off > -5*time.Minute+time.Second || off < -5*time.Minute-time.Second {
		t.Errorf("a clock skewed by -5m is %s off", off)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	mustWrite(t, cfgPath, strings.ReplaceAll(e2eConfig, "DBPATH", filepath.Join(dir, "linkwatch.db")))
	env := map[string]string{clockSkewEnv: "soon", "ADMIN_TOKEN": "clock-admin-token-0123456789abcdef"}
	err = run(context.Background(), []string{"linkwatch", "serve", "-config", cfgPath, "-addr", "127.0.0.1:0"},
		func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), clockSkewEnv) {
		t.Errorf("serve with %s=soon: %v, want an error naming it", clockSkewEnv, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "linkwatch.db")); err == nil {
		t.Error("serve opened its database before refusing the skew")
	}
}
