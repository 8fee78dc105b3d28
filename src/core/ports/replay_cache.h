// ReplayCache: the port for the KMS's memory of recently accepted REQUEST_INIT and
// RESOLVE_INIT messages (RFC 3830 §5.4, RFC 6043 §4.2.1.4; spec §9.1). Only messages whose
// MAC verified are offered to it. Kept behind a port so that a multi-node deployment can
// share it (architecture.md §8); src/core has the in-memory implementation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "src/base/ntp_time.h"
#include "src/base/status.h"

namespace kms::ports {

// ReplayDigest: SHA-256 of the authenticated message (or of its MAC); never key material.
using ReplayDigest = std::array<uint8_t, 32>;

class ReplayCache {
 public:
  virtual ~ReplayCache() = default;
  // CheckAndInsert: records a message with timestamp `sent` seen at `now`.
  // Returns OK for a fresh message; kAuthFailed with detail 1 (MIKEY "invalid timestamp")
  // when `sent` lies outside the accepted window, or when the message (or, after
  // evictions, anything as old as it) was already seen.
  virtual Status CheckAndInsert(const ReplayDigest& digest, UnixTime sent, UnixTime now) = 0;
  // size: entries currently held (for /metrics).
  virtual size_t size() const = 0;
};

}  // namespace kms::ports
