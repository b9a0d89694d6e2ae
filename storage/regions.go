package storage

import (
	"context"
	"time"

	"linkwatch/incidents"
)

// writeVerdict writes a region's verdict on a target. A verdict that
// stays what it was keeps its since: a failing one written again each
// interval still says when the failure began.
func writeVerdict(ctx context.Context, tx *Tx, v incidents.Verdict) {
	tx.Exec(ctx, `INSERT INTO region_verdicts (target, region, failing, cause, since, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (target, region) DO UPDATE SET
			since = CASE WHEN region_verdicts.failing = excluded.failing THEN region_verdicts.since ELSE excluded.since END,
			failing = excluded.failing, cause = excluded.cause, updated_at = excluded.updated_at`,
		v.Target, v.Region, v.Failing, string(v.Cause), v.Since, v.UpdatedAt)
}

// writeEnd keeps when target's last incident or note ended: the latest
// of at and what was kept.
func writeEnd(ctx context.Context, tx *Tx, target string, at time.Time) {
	if at.IsZero() {
		return // not a resolution: nothing ended
	}
	tx.Exec(ctx, `INSERT INTO failure_ends (target, ended_at) VALUES ($1, $2)
		ON CONFLICT (target) DO UPDATE SET ended_at = excluded.ended_at WHERE excluded.ended_at > failure_ends.ended_at`, target, at)
}

// RecordVerdict writes one region's verdict on one target.
func (db *DB) RecordVerdict(ctx context.Context, v incidents.Verdict) error {
	return db.update(ctx, "record "+v.Region+"'s verdict on "+v.Target, func(tx *Tx) error { writeVerdict(ctx, tx, v); return nil })
}

// RecordRegion writes one replica's canary row and its failing verdicts,
// and forgets verdicts, canary rows and failure ends last written before
// forgetBefore,
// in one transaction. Verdicts are written in the order given (the
// engine's, by target), so two replicas of one region writing the same
// rows lock them in one order.
func (db *DB) RecordRegion(ctx context.Context, h incidents.RegionHealth, failing []incidents.Verdict, forgetBefore time.Time) error {
	return db.update(ctx, "record region "+h.Region, func(tx *Tx) error {
		tx.Exec(ctx, `INSERT INTO region_canaries (region, replica, canary_ok, at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (region, replica) DO UPDATE SET canary_ok = excluded.canary_ok, at = excluded.at`, h.Region, h.Replica, h.CanaryOK, h.At)
		for _, v := range failing {
			writeVerdict(ctx, tx, v)
		}
		tx.Exec(ctx, `DELETE FROM region_verdicts WHERE updated_at < $1`, forgetBefore)
		tx.Exec(ctx, `DELETE FROM region_canaries WHERE at < $1`, forgetBefore)
		tx.Exec(ctx, `DELETE FROM failure_ends WHERE ended_at < $1`, forgetBefore)
		return nil
	})
}

// Verdicts returns every region's verdicts on targets.
func (db *DB) Verdicts(ctx context.Context, targets []string) ([]incidents.Verdict, error) {
	return read(ctx, db, "read verdicts", `SELECT target, region, failing, cause, since, updated_at FROM region_verdicts
		WHERE target = ANY($1) ORDER BY target, region`, []any{nonNil(targets)},
		func(row scanner) (v incidents.Verdict, err error) {
			return v, row.Scan(&v.Target, &v.Region, &v.Failing, &v.Cause, at(&v.Since), at(&v.UpdatedAt))
		})
}

// Ends returns when each of targets' last incident or regional note
// ended, for those that have one kept.
func (db *DB) Ends(ctx context.Context, targets []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := each(ctx, db.read, `SELECT target, ended_at FROM failure_ends WHERE target = ANY($1)`, []any{nonNil(targets)}, func(row scanner) error {
		var target string
		var t time.Time
		err := row.Scan(&target, at(&t))
		out[target] = t
		return err
	})
	return out, db.wrap("read failure ends", err)
}

// Regions returns every replica's last canary health, by region.
func (db *DB) Regions(ctx context.Context) ([]incidents.RegionHealth, error) {
	return read(ctx, db, "read regions", `SELECT region, replica, canary_ok, at FROM region_canaries ORDER BY region, replica`, nil,
		func(row scanner) (h incidents.RegionHealth, err error) {
			return h, row.Scan(&h.Region, &h.Replica, &h.CanaryOK, at(&h.At))
		})
}

// RecordRecovery stores that target recovered at at, and forgets every
// recovery before forgetBefore (older than any flap window).
func (db *DB) RecordRecovery(ctx context.Context, target string, at, forgetBefore time.Time) error {
	return db.update(ctx, "record recovery of "+target, func(tx *Tx) error {
		tx.Exec(ctx, `INSERT INTO target_recoveries (target, at) VALUES ($1, $2)`, target, at)
		tx.Exec(ctx, `DELETE FROM target_recoveries WHERE at < $1`, forgetBefore)
		return nil
	})
}

// Recoveries returns each target's recoveries at or after since, oldest
// first.
func (db *DB) Recoveries(ctx context.Context, since time.Time) (map[string][]time.Time, error) {
	out := map[string][]time.Time{}
	err := each(ctx, db.read, `SELECT target, at FROM target_recoveries WHERE at >= $1 ORDER BY at`, []any{since}, func(row scanner) error {
		var target string
		var t time.Time
		err := row.Scan(&target, at(&t))
		out[target] = append(out[target], t)
		return err
	})
	return out, db.wrap("read recoveries", err)
}
