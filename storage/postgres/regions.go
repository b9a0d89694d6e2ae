package postgres

import (
	"context"
	"fmt"
	"time"

	"linkwatch"

	"github.com/jackc/pgx/v5"

	"linkwatch/incidents"
)

// upsertVerdict writes a region's verdict on a target. A verdict that
// stays what it was keeps its since: a failing one written again each
// interval still says when the failure began.
const upsertVerdict = `INSERT INTO region_verdicts (target, region, failing, cause, since, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (target, region) DO UPDATE SET
		since = CASE WHEN region_verdicts.failing = excluded.failing THEN region_verdicts.since ELSE excluded.since END,
		failing = excluded.failing, cause = excluded.cause, updated_at = excluded.updated_at`

func writeVerdict(ctx context.Context, tx *Tx, v incidents.Verdict) error {
	if _, err := tx.Exec(ctx, upsertVerdict, v.Target, v.Region, v.Failing, string(v.Cause), v.Since.UTC(), v.UpdatedAt.UTC()); err != nil {
		return fmt.Errorf("postgres: record %s's verdict on %s: %w", v.Region, v.Target, err)
	}
	return nil
}

// RecordVerdict writes one region's verdict on one target.
func (db *DB) RecordVerdict(ctx context.Context, v incidents.Verdict) error {
	return db.update(ctx, func(tx *Tx) error { return writeVerdict(ctx, tx, v) })
}

// RecordRegion writes one replica's canary row and its failing verdicts,
// and forgets verdicts and canary rows last written before forgetBefore,
// in one transaction. Verdicts are written in target order, so two
// replicas of one region writing the same rows cannot deadlock.
func (db *DB) RecordRegion(ctx context.Context, h incidents.RegionHealth, failing []incidents.Verdict, forgetBefore time.Time) error {
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO region_canaries (region, replica, canary_ok, at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (region, replica) DO UPDATE SET canary_ok = excluded.canary_ok, at = excluded.at`,
			h.Region, h.Replica, h.CanaryOK, h.At.UTC()); err != nil {
			return fmt.Errorf("postgres: record region %s: %w", h.Region, err)
		}
		for _, v := range failing {
			if err := writeVerdict(ctx, tx, v); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM region_verdicts WHERE updated_at < $1`, forgetBefore.UTC()); err != nil {
			return fmt.Errorf("postgres: forget old verdicts: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM region_canaries WHERE at < $1`, forgetBefore.UTC()); err != nil {
			return fmt.Errorf("postgres: forget old canary rows: %w", err)
		}
		return nil
	})
}

// Verdicts returns every region's verdicts on targets.
func (db *DB) Verdicts(ctx context.Context, targets []string) ([]incidents.Verdict, error) {
	rows, err := db.pool.Query(ctx, `SELECT target, region, failing, cause, since, updated_at FROM region_verdicts
		WHERE target = ANY($1) ORDER BY target, region`, nonNil(targets))
	if err != nil {
		return nil, fmt.Errorf("postgres: query verdicts: %w", err)
	}
	var out []incidents.Verdict
	var v incidents.Verdict
	var cause string
	if _, err := pgx.ForEachRow(rows, []any{&v.Target, &v.Region, &v.Failing, &cause, &v.Since, &v.UpdatedAt}, func() error {
		v.Cause, v.Since, v.UpdatedAt = linkwatch.Cause(cause), v.Since.UTC(), v.UpdatedAt.UTC()
		out = append(out, v)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: scan verdict: %w", err)
	}
	return out, nil
}

// Regions returns every replica's last canary health, by region.
func (db *DB) Regions(ctx context.Context) ([]incidents.RegionHealth, error) {
	rows, err := db.pool.Query(ctx, `SELECT region, replica, canary_ok, at FROM region_canaries ORDER BY region, replica`)
	if err != nil {
		return nil, fmt.Errorf("postgres: query regions: %w", err)
	}
	var out []incidents.RegionHealth
	var h incidents.RegionHealth
	if _, err := pgx.ForEachRow(rows, []any{&h.Region, &h.Replica, &h.CanaryOK, &h.At}, func() error {
		h.At = h.At.UTC()
		out = append(out, h)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: scan region: %w", err)
	}
	return out, nil
}

// OpenIncidentsOnHost returns the open incidents of one host.
func (db *DB) OpenIncidentsOnHost(ctx context.Context, host string) ([]linkwatch.Incident, error) {
	return db.queryIncidents(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE resolved_at IS NULL AND host = $1 ORDER BY id`, host)
}
