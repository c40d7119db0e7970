-- Each B leg names the attempt it was: the carrier trunk it went out on (NULL for phones and
-- the A leg) and its dialling stage, from 1 in the order tried (0 for the A leg and for legs
-- written before stages existed).
ALTER TABLE call_legs ADD COLUMN trunk TEXT;
ALTER TABLE call_legs ADD COLUMN stage INTEGER NOT NULL DEFAULT 0;
