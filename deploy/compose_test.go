package deploy

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// composeFiles are compose.yaml and the configs it mounts, from the
// repository's root.
var composeFiles = []string{"compose.yaml", "deploy/compose/postgres.yaml", "deploy/compose/sqlite.yaml"}

// TestCompose loads compose.yaml as `docker compose` does (no Docker
// engine runs here: TestImage runs the image itself) and checks both of
// its one-command runs, with no variable set: a newcomer's first run.
func TestCompose(t *testing.T) {
	p, err := loadCompose(t.Context(), "..", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, problem := range composeProblems(p) {
		t.Error(problem)
	}
	if got, want := p.ServiceNames(), []string{"linkwatch", "postgres"}; !slices.Equal(got, want) {
		t.Errorf("docker compose up starts %v, want %v", got, want)
	}
}

// TestComposeSecretsFromEnv: the database's password comes from the
// shell (or .env), and reaches both PostgreSQL and linkwatch's DSN, in
// the URL's escaping.
func TestComposeSecretsFromEnv(t *testing.T) {
	const password = "s3cret-from-the-env"
	p, err := loadCompose(t.Context(), "..", map[string]string{"POSTGRES_PASSWORD": password})
	if err != nil {
		t.Fatal(err)
	}
	for _, problem := range composeProblems(p) {
		t.Error(problem)
	}
	if v := p.Services["postgres"].Environment["POSTGRES_PASSWORD"]; v == nil || *v != password {
		t.Errorf("postgres: POSTGRES_PASSWORD = %v, want the variable's value", v)
	}
	dsn := p.Services["linkwatch"].Environment["LINKWATCH_DSN"]
	if dsn == nil {
		t.Fatal("linkwatch: LINKWATCH_DSN is not set")
	}
	u, err := url.Parse(*dsn)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := u.User.Password(); got != password {
		t.Errorf("linkwatch: the DSN's password is not the variable's value")
	}
}

// TestComposeChecksCatch: each mistake below, made in a copy of
// compose.yaml and its configs, is caught by the load (the Compose
// Specification's schema) or by the checks, named by what is wrong.
func TestComposeChecksCatch(t *testing.T) {
	for _, tc := range []mistake{
		{"typo in a field", "compose.yaml", "stop_grace_period: 30s", "stop_grace_perod: 30s", "services.postgres.stop_grace_perod"},
		{"healthcheck on the wrong path", "compose.yaml", "8080/readyz", "8080/ready", "healthcheck GET /ready, want /readyz"},
		{"healthcheck on another port", "compose.yaml", "127.0.0.1:8080/readyz", "127.0.0.1:9090/readyz", "healthcheck port 9090 is not the port linkwatch listens on (8080)"},
		{"healthcheck needs a shell", "compose.yaml", `test: ["CMD", "/healthcheck", "http://127.0.0.1:8080/readyz"]`, `test: curl -fs http://127.0.0.1:8080/readyz`, "(the image has no shell)"},
		{"config on another port", "deploy/compose/sqlite.yaml", `addr: ":8080"`, `addr: ":9090"`, "docker compose up linkwatch-sqlite: service linkwatch-sqlite publishes no port to 9090"},
		{"config not mounted", "compose.yaml", "source: sqlite\n        target: /etc/linkwatch/linkwatch.yaml", "source: sqlite\n        target: /etc/linkwatch/sqlite.yaml", "-config /etc/linkwatch/linkwatch.yaml, where no config of compose.yaml is mounted"},
		{"config file missing", "compose.yaml", "file: deploy/compose/sqlite.yaml", "file: deploy/compose/sqlite.yml", "config sqlite: open"},
		{"wrong config for the run", "compose.yaml", "source: postgres\n        target:", "source: sqlite\n        target:", "docker compose up: service linkwatch runs storage.driver sqlite, want postgres"},
		{"sqlite in the default run", "compose.yaml", "    profiles: [sqlite]\n", "", "docker compose up: starts 2 services built from this checkout [linkwatch linkwatch-sqlite]"},
		{"database off the volume", "compose.yaml", "linkwatch-data:/data", "linkwatch-data:/var/lib/linkwatch", "storage.path /data/linkwatch.db: service linkwatch-sqlite mounts no volume at /data"},
		{"database volume read-only", "compose.yaml", "linkwatch-data:/data", "linkwatch-data:/data:ro", "the volume linkwatch-data is mounted read-only"},
		{"database in a bind mount", "compose.yaml", "linkwatch-data:/data", "./data:/data", "/data is a bind mount"},
		{"sqlite scaled", "compose.yaml", `"8080:8080"`, `"8080-8089:8080"`, "`--scale` could start a second SQLite writer"},
		{"writable root", "compose.yaml", "read_only: true", "read_only: false", "want read_only: true"},
		{"capabilities kept", "compose.yaml", "cap_drop: [ALL]", "cap_drop: [NET_RAW]", "want cap_drop: [ALL]"},
		{"killed mid-drain", "compose.yaml", "stop_grace_period: 40s", "stop_grace_period: 10s", "stop_grace_period 10s is below server.drain_delay 5s + linkwatch's shutdown 30s"},
		{"pulled, not built", "compose.yaml", "pull_policy: build", "pull_policy: missing", `pull_policy "missing", want build`},
		{"another Dockerfile", "compose.yaml", "dockerfile: deploy/Dockerfile", "dockerfile: Dockerfile", "builds Dockerfile in"},
		{"DSN not set", "compose.yaml", "    environment:\n      LINKWATCH_DSN:", "    environment:\n      LINKWATCH_DSM:", "the config reads ${LINKWATCH_DSN}, which its environment does not set"},
		{"database host misspelt", "compose.yaml", "@postgres:5432/", "@postgre:5432/", "storage.dsn names the host postgre, which is no service of this run"},
		{"passwords differ", "compose.yaml", "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-linkwatch}", "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-postgres}", "the user or password is not service postgres's"},
		{"another database", "compose.yaml", "POSTGRES_DB: linkwatch", "POSTGRES_DB: links", `database "linkwatch", where service postgres creates "links"`},
		{"not waiting for the database", "compose.yaml", "condition: service_healthy", "condition: service_started", "want depends_on postgres with condition service_healthy"},
		{"database without a healthcheck", "compose.yaml", `test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "linkwatch", "-d", "linkwatch"]`, `disable: true`, "service postgres: want a healthcheck"},
		{"database major not pinned", "compose.yaml", "image: postgres:17", "image: postgres:latest", `image "postgres:latest", want postgres:<major>`},
		{"database upgraded off its volume", "compose.yaml", "image: postgres:17", "image: postgres:18", "no named volume at /var/lib/postgresql, where postgres:18 keeps its data"},
		{"database off its volume", "compose.yaml", "postgres-data:/var/lib/postgresql/data", "postgres-data:/var/lib/postgres", "no named volume at /var/lib/postgresql/data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range composeFiles {
				data, err := os.ReadFile(filepath.Join("..", f))
				if err != nil {
					t.Fatal(err)
				}
				if f == tc.file {
					if n := strings.Count(string(data), tc.old); n != 1 {
						t.Fatalf("%s holds %q %d times; the mistake must be made exactly once", tc.file, tc.old, n)
					}
					data = []byte(strings.Replace(string(data), tc.old, tc.new, 1))
				}
				if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			if p, err := loadCompose(t.Context(), dir, nil); err != nil {
				got = append(got, err.Error())
			} else {
				got = composeProblems(p)
			}
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("want a problem containing %q, got %q", tc.want, got)
			}
		})
	}
}
