-- Response times are those of the checks that got a response (up or
-- degraded): lat_count counts them, and the latency columns (lat_min_us,
-- lat_max_us, lat_sum_us, h0..h10) hold theirs alone. A failed check's
-- latency is the time it took to fail, not a response time.
--
-- Rows written before held every check's latency, failures included, and
-- which buckets the failures fell in was not recorded. A row without
-- failures is exact as it is: its lat_count is its count. A row with
-- failures cannot be told apart: its latency is dropped (lat_count 0, the
-- latency columns 0), so its minute or hour adds no response time to
-- charts, percentiles and latency badges rather than mixing failures in
-- (alone in a window, it reads "no data"). Its count, failures and
-- degraded (uptime) are kept.
ALTER TABLE rollup_minute ADD COLUMN lat_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_hour ADD COLUMN lat_count INTEGER NOT NULL DEFAULT 0;
UPDATE rollup_minute SET lat_count = count WHERE failures = 0;
UPDATE rollup_minute SET lat_min_us = 0, lat_max_us = 0, lat_sum_us = 0,
	h0 = 0, h1 = 0, h2 = 0, h3 = 0, h4 = 0, h5 = 0, h6 = 0, h7 = 0, h8 = 0, h9 = 0, h10 = 0
	WHERE failures > 0;
UPDATE rollup_hour SET lat_count = count WHERE failures = 0;
UPDATE rollup_hour SET lat_min_us = 0, lat_max_us = 0, lat_sum_us = 0,
	h0 = 0, h1 = 0, h2 = 0, h3 = 0, h4 = 0, h5 = 0, h6 = 0, h7 = 0, h8 = 0, h9 = 0, h10 = 0
	WHERE failures > 0;
