package deploy

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeRun is one of compose.yaml's one-command runs.
type composeRun struct {
	command  string   // what the README says to type
	services []string // the services it names; none: the default profile's
	driver   string   // linkwatch's storage.driver in it
}

var composeRuns = []composeRun{
	{"docker compose up", nil, "postgres"},
	{"docker compose up linkwatch-sqlite", []string{"linkwatch-sqlite"}, "sqlite"},
}

// composeStopTimeout is how long Docker waits after SIGTERM before its
// SIGKILL when a service sets no stop_grace_period.
const composeStopTimeout = 10 * time.Second

// loadCompose reads dir/compose.yaml as `docker compose` does, with the
// Compose Specification's own loader, which validates the file against
// the specification's schema. env stands for the shell's variables: the
// load reads neither this process's environment nor a .env file.
func loadCompose(ctx context.Context, dir string, env map[string]string) (*types.Project, error) {
	var vars []string
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "compose.yaml")},
		cli.WithWorkingDirectory(dir), cli.WithEnv(vars))
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(ctx)
}

// selected is p as run starts it: a service named on the command line
// starts whatever its profiles, with the services it depends on, and
// nothing else.
func (run composeRun) selected(p *types.Project) (*types.Project, error) {
	if len(run.services) == 0 {
		return p, nil
	}
	p, err := p.WithServicesEnabled(run.services...)
	if err != nil {
		return nil, err
	}
	return p.WithSelectedServices(run.services)
}

// composeProblems lists what would make a run of compose.yaml fail or
// run linkwatch poorly. `docker compose config` would accept nearly all
// of them.
func composeProblems(p *types.Project) []string {
	var found []string
	for _, run := range composeRuns {
		fail := func(format string, args ...any) {
			found = append(found, run.command+": "+fmt.Sprintf(format, args...))
		}
		rp, err := run.selected(p)
		if err != nil {
			fail("%v", err)
			continue
		}
		(&composeReview{p: rp, run: run, fail: fail}).review()
	}
	return found
}

// composeReview is one pass of the checks over one run.
type composeReview struct {
	p    *types.Project // the services the run starts
	run  composeRun
	s    types.ServiceConfig // linkwatch's
	cfg  *linkwatchConfig    // the config it runs (-config)
	fail func(format string, args ...any)
}

func (r *composeReview) review() {
	// linkwatch's services are those built from this checkout.
	var names []string
	for name, s := range r.p.Services {
		if s.Build != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if len(names) != 1 {
		r.fail("starts %d services built from this checkout %v, want linkwatch alone", len(names), names)
		return
	}
	r.s = r.p.Services[names[0]]
	r.build()
	if r.cfg = r.config(); r.cfg == nil {
		return
	}
	if r.cfg.driver != r.run.driver {
		r.fail("service %s runs storage.driver %s, want %s", r.s.Name, r.cfg.driver, r.run.driver)
		return
	}
	r.published()
	r.healthcheck()
	r.security()
	r.termination()
	r.env()
	switch r.cfg.driver {
	case "sqlite":
		r.sqlite()
	case "postgres":
		r.postgres()
	}
}

// build: the image is deploy/Dockerfile's, from this checkout, never an
// image of the same name pulled from a registry.
func (r *composeReview) build() {
	if b := r.s.Build; b.Context != r.p.WorkingDir || b.Dockerfile != "deploy/Dockerfile" {
		r.fail("service %s builds %s in %s, want deploy/Dockerfile in the repository's root", r.s.Name, b.Dockerfile, b.Context)
	}
	if r.s.PullPolicy != types.PullPolicyBuild {
		r.fail("service %s: pull_policy %q, want build: otherwise compose may pull an image named %q from a registry rather than build this checkout", r.s.Name, r.s.PullPolicy, r.s.Image)
	}
}

// config follows the -config flag to the config mounted there and reads
// it.
func (r *composeReview) config() *linkwatchConfig {
	args := slices.Concat([]string(r.s.Entrypoint), []string(r.s.Command))
	i := slices.Index(args, "-config")
	if i < 0 || i+1 >= len(args) {
		r.fail("service %s: command %q, want serve -config FILE", r.s.Name, args)
		return nil
	}
	file := args[i+1]
	j := slices.IndexFunc(r.s.Configs, func(c types.ServiceConfigObjConfig) bool { return c.Target == file })
	if j < 0 {
		r.fail("service %s: -config %s, where no config of compose.yaml is mounted", r.s.Name, file)
		return nil
	}
	source := r.s.Configs[j].Source
	data, err := os.ReadFile(r.p.Configs[source].File)
	if err != nil {
		r.fail("config %s: %v", source, err)
		return nil
	}
	cfg, err := parseConfig(data)
	if err != nil {
		r.fail("config %s (%s): %v", source, r.p.RelativePath(r.p.Configs[source].File), err)
		return nil
	}
	return cfg
}

func (r *composeReview) published() {
	if !slices.ContainsFunc(r.s.Ports, func(p types.ServicePortConfig) bool { return p.Target == uint32(r.cfg.port) && p.Published != "" }) {
		r.fail("service %s publishes no port to %d, where linkwatch listens (server.addr)", r.s.Name, r.cfg.port)
	}
}

// healthcheck: the image has no shell, curl or wget, so the test is the
// image's /healthcheck, asking linkwatch itself.
func (r *composeReview) healthcheck() {
	hc := r.s.HealthCheck
	if hc == nil || hc.Disable || len(hc.Test) != 3 || hc.Test[0] != "CMD" || hc.Test[1] != "/healthcheck" {
		var test []string
		if hc != nil {
			test = hc.Test
		}
		r.fail("service %s: healthcheck %q, want [CMD /healthcheck http://127.0.0.1:%d/readyz] (the image has no shell)", r.s.Name, test, r.cfg.port)
		return
	}
	u, err := url.Parse(hc.Test[2])
	switch {
	case err != nil || u.Scheme != "http" || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost"):
		r.fail("service %s: healthcheck GETs %q, want linkwatch in its own container (http://127.0.0.1:%d/readyz)", r.s.Name, hc.Test[2], r.cfg.port)
	case u.Port() != strconv.Itoa(int(r.cfg.port)):
		r.fail("service %s: healthcheck port %s is not the port linkwatch listens on (%d)", r.s.Name, u.Port(), r.cfg.port)
	case u.Path != "/readyz" && u.Path != "/healthz":
		r.fail("service %s: healthcheck GET %s, want /readyz (or /healthz)", r.s.Name, u.Path)
	}
}

// security: as on Kubernetes, a read-only root and no capabilities.
func (r *composeReview) security() {
	if !r.s.ReadOnly {
		r.fail("service %s: want read_only: true (linkwatch writes only to its database: PostgreSQL, or SQLite's volume)", r.s.Name)
	}
	if !slices.Contains(r.s.CapDrop, "ALL") {
		r.fail("service %s: want cap_drop: [ALL]", r.s.Name)
	}
}

// termination: after SIGTERM, linkwatch fails /readyz for drain_delay,
// then shuts down; Docker's SIGKILL must not come sooner.
func (r *composeReview) termination() {
	grace := composeStopTimeout
	if g := r.s.StopGracePeriod; g != nil {
		grace = time.Duration(*g)
	}
	if grace < r.cfg.drainDelay+shutdownBudget {
		r.fail("service %s: stop_grace_period %s is below server.drain_delay %s + linkwatch's shutdown %s: Docker would kill it mid-drain", r.s.Name, grace, r.cfg.drainDelay, shutdownBudget)
	}
}

// env: every ${NAME} of the config is set, and not empty (linkwatch
// refuses an empty one), and nothing else is set: a variable the config
// does not read is a secret that goes nowhere.
func (r *composeReview) env() {
	for _, name := range r.cfg.env {
		if v := r.s.Environment[name]; v == nil || *v == "" {
			r.fail("service %s: the config reads ${%s}, which its environment does not set", r.s.Name, name)
		}
	}
	for name := range r.s.Environment {
		if !slices.Contains(r.cfg.env, name) {
			r.fail("service %s: environment %s is set, but the config reads no ${%s}", r.s.Name, name, name)
		}
	}
}

// sqlite: the database on a named volume (it outlives the container,
// and `docker compose down` keeps it), writable, and one writer.
func (r *composeReview) sqlite() {
	dir := path.Dir(r.cfg.path)
	i := slices.IndexFunc(r.s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == dir })
	if i < 0 {
		r.fail("storage.path %s: service %s mounts no volume at %s", r.cfg.path, r.s.Name, dir)
		return
	}
	switch v := r.s.Volumes[i]; {
	case v.Type != types.VolumeTypeVolume || r.p.Volumes[v.Source].Name == "":
		r.fail("storage.path %s: %s is a %s mount of %q, want a named volume of compose.yaml", r.cfg.path, dir, v.Type, v.Source)
	case v.ReadOnly:
		r.fail("storage.path %s: the volume %s is mounted read-only", r.cfg.path, v.Source)
	}
	for _, p := range r.s.Ports {
		if strings.Contains(p.Published, "-") {
			r.fail("service %s publishes the range %s: `--scale` could start a second SQLite writer; want one fixed port", r.s.Name, p.Published)
		}
	}
	if (r.s.Scale != nil && *r.s.Scale > 1) || (r.s.Deploy != nil && r.s.Deploy.Replicas != nil && *r.s.Deploy.Replicas > 1) {
		r.fail("service %s has several replicas: SQLite has one writer", r.s.Name)
	}
}

// postgres: the DSN names a database service of the run, with its user,
// password and database, and linkwatch waits until it is healthy; the
// database keeps its data on a named volume.
func (r *composeReview) postgres() {
	dsn := envRef.ReplaceAllStringFunc(r.cfg.dsn, func(ref string) string {
		if v := r.s.Environment[ref[2:len(ref)-1]]; v != nil {
			return *v
		}
		return ""
	})
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		r.fail("storage.dsn: want a postgres:// URL naming the database service")
		return
	}
	db, ok := r.p.Services[u.Hostname()]
	if !ok {
		r.fail("storage.dsn names the host %s, which is no service of this run", u.Hostname())
		return
	}
	if u.Port() != "" && u.Port() != "5432" {
		r.fail("storage.dsn: port %s, where service %s listens on 5432", u.Port(), db.Name)
	}
	envOr := func(name, def string) string {
		if v := db.Environment[name]; v != nil {
			return *v
		}
		return def
	}
	user := envOr("POSTGRES_USER", "postgres")
	password, _ := u.User.Password()
	if u.User.Username() != user || password != envOr("POSTGRES_PASSWORD", "") {
		r.fail("storage.dsn: the user or password is not service %s's (POSTGRES_USER, POSTGRES_PASSWORD)", db.Name)
	}
	if name := strings.TrimPrefix(u.Path, "/"); name != envOr("POSTGRES_DB", user) {
		r.fail("storage.dsn: database %q, where service %s creates %q (POSTGRES_DB)", name, db.Name, envOr("POSTGRES_DB", user))
	}
	if d, ok := r.s.DependsOn[db.Name]; !ok || d.Condition != types.ServiceConditionHealthy {
		r.fail("service %s: want depends_on %s with condition service_healthy", r.s.Name, db.Name)
	}
	if db.HealthCheck == nil || db.HealthCheck.Disable || len(db.HealthCheck.Test) == 0 {
		r.fail("service %s: want a healthcheck, which linkwatch's depends_on waits for", db.Name)
	}
	r.postgresData(db)
}

// postgresData: the database's files on a named volume, where the image
// keeps them. The image's major version is pinned: a new major cannot read
// an older one's files.
func (r *composeReview) postgresData(db types.ServiceConfig) {
	repo, tag, _ := strings.Cut(db.Image, ":")
	major, err := strconv.Atoi(strings.SplitN(tag, "-", 2)[0])
	if repo != "postgres" || err != nil {
		r.fail("service %s: image %q, want postgres:<major> (e.g. postgres:17): a new major cannot read an older one's files", db.Name, db.Image)
		return
	}
	if major < 13 {
		r.fail("service %s: image %s, want PostgreSQL 13 or newer", db.Name, db.Image)
	}
	data := "/var/lib/postgresql/data"
	if major >= 18 { // the image moved its data directory under a directory per major
		data = "/var/lib/postgresql"
	}
	if !slices.ContainsFunc(db.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Target == data && v.Type == types.VolumeTypeVolume && r.p.Volumes[v.Source].Name != ""
	}) {
		r.fail("service %s: no named volume at %s, where %s keeps its data: it would go with the container", db.Name, data, db.Image)
	}
}
