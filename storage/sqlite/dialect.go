package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"linkwatch/storage"
)

// dialect is what storage.DB needs to know of SQLite. One process writes,
// through one connection: it serialises everything PostgreSQL serialises
// with row and advisory locks, so there are no locks to take.
type dialect struct{}

func (dialect) Name() string { return "sqlite" }

// timeFormat is fixed-width so stored times sort and compare as strings.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Arg stores times as fixed-width UTC text and lists as JSON arrays (read
// by json_each: see Rebind).
func (dialect) Arg(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.UTC().Format(timeFormat)
	case []string, []int64:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return v
}

var rebound sync.Map // query -> SQLite's

// The PostgreSQL that storage writes and SQLite spells another way.
var (
	anyOf = regexp.MustCompile(`(=|<>) (ANY|ALL)\(\$(\d+)\)`)
	param = regexp.MustCompile(`\$(\d+)`)
	// Row locks: the one writer already holds the database.
	rowLock   = regexp.MustCompile(` FOR UPDATE( OF \w+)?( SKIP LOCKED)?`)
	functions = strings.NewReplacer("GREATEST(", "MAX(", "LEAST(", "MIN(")
)

// Rebind turns "x = ANY($n)" into "x IN (SELECT value FROM json_each(?n))"
// ("<> ALL": NOT IN), $n into ?n, GREATEST and LEAST into the scalar MAX
// and MIN, and drops row locks.
func (dialect) Rebind(query string) string {
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	q := anyOf.ReplaceAllStringFunc(query, func(m string) string {
		sub := anyOf.FindStringSubmatch(m)
		not := map[string]string{"=": "", "<>": "NOT "}[sub[1]]
		return not + "IN (SELECT value FROM json_each($" + sub[3] + "))"
	})
	q = functions.Replace(rowLock.ReplaceAllString(param.ReplaceAllString(q, "?$1"), ""))
	rebound.Store(query, q)
	return q
}

func (dialect) Day(col string) string { return "substr(" + col + ", 1, 10) || 'T00:00:00.000000000Z'" }

func (dialect) PruneResults() string {
	return `DELETE FROM results WHERE rowid IN (SELECT rowid FROM results WHERE started_at < $1 LIMIT 5000)`
}

// Now: SQLite runs in this process, and its clock is the process's.
func (dialect) Now() string { return "" }

// DropRollups does nothing: a SQLite table is one B-tree, from which
// Prune's batch delete frees whole pages (the rollups are keyed time
// first) for the next rows to reuse.
func (dialect) DropRollups(context.Context, *storage.Tx, string, int64, int64) int64 { return 0 }

func (dialect) LiveMember() string { return "true" }

// Insert runs one prepared INSERT per row: in-process, a row costs no
// round trip, and a statement of thousands of parameters would cost more
// to compile than its rows to insert.
func (d dialect) Insert(ctx context.Context, tx *storage.Tx, ins storage.Insert) {
	tx.Native(ctx, "INSERT INTO "+ins.Table+" ("+strings.Join(ins.Cols, ", ")+") VALUES ("+
		strings.TrimSuffix(strings.Repeat("?, ", len(ins.Cols)), ", ")+") "+d.Rebind(ins.Then), ins.Rows, ins.Scan)
}

func (dialect) LockTx(context.Context, *storage.Tx, storage.TxLock) error { return nil }

// MemberLock: the one process is alive while it runs.
func (dialect) MemberLock(context.Context, string) (int64, error) { return 0, nil }

// HoldLock: the one process holds every lock, and runs every job.
func (dialect) HoldLock(context.Context, string) (bool, error) { return true, nil }

func (dialect) ReleaseLock(string) {}

// IsFault: any error of SQLite's own but an interruption (a cancelled
// context) is a fault.
func (dialect) IsFault(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code != sqlite3.ErrInterrupt
}

func (dialect) IsUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
}

func (dialect) Close() error { return nil }
