package deploy

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"slices"
	"strconv"
	"time"

	"sigs.k8s.io/yaml"
)

// defaultDrainDelay is server.drain_delay when a config leaves it out
// (cmd/linkwatch/config): on SIGTERM, /readyz fails this long before the
// shutdown proper begins.
const defaultDrainDelay = 5 * time.Second

// linkwatchConfig is what the checks read of a linkwatch config file that
// deploy/ or compose.yaml runs: where it listens, where it keeps its
// state, and which ${NAME}s it reads. Whether linkwatch accepts the file
// is linkwatch's to say: TestImage runs `linkwatch validate` on each.
type linkwatchConfig struct {
	port       int32         // of server.addr
	drainDelay time.Duration // server.drain_delay
	driver     string        // storage.driver
	path       string        // storage.path, for sqlite
	dsn        string        // storage.dsn, for postgres, as written (${NAME} unexpanded)
	env        []string      // every NAME of a ${NAME} in a value, sorted
}

// envRef is a ${NAME} in a config value.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// parseConfig reads the fields the checks need, and asks that those with
// a default be written out, so that what a manifest relies on is in the
// file it mounts rather than in linkwatch's defaults.
func parseConfig(data []byte) (*linkwatchConfig, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	var file struct {
		Server struct {
			Addr       string `json:"addr"`
			DrainDelay string `json:"drain_delay"`
		} `json:"server"`
		Storage struct {
			Driver string `json:"driver"`
			Path   string `json:"path"`
			DSN    string `json:"dsn"`
		} `json:"storage"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return nil, err
	}
	cfg := &linkwatchConfig{
		drainDelay: defaultDrainDelay,
		driver:     file.Storage.Driver,
		path:       file.Storage.Path,
		dsn:        file.Storage.DSN,
		env:        envNames(raw),
	}
	_, ps, err := net.SplitHostPort(file.Server.Addr)
	n, perr := strconv.ParseUint(ps, 10, 16)
	if err != nil || perr != nil {
		return nil, fmt.Errorf("server.addr %q has no port (the default :8080 is fine for linkwatch; set it here so the manifests can be checked)", file.Server.Addr)
	}
	cfg.port = int32(n)
	if d := file.Server.DrainDelay; d != "" {
		if cfg.drainDelay, err = time.ParseDuration(d); err != nil {
			return nil, fmt.Errorf("server.drain_delay: %w", err)
		}
	}
	switch cfg.driver {
	case "postgres":
	case "sqlite":
		if !path.IsAbs(cfg.path) {
			return nil, fmt.Errorf("storage.path %q: want an absolute path, on the volume meant for it (a relative one depends on the working directory)", cfg.path)
		}
	default:
		return nil, fmt.Errorf("storage.driver %q: want sqlite or postgres, written out so the manifests can be checked", cfg.driver)
	}
	return cfg, nil
}

// envNames lists the NAMEs of the ${NAME}s in the values of v (keys and
// comments are not expanded).
func envNames(v any) []string {
	var names []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			for _, m := range envRef.FindAllStringSubmatch(v, -1) {
				names = append(names, m[1])
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	slices.Sort(names)
	return slices.Compact(names)
}
