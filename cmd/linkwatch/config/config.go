// Package config is linkwatch's configuration file: its schema, loading it
// (${ENV} expansion after parsing, a bounded walk that names every unknown
// key and wrong value by its field path, every error at once), one defaults
// step, and the validation of each section, which changes nothing.
package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole linkwatch configuration file.
type Config struct {
	Server  ServerConfig  `yaml:"server"`
	Storage StorageConfig `yaml:"storage"`
	Probe   ProbeConfig   `yaml:"probe"`
	Pages   []PageConfig  `yaml:"pages"`
	Alerts  AlertsConfig  `yaml:"alerts"`
}

// Duration is a time.Duration written as "10s" or "48h" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		// A TypeError, so the decoder goes on with the other fields and
		// every problem is reported in one pass.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration (use e.g. 10s, 5m, 48h)", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}
