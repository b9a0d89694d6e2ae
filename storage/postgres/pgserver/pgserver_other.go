//go:build !linux

package pgserver

import (
	"context"
	"errors"
)

// errUnsupported: the server is run with a parent-death signal, which
// only Linux has.
var errUnsupported = errors.New("pgserver: the throwaway PostgreSQL runs on Linux only")

// Server is a throwaway server; there is none off Linux.
type Server struct {
	Port     int
	Password string
}

// BinDir fails: the throwaway server runs on Linux only.
func BinDir() (string, error) { return "", errUnsupported }

// Start fails: the throwaway server runs on Linux only.
func Start(string) (*Server, error) { return nil, errUnsupported }

// DSN is never reached: Start failed.
func (s *Server) DSN(string) string { return "" }

// CreateDatabase is never reached: Start failed.
func (s *Server) CreateDatabase(context.Context, string) error { return errUnsupported }

// CreateDatabaseFrom is never reached: Start failed.
func (s *Server) CreateDatabaseFrom(context.Context, string, string) error { return errUnsupported }

// DropDatabase is never reached: Start failed.
func (s *Server) DropDatabase(context.Context, string) error { return errUnsupported }

// Down is never reached: Start failed.
func (s *Server) Down() {}

// Up is never reached: Start failed.
func (s *Server) Up() error { return errUnsupported }

// Stop is never reached: Start failed.
func (s *Server) Stop() error { return nil }
