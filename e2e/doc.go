// Package e2e tests linkwatch from outside, as a deployment runs it: the
// real binary, built once per test run and started as processes on
// loopback ports, over SQLite files and a throwaway PostgreSQL server
// (one for the package), driven through HTTP, its config file, signals and
// its database, killed with SIGKILL, and its status pages read by
// Chromium with axe-core. It imports none of cmd/linkwatch: what it knows
// of linkwatch is what a user or an operator sees.
//
// The package holds only tests; `go test ./...` (CI included) runs them.
package e2e
