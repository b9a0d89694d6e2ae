package config

import (
	"errors"
	"maps"
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Kubernetes manifests in deploy/ run every replica on
// deploy/linkwatch.yaml, with each ${NAME} set from the key NAME of
// deploy/secret.yaml (deploy's own test checks that wiring).
const (
	deployConfig = "../../../deploy/linkwatch.yaml"
	deploySecret = "../../../deploy/secret.yaml"
)

// secretPlaceholders reads the values deploy/secret.yaml ships with.
func secretPlaceholders(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(deploySecret)
	if err != nil {
		t.Fatal(err)
	}
	var secret struct {
		StringData map[string]string `yaml:"stringData"`
	}
	if err := yaml.Unmarshal(data, &secret); err != nil {
		t.Fatal(err)
	}
	if len(secret.StringData) == 0 {
		t.Fatalf("%s has no stringData", deploySecret)
	}
	return secret.StringData
}

// TestDeployConfigIsValid: the config the manifests ship is one linkwatch
// runs once the Secret is filled in: PostgreSQL from the DSN in the
// Secret, the tokens from the Secret too.
func TestDeployConfigIsValid(t *testing.T) {
	filled := map[string]string{
		"LINKWATCH_DSN":         "postgres://linkwatch:s3cret-pw@postgres.db.svc:5432/linkwatch?sslmode=verify-full",
		"LINKWATCH_ADMIN_TOKEN": "0123456789abcdef0123456789abcdef",
		"SLACK_WEBHOOK_URL":     "https://hooks.slack.com/services/T/B/X",
		"SENTRY_DSN":            "https://key@o0.ingest.sentry.io/42",
		"OPS_WEBHOOK_SECRET":    "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}
	if got, want := slices.Sorted(maps.Keys(secretPlaceholders(t))), slices.Sorted(maps.Keys(filled)); !slices.Equal(got, want) {
		t.Fatalf("%s has the keys %v; this test fills in %v", deploySecret, got, want)
	}
	cfg, err := LoadFile(t.Context(), deployConfig, func(k string) string { return filled[k] })
	if err != nil {
		t.Fatalf("deploy/linkwatch.yaml is not a valid config:\n%v", err)
	}
	if cfg.Storage.Driver != DriverPostgres || cfg.Storage.DSN != filled["LINKWATCH_DSN"] {
		t.Errorf("storage = %s %q, want postgres with the Secret's DSN", cfg.Storage.Driver, cfg.Storage.DSN)
	}
	if cfg.Server.AdminToken != filled["LINKWATCH_ADMIN_TOKEN"] {
		t.Errorf("admin_token %q, want the Secret's", cfg.Server.AdminToken)
	}
}

// TestDeployConfigRefusesPlaceholders: applied without editing the
// Secret, linkwatch refuses to start and names each field still holding a
// placeholder: no replica ever runs with a token shipped in a repository.
func TestDeployConfigRefusesPlaceholders(t *testing.T) {
	placeholders := secretPlaceholders(t)
	_, err := LoadFile(t.Context(), deployConfig, func(k string) string { return placeholders[k] })
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("deploy/linkwatch.yaml with the Secret's placeholders: err = %v, want config errors", err)
	}
	var paths []string
	for _, fe := range cerr.Errs {
		paths = append(paths, fe.Path)
	}
	want := []string{"alerts.sentry.dsn", "alerts.slack.webhook_url", "alerts.webhooks[0].secret", "server.admin_token", "storage.dsn"}
	if slices.Sort(paths); !slices.Equal(paths, want) {
		t.Errorf("errors at %v, want one at each of %v:\n%v", paths, want, err)
	}
}
