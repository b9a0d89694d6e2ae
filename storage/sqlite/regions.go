package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"linkwatch"
	"linkwatch/incidents"
)

// upsertVerdict writes a region's verdict on a target. A verdict that
// stays what it was keeps its since: a failing one written again each
// interval still says when the failure began.
const upsertVerdict = `INSERT INTO region_verdicts (target, region, failing, cause, since, updated_at) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (target, region) DO UPDATE SET
		since = CASE WHEN region_verdicts.failing = excluded.failing THEN region_verdicts.since ELSE excluded.since END,
		failing = excluded.failing, cause = excluded.cause, updated_at = excluded.updated_at`

func writeVerdict(ctx context.Context, tx *Tx, v incidents.Verdict) error {
	if _, err := tx.ExecContext(ctx, upsertVerdict, v.Target, v.Region, v.Failing, string(v.Cause), formatTime(v.Since), formatTime(v.UpdatedAt)); err != nil {
		return fmt.Errorf("sqlite: record %s's verdict on %s: %w", v.Region, v.Target, err)
	}
	return nil
}

// RecordVerdict writes one region's verdict on one target.
func (db *DB) RecordVerdict(ctx context.Context, v incidents.Verdict) error {
	return db.update(ctx, func(tx *Tx) error { return writeVerdict(ctx, tx, v) })
}

// RecordRegion writes one replica's canary row and its failing verdicts,
// and forgets verdicts and canary rows last written before forgetBefore,
// in one transaction.
func (db *DB) RecordRegion(ctx context.Context, h incidents.RegionHealth, failing []incidents.Verdict, forgetBefore time.Time) error {
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO region_canaries (region, replica, canary_ok, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (region, replica) DO UPDATE SET canary_ok = excluded.canary_ok, at = excluded.at`,
			h.Region, h.Replica, h.CanaryOK, formatTime(h.At)); err != nil {
			return fmt.Errorf("sqlite: record region %s: %w", h.Region, err)
		}
		for _, v := range failing {
			if err := writeVerdict(ctx, tx, v); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM region_verdicts WHERE updated_at < ?`, formatTime(forgetBefore)); err != nil {
			return fmt.Errorf("sqlite: forget old verdicts: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM region_canaries WHERE at < ?`, formatTime(forgetBefore)); err != nil {
			return fmt.Errorf("sqlite: forget old canary rows: %w", err)
		}
		return nil
	})
}

// Verdicts returns every region's verdicts on targets.
func (db *DB) Verdicts(ctx context.Context, targets []string) ([]incidents.Verdict, error) {
	list, err := json.Marshal(nonNil(targets))
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, db.reader, "verdicts", `SELECT target, region, failing, cause, since, updated_at FROM region_verdicts
		WHERE target IN (SELECT value FROM json_each(?)) ORDER BY target, region`, []any{string(list)},
		func(row rowScanner) (incidents.Verdict, error) {
			var v incidents.Verdict
			var cause, since, updated string
			err := row.Scan(&v.Target, &v.Region, &v.Failing, &cause, &since, &updated)
			v.Cause, v.Since, v.UpdatedAt = linkwatch.Cause(cause), parseTime(since), parseTime(updated)
			return v, err
		})
}

// Regions returns every replica's last canary health, by region.
func (db *DB) Regions(ctx context.Context) ([]incidents.RegionHealth, error) {
	return queryAll(ctx, db.reader, "regions", `SELECT region, replica, canary_ok, at FROM region_canaries ORDER BY region, replica`, nil,
		func(row rowScanner) (incidents.RegionHealth, error) {
			var h incidents.RegionHealth
			var at string
			err := row.Scan(&h.Region, &h.Replica, &h.CanaryOK, &at)
			h.At = parseTime(at)
			return h, err
		})
}

// OpenIncidentsOnHost returns the open incidents of one host.
func (db *DB) OpenIncidentsOnHost(ctx context.Context, host string) ([]linkwatch.Incident, error) {
	return db.queryIncidents(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE resolved_at IS NULL AND host = ? ORDER BY id`, host)
}
