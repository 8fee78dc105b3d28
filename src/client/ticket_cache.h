// Initiator-side ticket cache for ticket reuse (RFC 6043 §5.3, spec §7.6): only tickets
// with J=1 are kept, and only handed out while valid and for a responder they name.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "src/base/clock.h"
#include "src/client/initiator.h"

namespace kms::client {

class TicketCache {
 public:
  explicit TicketCache(const Clock& clock, size_t max_entries = 64)
      : clock_(clock), max_entries_(max_entries) {}

  // Put: caches a reusable ticket; returns false (and keeps nothing) if J=0 or expired.
  // When full, the ticket expiring first is dropped.
  bool Put(std::shared_ptr<const InitiatorTicket> t);

  // Find: a cached ticket naming `responder` as IDRr, with TRs <= now and at least
  // `min_remaining` left before TRe; nullptr if none. Expired entries are dropped.
  std::shared_ptr<const InitiatorTicket> Find(
      std::string_view responder, std::chrono::seconds min_remaining = std::chrono::seconds(60));

  size_t size() const;

 private:
  void DropExpiredLocked(UnixTime now);
  const Clock& clock_;
  size_t max_entries_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const InitiatorTicket>> entries_;
};

}  // namespace kms::client
