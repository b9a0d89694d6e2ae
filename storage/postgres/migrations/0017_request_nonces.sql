-- Signed requests already served (Slack's interactions: the request's
-- signature), kept until they could no longer pass the signature's
-- timestamp window, so a request replayed to any replica is refused.
CREATE TABLE request_nonces (
	nonce      text PRIMARY KEY,
	expires_at timestamptz NOT NULL
);
CREATE INDEX request_nonces_expires ON request_nonces (expires_at);
