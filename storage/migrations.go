package storage

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one schema change, a file NNNN_name.sql. Backends record
// each applied version (and its name) one by one, not as a high-water
// mark, so a migration that arrives with a lower number than one already
// applied (two branches merged) is applied rather than silently skipped.
type Migration struct {
	Version    int
	Name, Body string // Name is the file name
}

// Migrations reads the *.sql files of dir in fsys, in version order. Two
// files with one number are refused.
func Migrations(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, fmt.Errorf("storage: list migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, name := range names {
		base := path.Base(name)
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("storage: migration %s: name must start with a number", base)
		}
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("storage: migrations %s and %s share the number %d", other, base, version)
		}
		seen[version] = base
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("storage: read migration %s: %w", base, err)
		}
		out = append(out, Migration{Version: version, Name: base, Body: string(body)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	return out, nil
}
