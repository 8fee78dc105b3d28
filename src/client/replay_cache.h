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

class ReplayCache {
 public:
  explicit ReplayCache(std::chrono::seconds skew = std::chrono::seconds(300),
                       size_t max_entries = 4096)
      : skew_(skew), max_entries_(max_entries) {}

  // CheckAndInsert: kAlreadyExists (detail 1, "Invalid TS") if this MAC was seen within
  // the window; kResourceExhausted when full of live entries (fail closed); else records
  // it until message_time + skew.
  Status CheckAndInsert(std::span<const uint8_t> mac, UnixTime message_time, UnixTime now);
  size_t size() const;

 private:
  std::chrono::seconds skew_;
  size_t max_entries_;
  mutable std::mutex mu_;
  std::map<std::vector<uint8_t>, UnixTime> seen_;  // MAC -> expiry
};

}  // namespace kms::client
