-- 0004_key_usage: how many tickets kmsd sealed under each TPK version, so that its automatic
-- rotation after [keys] tpk_max_tickets (evaluator checklist item 30) survives restarts.
-- kmsd adds its count once a second; a crash loses at most that second's count.
CREATE TABLE key_usage (
  kind     TEXT    NOT NULL CHECK (kind IN ('tpk', 'kek', 'audit')),
  version  INTEGER NOT NULL CHECK (version > 0),
  sealed   INTEGER NOT NULL CHECK (sealed >= 0),
  PRIMARY KEY (kind, version)
) STRICT;
