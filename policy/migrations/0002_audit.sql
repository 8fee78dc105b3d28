-- 0002_audit: the append-only, hash-chained audit trail and its sealed checkpoints.
-- seq is assigned by the writer as previous seq + 1 inside a BEGIN IMMEDIATE transaction,
-- so a gap means a deleted row. hash = SHA-256 over the previous hash and a length-prefixed
-- encoding of the row (policy/audit_chain.cc). Never holds key material.

CREATE TABLE audit_log (
  seq             INTEGER PRIMARY KEY CHECK (seq > 0),
  time_ns         INTEGER NOT NULL,
  actor           TEXT    NOT NULL,
  action          TEXT    NOT NULL,
  initiator       TEXT    NOT NULL,
  responder       TEXT    NOT NULL,
  credential_id   TEXT    NOT NULL,
  ticket_id       TEXT    NOT NULL,
  outcome         TEXT    NOT NULL,
  rule            TEXT    NOT NULL,
  policy_version  INTEGER NOT NULL,
  correlation_id  TEXT    NOT NULL,
  detail          TEXT    NOT NULL,
  prev_hash       BLOB    NOT NULL CHECK (length(prev_hash) = 32),
  hash            BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Checkpoints: HMAC-SHA-256 with the token's audit key version key_version over
-- (seq, last_row, row_hash, key_version, time_ns, prev_mac); prev_mac chains checkpoints.
CREATE TABLE audit_checkpoint (
  seq          INTEGER PRIMARY KEY CHECK (seq > 0),
  last_row     INTEGER NOT NULL,
  row_hash     BLOB    NOT NULL CHECK (length(row_hash) = 32),
  key_version  INTEGER NOT NULL CHECK (key_version > 0),
  time_ns      INTEGER NOT NULL,
  prev_mac     BLOB    NOT NULL CHECK (length(prev_mac) = 32),
  mac          BLOB    NOT NULL CHECK (length(mac) = 32)
) STRICT;

CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'audit_checkpoint is append-only'); END;
CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'audit_checkpoint is append-only'); END;
