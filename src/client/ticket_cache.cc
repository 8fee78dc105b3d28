#include "src/client/ticket_cache.h"

#include <algorithm>

namespace kms::client {
namespace {

// End of validity; far future when the policy has no TRe (unbounded).
UnixTime EndOf(const InitiatorTicket& t) {
  if (const mikey::TimestampR* tre = t.ticket.policy.FindTr(mikey::TsRole::kEndOfValidity)) {
    if (auto e = TimestampInstant(mikey::Timestamp{tre->ts_type, tre->value})) {
      return *e;
    }
    return UnixTime{};
  }
  return UnixTime::max();
}

bool Started(const InitiatorTicket& t, UnixTime now) {
  if (const mikey::TimestampR* trs = t.ticket.policy.FindTr(mikey::TsRole::kStartOfValidity)) {
    auto s = TimestampInstant(mikey::Timestamp{trs->ts_type, trs->value});
    return s && *s <= now;
  }
  return true;
}

}  // namespace

bool TicketCache::Put(std::shared_ptr<const InitiatorTicket> t) {
  // RFC 6043 §6.10: J=0 means the ticket SHALL NOT be reused.
  if (!t || !t->ticket.policy.flags.j) {
    return false;
  }
  const UnixTime now = clock_.Now();
  if (EndOf(*t) <= now) {
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  DropExpiredLocked(now);
  if (max_entries_ == 0) {
    return false;
  }
  if (entries_.size() >= max_entries_) {
    auto first =
        std::min_element(entries_.begin(), entries_.end(),
                         [](const auto& a, const auto& b) { return EndOf(*a) < EndOf(*b); });
    entries_.erase(first);
  }
  entries_.push_back(std::move(t));
  return true;
}

std::shared_ptr<const InitiatorTicket> TicketCache::Find(std::string_view responder,
                                                         std::chrono::seconds min_remaining) {
  const UnixTime now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  DropExpiredLocked(now);
  for (const auto& t : entries_) {
    if (!Started(*t, now) || EndOf(*t) < now + min_remaining) {
      continue;
    }
    for (const mikey::Idr* r : t->ticket.policy.Responders()) {
      if (IdrText(*r) == responder) {
        return t;
      }
    }
  }
  return nullptr;
}

size_t TicketCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void TicketCache::DropExpiredLocked(UnixTime now) {
  std::erase_if(entries_, [now](const auto& t) { return EndOf(*t) <= now; });
}

}  // namespace kms::client
