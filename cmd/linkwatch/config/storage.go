package config

import (
	"strings"
	"time"

	"linkwatch/storage/postgres"
)

// Storage drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// StorageConfig is which database holds linkwatch's state and what it
// keeps: an embedded SQLite file (the default), or a PostgreSQL database
// that replicas can share.
type StorageConfig struct {
	Driver    string          `yaml:"driver"` // sqlite (default) | postgres
	Path      string          `yaml:"path"`   // sqlite: the database file
	DSN       string          `yaml:"dsn"`    // postgres: a connection string; a secret (it may hold the password)
	Retention RetentionConfig `yaml:"retention"`
}

// RetentionConfig is how long each kind of data is kept.
type RetentionConfig struct {
	Raw           Duration `yaml:"raw"`            // raw results (default 48h)
	MinuteRollups Duration `yaml:"minute_rollups"` // per-minute aggregates (default 7 days)
	Rollups       Duration `yaml:"rollups"`        // per-hour aggregates (default 90 days)
}

func (s *StorageConfig) validate(cerr *Error) {
	switch s.Driver {
	case DriverSQLite:
		if strings.ContainsAny(s.Path, "?#") {
			cerr.add("storage.path", "must not contain ? or #")
		}
		if s.DSN != "" {
			cerr.add("storage.dsn", "is for driver postgres; driver sqlite uses storage.path")
		}
	case DriverPostgres:
		// The DSN is a secret: its error says what is wrong, never what it is.
		if s.DSN == "" {
			cerr.add("storage.dsn", "is required for driver postgres (e.g. postgres://linkwatch:${PGPASSWORD}@db.internal:5432/linkwatch)")
		} else if _, err := postgres.ParseDSN(s.DSN); err != nil {
			cerr.add("storage.dsn", "%s", strings.TrimPrefix(err.Error(), "postgres: "))
		}
	default:
		cerr.add("storage.driver", "must be sqlite or postgres, not %q", s.Driver)
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
