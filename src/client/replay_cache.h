// Responder replay cache for authenticated TRANSFER_INITs (RFC 3830 §5.4; spec §9.1:
// "Responder: for TRANSFER_INIT after resolution (key it by the TRANSFER_INIT MAC)").
// Only messages whose MAC was verified may be inserted. Entries live for the clock-skew
// window around their timestamp; messages older than the window are refused anyway by
// the early checks, so the cache stays bounded by the message rate.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <vector>

#include "src/base/ntp_time.h"
#include "src/base/status.h"

namespace kms::client {

// ReplayEntry: what the cache keeps of one TRANSFER_INIT: its V MAC (sent in clear on the
// wire, no key material) and the instant the entry expires.
struct ReplayEntry {
  std::vector<uint8_t> mac;
  UnixTime expiry;
};

class ReplayCache {
 public:
  // The longest MAC an entry may hold: HMAC-SHA-256 (RFC 6043 §6.1) is 32 bytes; 64 leaves
  // room for any MAC algorithm without letting an imported entry be arbitrarily large.
  static constexpr size_t kMaxMacBytes = 64;

  explicit ReplayCache(std::chrono::seconds skew = std::chrono::seconds(300),
                       size_t max_entries = 4096)
      : skew_(skew), max_entries_(max_entries) {}

  // CheckAndInsert: kAlreadyExists (detail 1, "Invalid TS") if this MAC was seen within
  // the window; kResourceExhausted when full of live entries (fail closed); else records
  // it until message_time + skew.
  Status CheckAndInsert(std::span<const uint8_t> mac, UnixTime message_time, UnixTime now);
  // Contains: whether `mac` is recorded and not expired at `now`.
  bool Contains(std::span<const uint8_t> mac, UnixTime now) const;
  size_t size() const;

  // Export: the entries still live at `now` (expired ones are left out), for a caller that
  // keeps the cache across processes (spec §9.1: the window outlives one process).
  std::vector<ReplayEntry> Export(UnixTime now) const;
  // Import: adds `entries`, dropping those expired at `now`; an expiry later than now +
  // skew * 2 (no accepted message can have one, CheckAndInsert's message_time is within the
  // skew of `now`) is cut to that, so a stale or forged file cannot pin an entry for ever.
  // kInvalidArgument for an empty or over-long MAC (nothing is added then);
  // kResourceExhausted when the live entries do not fit. A MAC already present keeps the
  // later expiry.
  Status Import(std::span<const ReplayEntry> entries, UnixTime now);

 private:
  std::chrono::seconds skew_;
  size_t max_entries_;
  mutable std::mutex mu_;
  std::map<std::vector<uint8_t>, UnixTime> seen_;  // MAC -> expiry
};

}  // namespace kms::client
