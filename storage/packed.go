package storage

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"
)

// The minute rollups of an hour rolled up are kept packed: one row per
// target and hour (rollup_minute_packed) whose minutes column holds the
// hour's minutes, encoded by packMinutes. A minute row is updated by
// every batch of its minute while the minute is current, so it lives in
// rollup_minute; once its hour is rolled up it is never written again,
// and sixty rows of 22 fixed-width columns cost PostgreSQL a tuple header,
// a line pointer and an index entry each (about 150 bytes, twice that at
// the fillfactor the updates need), where their packed minutes are about
// 16 bytes each in one row (issue 27). RollUp moves an hour's minutes into
// their packed rows in its transaction; a minute written after its hour
// was rolled up (a check finished late, on another replica) stays in
// rollup_minute, and every read adds both.

// packFormat is the first byte of a packed hour: its encoding.
const packFormat = 1

// packMinutes encodes one target's minute rollups of the hour starting at
// hour (Unix seconds), sorted by start, at most one per minute: after the
// format, how many minutes; for each minute, its minute of the hour, then as varints its counts, its
// fastest response time, the slowest and the sum as differences from the
// fastest, a bitmap of the histogram buckets that are not empty and their
// counts. Every value is kept exactly.
func packMinutes(hour int64, rs []Rollup) []byte {
	b := make([]byte, 0, 2+len(rs)*20)
	b = append(b, packFormat, byte(len(rs)))
	for _, r := range rs {
		b = append(b, byte((r.Start.Unix()-hour)/60))
		for _, n := range []int64{r.Count, r.Failures, r.Degraded, r.LatCount} {
			b = binary.AppendUvarint(b, uint64(n))
		}
		lo := r.LatMin.Microseconds()
		b = binary.AppendVarint(b, lo)
		b = binary.AppendVarint(b, r.LatMax.Microseconds()-lo)
		b = binary.AppendVarint(b, r.LatSum.Microseconds()-r.LatCount*lo)
		var used uint64
		for i, n := range r.Hist {
			if n != 0 {
				used |= 1 << i
			}
		}
		b = binary.AppendUvarint(b, used)
		for _, n := range r.Hist {
			if n != 0 {
				b = binary.AppendUvarint(b, uint64(n))
			}
		}
	}
	return b
}

// unpackMinutes decodes what packMinutes encoded, the minutes of key's
// hour starting at hour.
func unpackMinutes(key string, hour int64, b []byte) ([]Rollup, error) {
	bad := func(what string) ([]Rollup, error) {
		return nil, fmt.Errorf("packed minutes of %s at %d: %s", key, hour, what)
	}
	if len(b) < 2 || b[0] != packFormat || b[1] > 60 {
		return bad("unknown format")
	}
	n := int(b[1])
	b = b[2:]
	var out []Rollup
	uv := func() int64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			b = nil
			return -1
		}
		b = b[n:]
		return int64(v)
	}
	sv := func() (int64, bool) {
		v, n := binary.Varint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	for len(b) > 0 {
		m := int64(b[0])
		b = b[1:]
		if m >= 60 || len(out) > 0 && hour+m*60 <= out[len(out)-1].Start.Unix() {
			return bad("minutes out of order")
		}
		r := Rollup{TargetID: key, Start: time.Unix(hour+m*60, 0).UTC()}
		r.Count, r.Failures, r.Degraded, r.LatCount = uv(), uv(), uv(), uv()
		lo, ok1 := sv()
		span, ok2 := sv()
		extra, ok3 := sv()
		used := uv()
		if min(r.Count, r.Failures, r.Degraded, r.LatCount, used) < 0 || !ok1 || !ok2 || !ok3 || used >= 1<<HistColumns {
			return bad("truncated")
		}
		r.LatMin, r.LatMax = time.Duration(lo)*time.Microsecond, time.Duration(lo+span)*time.Microsecond
		r.LatSum = time.Duration(extra+r.LatCount*lo) * time.Microsecond
		for i := range r.Hist {
			if used&(1<<i) != 0 {
				if r.Hist[i] = uv(); r.Hist[i] < 0 {
					return bad("truncated")
				}
			}
		}
		out = append(out, r)
	}
	if len(out) != n {
		return bad(fmt.Sprintf("%d minutes, want %d", len(out), n))
	}
	return out, nil
}

// merged is r and o, rollups of one target and period, taken together:
// what adding o's checks into r's row would have made it.
func (r Rollup) merged(o Rollup) Rollup {
	switch {
	case r.LatCount == 0:
		r.LatMin = o.LatMin
	case o.LatCount > 0:
		r.LatMin = min(r.LatMin, o.LatMin)
	}
	r.Count += o.Count
	r.Failures += o.Failures
	r.Degraded += o.Degraded
	r.LatCount += o.LatCount
	r.LatMax = max(r.LatMax, o.LatMax)
	r.LatSum += o.LatSum
	for i, n := range o.Hist {
		r.Hist[i] += n
	}
	return r
}

// packChunk is how many targets' minutes RollUp packs in one statement:
// the rows it holds in memory at once are sixty times as many.
const packChunk = 500

// packHours moves the minute rollups of the hours in [from, to) into
// their packed rows, a chunk of targets at a time: each minute row is
// deleted and what the delete returned is packed, so a check a replica
// adds into a minute meanwhile is either in the packed row or in a minute
// row of its own left behind, never lost. A packed row already there (the
// watermark set back) is merged with.
func (db *DB) packHours(ctx context.Context, tx *Tx, from, to int64) error {
	ids, err := all(ctx, tx.runner, `SELECT DISTINCT target_id FROM rollup_minute WHERE bucket >= $1 AND bucket < $2 ORDER BY target_id`,
		[]any{from, to}, func(row scanner) (id int64, err error) { return id, row.Scan(&id) })
	if err != nil {
		return err
	}
	type hourKey struct{ hour, target int64 }
	for chunk := range slices.Chunk(ids, packChunk) {
		hours := map[hourKey][]Rollup{}
		err := each(ctx, tx.runner, `DELETE FROM rollup_minute WHERE bucket >= $1 AND bucket < $2 AND target_id = ANY($3)
			RETURNING target_id, `+rollupColumns, []any{from, to, chunk}, func(row scanner) error {
			var id int64
			r, err := scanRollup("", prefixed{row, &id})
			k := hourKey{r.Start.Unix() / 3600 * 3600, id}
			hours[k] = append(hours[k], r)
			return err
		})
		if err != nil {
			return err
		}
		var packed []hourKey
		err = each(ctx, tx.runner, `DELETE FROM rollup_minute_packed WHERE bucket >= $1 AND bucket < $2 AND target_id = ANY($3)
			RETURNING bucket, target_id, minutes`, []any{from, to, chunk}, func(row scanner) error {
			var k hourKey
			var b []byte
			if err := row.Scan(&k.hour, &k.target, &b); err != nil {
				return err
			}
			rs, err := unpackMinutes(fmt.Sprint(k.target), k.hour, b)
			hours[k] = append(hours[k], rs...)
			packed = append(packed, k)
			return err
		})
		if err != nil {
			return err
		}
		rows := make([][]any, 0, len(hours))
		for _, k := range slices.SortedFunc(maps.Keys(hours), func(a, b hourKey) int {
			return cmp.Or(cmp.Compare(a.hour, b.hour), cmp.Compare(a.target, b.target))
		}) {
			rows = append(rows, []any{k.hour, k.target, packMinutes(k.hour, byMinute(hours[k]))})
		}
		db.d.Insert(ctx, tx, Insert{Table: "rollup_minute_packed", Cols: []string{"bucket", "target_id", "minutes"}, Rows: rows})
		if tx.Err() != nil {
			return tx.Err()
		}
	}
	return nil
}

// prefixed scans a row's first column into first and the rest as the
// scanner under it would.
type prefixed struct {
	scanner
	first any
}

func (p prefixed) Scan(dest ...any) error { return p.scanner.Scan(append([]any{p.first}, dest...)...) }

// byMinute sorts rs by start, one rollup per minute (merged).
func byMinute(rs []Rollup) []Rollup {
	slices.SortFunc(rs, func(a, b Rollup) int { return a.Start.Compare(b.Start) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].Start.Equal(r.Start) {
			out[n-1] = out[n-1].merged(r)
			continue
		}
		out = append(out, r)
	}
	return out
}

// packedMinutes calls fn with each minute rollup packed in the rows of
// rollup_minute_packed p (joined with targets t) that cond selects, whose
// start keep accepts.
func (db *DB) packedMinutes(ctx context.Context, cond string, args []any, keep func(minute int64) bool, fn func(Rollup)) error {
	return each(ctx, db.read, `SELECT t.key, p.bucket, p.minutes FROM rollup_minute_packed p JOIN targets t ON t.id = p.target_id WHERE `+cond, args,
		func(row scanner) error {
			var key string
			var hour int64
			var b []byte
			if err := row.Scan(&key, &hour, &b); err != nil {
				return err
			}
			rs, err := unpackMinutes(key, hour, b)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if keep(r.Start.Unix()) {
					fn(r)
				}
			}
			return nil
		})
}
