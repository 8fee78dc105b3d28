-- 0001_policy: users, identities, credentials, groups, policies, KMS peers, key versions.
-- Applied once by policy/migrations.cc inside a transaction; PRAGMA user_version tracks it.

CREATE TABLE users (
  user_id           INTEGER PRIMARY KEY,
  name              TEXT    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 256),
  private_identity  TEXT    NOT NULL UNIQUE CHECK (length(private_identity) BETWEEN 1 AND 512),
  enabled           INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at        INTEGER NOT NULL
) STRICT;

-- Public identities (IMPUs): several per user, each owned by exactly one user.
CREATE TABLE user_identities (
  identity  TEXT    PRIMARY KEY CHECK (length(identity) <= 512 AND
                                       (identity GLOB 'sip:?*' OR identity GLOB 'sips:?*' OR
                                        identity GLOB 'tel:?*')),
  user_id   INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX user_identities_by_user ON user_identities (user_id);

-- Long-term key versions held in the token (the KMS never stores their bytes).
CREATE TABLE key_versions (
  kind          TEXT    NOT NULL CHECK (kind IN ('tpk', 'kek', 'audit')),
  version       INTEGER NOT NULL CHECK (version > 0),
  state         TEXT    NOT NULL CHECK (state IN ('active', 'retired', 'destroyed')),
  created_at    INTEGER NOT NULL,
  retired_at    INTEGER,
  destroyed_at  INTEGER,
  PRIMARY KEY (kind, version)
) STRICT;

-- Credentials: a UE PSK (e.g. Ks_NAF under a B-TID) or a mode-3 initiator ticket key, stored
-- wrapped under the KEK version kek_version (0 = token-object mode, blob = object label).
CREATE TABLE credentials (
  credential_id  TEXT    PRIMARY KEY CHECK (length(credential_id) BETWEEN 1 AND 512),
  user_id        INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
  kind           TEXT    NOT NULL CHECK (kind IN ('ue_psk', 'mode3_ticket_key')),
  wrapped_key    BLOB    NOT NULL CHECK (length(wrapped_key) BETWEEN 1 AND 1024),
  kek_version    INTEGER NOT NULL CHECK (kek_version >= 0),
  not_before     INTEGER,
  not_after      INTEGER,
  state          TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked')),
  created_at     INTEGER NOT NULL,
  CHECK (not_before IS NULL OR not_after IS NULL OR not_before <= not_after)
) STRICT;
CREATE INDEX credentials_by_user ON credentials (user_id);

-- Groups (RFC 6043 §9): a group identity and its member identities (members may belong to
-- other KMS domains, so they are not foreign keys to user_identities).
CREATE TABLE user_groups (
  group_id     INTEGER PRIMARY KEY,
  identity     TEXT    NOT NULL UNIQUE CHECK (length(identity) BETWEEN 1 AND 512),
  description  TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE TABLE group_members (
  group_id         INTEGER NOT NULL REFERENCES user_groups (group_id) ON DELETE CASCADE,
  member_identity  TEXT    NOT NULL CHECK (length(member_identity) BETWEEN 1 AND 512),
  PRIMARY KEY (group_id, member_identity)
) STRICT;
CREATE INDEX group_members_by_identity ON group_members (member_identity);

-- Policies: one row per user (user_id set) plus at most one system default (user_id NULL).
-- In a user row NULL means "inherit the system default"; the default row has no NULLs.
CREATE TABLE policies (
  policy_id            INTEGER PRIMARY KEY,
  user_id              INTEGER UNIQUE REFERENCES users (user_id) ON DELETE CASCADE,
  may_request          INTEGER CHECK (may_request IN (0, 1)),
  max_validity_s       INTEGER CHECK (max_validity_s BETWEEN 0 AND 4294967295),
  reuse_allowed        INTEGER CHECK (reuse_allowed IN (0, 1)),
  max_reuse_window_s   INTEGER CHECK (max_reuse_window_s BETWEEN 0 AND 4294967295),
  forking_required     INTEGER CHECK (forking_required IN (0, 1)),
  mode3_allowed        INTEGER CHECK (mode3_allowed IN (0, 1)),
  allowed_suites       INTEGER CHECK (allowed_suites BETWEEN 0 AND 3),
  rate_limit_per_min   INTEGER CHECK (rate_limit_per_min BETWEEN 0 AND 4294967295),
  -- 1: this row's responder/app lists replace the default's; 0: inherit them.
  own_responders       INTEGER NOT NULL DEFAULT 0 CHECK (own_responders IN (0, 1)),
  own_apps             INTEGER NOT NULL DEFAULT 0 CHECK (own_apps IN (0, 1)),
  updated_at           INTEGER NOT NULL,
  CHECK (user_id IS NOT NULL OR
         (may_request IS NOT NULL AND max_validity_s IS NOT NULL AND reuse_allowed IS NOT NULL
          AND max_reuse_window_s IS NOT NULL AND forking_required IS NOT NULL AND
          mode3_allowed IS NOT NULL AND allowed_suites IS NOT NULL AND
          rate_limit_per_min IS NOT NULL))
) STRICT;
CREATE UNIQUE INDEX policies_one_default ON policies ((user_id IS NULL)) WHERE user_id IS NULL;

CREATE TABLE policy_responders (
  policy_id  INTEGER NOT NULL REFERENCES policies (policy_id) ON DELETE CASCADE,
  kind       TEXT    NOT NULL CHECK (kind IN ('exact', 'domain', 'group')),
  pattern    TEXT    NOT NULL CHECK (length(pattern) BETWEEN 1 AND 512),
  PRIMARY KEY (policy_id, kind, pattern)
) STRICT;

CREATE TABLE policy_apps (
  policy_id  INTEGER NOT NULL REFERENCES policies (policy_id) ON DELETE CASCADE,
  app        TEXT    NOT NULL CHECK (length(app) BETWEEN 1 AND 256),
  PRIMARY KEY (policy_id, app)
) STRICT;

-- KMS peers for inter-KMS resolution (RFC 6043 §10) over mutually authenticated TLS.
CREATE TABLE kms_peers (
  domain        TEXT    PRIMARY KEY CHECK (length(domain) BETWEEN 1 AND 253),
  url           TEXT    NOT NULL CHECK (url GLOB 'https://?*'),
  tls_identity  TEXT    NOT NULL CHECK (length(tls_identity) BETWEEN 1 AND 512),
  allowed       INTEGER NOT NULL CHECK (allowed IN (0, 1)),
  updated_at    INTEGER NOT NULL
) STRICT;

-- Change counter: bumped in the same transaction as every admin change. Readers copy it
-- into each decision's audit row ("which policy version decided this").
CREATE TABLE policy_meta (
  singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
  policy_version  INTEGER NOT NULL
) STRICT;
INSERT INTO policy_meta (singleton, policy_version) VALUES (1, 0);
