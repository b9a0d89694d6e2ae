//go:build !linux

package pgserver

import (
	"context"
	"errors"
)

// errUnsupported: the server is stopped with its parent through a
// parent-death signal, which only Linux has.
var errUnsupported = errors.New("pgserver: the throwaway PostgreSQL runs on Linux only")

// Server is a running throwaway cluster; there is none off Linux.
type Server struct {
	Port     int
	Password string
}

// BinDir fails: see errUnsupported.
func BinDir() (string, error) { return "", errUnsupported }

// Start fails: see errUnsupported.
func Start(string) (*Server, error) { return nil, errUnsupported }

// DSN is never reached: Start failed.
func (*Server) DSN(string) string { return "" }

// CreateDatabase is never reached: Start failed.
func (*Server) CreateDatabase(context.Context, string) error { return errUnsupported }

// DropDatabase is never reached: Start failed.
func (*Server) DropDatabase(context.Context, string) error { return errUnsupported }

// Shutdown is never reached: Start failed.
func (*Server) Shutdown() {}

// Restart is never reached: Start failed.
func (*Server) Restart() error { return errUnsupported }

// Stop is never reached: Start failed.
func (*Server) Stop() error { return nil }
