package config

import (
	"strings"
	"time"
)

// StorageConfig is where the SQLite database lives and what it keeps.
type StorageConfig struct {
	Path      string          `yaml:"path"`
	Retention RetentionConfig `yaml:"retention"`
}

// RetentionConfig is how long each kind of data is kept.
type RetentionConfig struct {
	Raw           Duration `yaml:"raw"`            // raw results (default 48h)
	MinuteRollups Duration `yaml:"minute_rollups"` // per-minute aggregates (default 7 days)
	Rollups       Duration `yaml:"rollups"`        // per-hour aggregates (default 90 days)
}

func (s *StorageConfig) validate(cerr *Error) {
	if strings.ContainsAny(s.Path, "?#") {
		cerr.add("storage.path", "must not contain ? or #")
	}
	r := s.Retention
	if r.Raw < Duration(time.Hour) {
		cerr.add("storage.retention.raw", "must be at least 1h")
	}
	if r.MinuteRollups < r.Raw {
		cerr.add("storage.retention.minute_rollups", "must be at least storage.retention.raw")
	}
	if r.Rollups < r.MinuteRollups {
		cerr.add("storage.retention.rollups", "must be at least storage.retention.minute_rollups")
	}
}
