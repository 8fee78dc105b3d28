-- 0005_audit_archive: audit rows moved out of the database into archive files by
-- `kmsctl audit archive` (policy/audit_archive.h, docs/operations.md "Archiving the audit
-- trail"). An archive covers rows first_row..last_row; last_row is a row a checkpoint
-- (number `checkpoint`) sealed, last_hash its chain hash, file_sha256 the SHA-256 of the
-- archive file. mac = HMAC-SHA-256 with the token's audit key version key_version over the
-- record (policy/audit_chain.h ArchiveMacInput), chained by prev_mac like the checkpoints:
-- without the token nobody can make a deletion look like an archive.
CREATE TABLE audit_archive (
  seq          INTEGER PRIMARY KEY CHECK (seq > 0),
  first_row    INTEGER NOT NULL CHECK (first_row > 0),
  last_row     INTEGER NOT NULL CHECK (last_row >= first_row),
  last_hash    BLOB    NOT NULL CHECK (length(last_hash) = 32),
  checkpoint   INTEGER NOT NULL CHECK (checkpoint > 0),
  file_sha256  BLOB    NOT NULL CHECK (length(file_sha256) = 32),
  key_version  INTEGER NOT NULL CHECK (key_version > 0),
  time_ns      INTEGER NOT NULL,
  prev_mac     BLOB    NOT NULL CHECK (length(prev_mac) = 32),
  mac          BLOB    NOT NULL CHECK (length(mac) = 32)
) STRICT;

CREATE TRIGGER audit_archive_no_update BEFORE UPDATE ON audit_archive
BEGIN SELECT RAISE(ABORT, 'audit_archive is append-only'); END;
CREATE TRIGGER audit_archive_no_delete BEFORE DELETE ON audit_archive
BEGIN SELECT RAISE(ABORT, 'audit_archive is append-only'); END;

-- Rows up to the newest archive's last row may now be deleted (purged after archiving);
-- every other row stays append-only. The verifier checks the archive records' MACs, so a
-- record inserted without the token does not make a deletion pass.
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.seq > (SELECT coalesce(max(last_row), 0) FROM audit_archive)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
