package storage

import (
	"context"
	"time"
)

// ClaimNonce records nonce (a signed request's signature) as served until
// ttl has passed, by the database's clock, and reports whether it was new:
// false means the same request was served before, on this replica or
// another, and must be refused as a replay. Nonces past their expiry are
// forgotten in the same transaction.
func (db *DB) ClaimNonce(ctx context.Context, nonce string, ttl time.Duration) (bool, error) {
	var fresh bool
	err := db.update(ctx, "claim nonce", func(tx *Tx) error {
		tx.Exec(ctx, `DELETE FROM request_nonces WHERE expires_at <= $1`, tx.now)
		fresh = tx.Exec(ctx, `INSERT INTO request_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING`,
			nonce, tx.now.Add(ttl)) == 1
		return nil
	})
	return fresh, err
}
