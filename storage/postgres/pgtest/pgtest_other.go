//go:build !linux

package pgtest

import (
	"os"
	"testing"

	"linkwatch/storage/postgres"
)

// Main runs the package's tests.
func Main(m *testing.M) { os.Exit(m.Run()) }

func unsupported(tb testing.TB) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatal("pgtest: the throwaway PostgreSQL runs on Linux only")
	}
	tb.Skip("pgtest: the throwaway PostgreSQL runs on Linux only")
}

// DSN skips: the throwaway server needs Linux (a parent-death signal).
func DSN(tb testing.TB) string { unsupported(tb); return "" }

// MustOpen skips: the throwaway server needs Linux (a parent-death signal).
func MustOpen(tb testing.TB) *postgres.DB { unsupported(tb); return nil }

// Server is a throwaway server: none here.
type Server struct{}

// Own skips: the throwaway server needs Linux (a parent-death signal).
func Own(tb testing.TB) *Server { unsupported(tb); return nil }

// DSN skips.
func (*Server) DSN(tb testing.TB) string { unsupported(tb); return "" }

// Down skips.
func (*Server) Down(tb testing.TB) { unsupported(tb) }

// Up skips.
func (*Server) Up(tb testing.TB) { unsupported(tb) }
