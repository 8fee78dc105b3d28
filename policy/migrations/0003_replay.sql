-- 0003_replay: the messages kmsd's replay cache accepted (spec §9.1, RFC 3830 §5.4), written
-- in the same commit as their audit rows, so a restarted kmsd reloads the last window and a
-- message answered before the restart is still refused as a replay (evaluator checklist
-- item 18). digest = SHA-256 of the authenticated message (public); sent_ns = its MIKEY
-- timestamp. Not part of the hash chain: a pruned working set, not a record. Rows are
-- appended in time order (rowid) and pruned by age.
CREATE TABLE replay_log (
  sent_ns  INTEGER NOT NULL,
  digest   BLOB    NOT NULL CHECK (length(digest) = 32)
) STRICT;
CREATE INDEX replay_log_by_sent ON replay_log (sent_ns);
