// kms-client call: ticket reuse (--reuse-ticket) and CSB update (--csb-update) after the
// first call of a run (call_run.h).
#include <thread>

#include "src/base/encoding.h"
#include "src/cli/kms_client/call_run.h"
#include "src/client/csb_update.h"
#include "src/client/ticket_cache.h"

namespace kms::cli {

Status CallRun::SecondCall(std::shared_ptr<const client::InitiatorTicket> ticket) {
  // RFC 6043 §5.3 (spec §7.6): a J=1 ticket may serve further Ticket Transfers within its
  // validity, each with a new CSB ID, T and RANDRi; A does not ask the KMS again.
  client::TicketCache cache(clock_);
  if (!cache.Put(ticket)) {
    return Err(kExitRefused, "call (ticket reuse)",
               PermissionDeniedError("the ticket may not be reused (J=0 granted) or is expired"));
  }
  rep_.Step("A", "ticket cached for reuse (J=1)");
  if (o_.reuse_after_s > 0) {
    rep_.Step("A", "waiting " + std::to_string(o_.reuse_after_s) + " s before the second call");
    std::this_thread::sleep_for(std::chrono::seconds(o_.reuse_after_s));
  }
  std::shared_ptr<const client::InitiatorTicket> cached =
      cache.Find(target_, std::chrono::seconds(o_.min_remaining_s));
  if (cached == nullptr) {
    if (!o_.reuse_expired) {
      return Err(kExitRefused, "call (ticket reuse)",
                 FailedPreconditionError("the ticket cache no longer hands out the ticket "
                                         "(validity over or under --min-remaining)"));
    }
    rep_.Step("A",
              "the ticket cache no longer hands out the ticket; --reuse-expired: "
              "offering it anyway, the KMS must refuse to resolve it");
    cached = ticket;
  } else {
    rep_.Step("A", "call 2 reuses the cached ticket: no REQUEST_INIT to the KMS");
  }
  const int req0 = kms_.requests(), res0 = kms_.resolves();
  auto second = Transfer(cached, 2);
  if (!second.ok()) return second.status();
  return CheckCall(*second, 2, true, kms_.requests() - req0, kms_.resolves() - res0);
}

Status CallRun::CsbUpdate(CallOutcome& c) {
  // RFC 6043 §5.2 (spec §2.8): A re-keys each established pair with a TRANSFER_INIT that
  // keeps the CSB ID, carries a new TGK in a KEMAC and no TICKET or RANDs, protected with
  // the keys of the pair's TRANSFER_RESP. The KMS takes no part.
  const int req0 = kms_.requests(), res0 = kms_.resolves();
  nlohmann::json pairs = nlohmann::json::array();
  Status verdict = Status::Ok();
  auto fail = [&](const std::string& why) {
    if (verdict.ok())
      verdict = Err(kExitRefused, "call (CSB update)", FailedPreconditionError(why));
  };
  for (DeviceResult& d : c.devices) {
    if (!d.a_keys) continue;
    std::vector<mikey::KeyData> fresh(1);
    fresh[0].type = mikey::KeyDataType::kTgk;
    fresh[0].kv_type = mikey::KvType::kSpi;
    auto key = crypto::RandomSecret(rng_, 16);
    auto spi = client::RandomU32(rng_);
    if (!key.ok() || !spi.ok()) {
      return Err(kExitRefused, "call (CSB update)", key.ok() ? spi.status() : key.status());
    }
    fresh[0].key = std::move(*key);
    const uint32_t v = *spi;
    fresh[0].spi = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                    static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    auto upd = client::BuildCsbUpdateInit(d.a_keys->csb, std::move(fresh), env_);
    if (!upd.ok()) return Err(ExitFor(upd.status()), "call (CSB update)", upd.status());
    rep_.Step("A", "CSB update to " + d.label + ": TRANSFER_INIT (" +
                       std::to_string(upd->wire.size()) +
                       " bytes) with a new TGK, same CSB ID, no TICKET, no RANDs");
    nlohmann::json j{{"device", d.label}};
    if (o_.csb_tamper) {
      // V is the last payload, so the last byte is MAC (RFC 3830 §6.9).
      std::vector<uint8_t> bad = upd->wire;
      bad.back() ^= 0x01;
      auto r = client::AnswerCsbUpdate(bad, d.keys.csb, env_);
      const bool rejected = !r.ok() && r.status().code() == StatusCode::kAuthFailed;
      j["tampered_rejected"] = rejected;
      j["tampered_error"] = r.ok() ? "accepted" : r.status().message();
      rep_.Step(d.label,
                rejected ? "rejected a copy with one MAC bit flipped (" + r.status().message() + ")"
                         : "did NOT reject a copy with a flipped MAC bit");
      if (!rejected) fail(d.label + " accepted a CSB update with a tampered MAC");
    }
    auto ans = client::AnswerCsbUpdate(upd->wire, d.keys.csb, env_);
    if (!ans.ok())
      return Err(ExitFor(ans.status()), "call (CSB update at " + d.label + ")", ans.status());
    auto a_new = client::ProcessCsbUpdateResp(ans->wire, *upd, d.a_keys->csb);
    if (!a_new.ok())
      return Err(ExitFor(a_new.status()), "call (CSB update answer)", a_new.status());
    const bool match = SameKeys(*a_new, ans->sessions);
    const bool rekeyed = !SameKeys(*a_new, d.a_keys->sessions);
    j["keys_match"] = match;
    j["rekeyed"] = rekeyed;
    j["fingerprints"] = Fingerprints(ans->sessions);
    j["a_fingerprints"] = Fingerprints(*a_new);
    j["old_fingerprints"] = Fingerprints(d.a_keys->sessions);
    rep_.Step(d.label, "answered the update (TRANSFER_RESP " + std::to_string(ans->wire.size()) +
                           " bytes); new SRTP keys " + (match ? "match" : "differ from") +
                           " A's and " + (rekeyed ? "differ from" : "EQUAL") + " the old ones");
    if (!match) fail(d.label + ": keys after the CSB update differ from A's");
    if (!rekeyed) fail(d.label + ": the CSB update did not change the keys");
    if (o_.media) {
      auto tx = Cs1(*a_new, "A");
      auto rx = Cs1(ans->sessions, d.label);
      auto m = tx.ok() && rx.ok() ? SendMedia(**tx, **rx, o_.packets)
                                  : Result<MediaResult>(tx.ok() ? rx.status() : tx.status());
      if (!m.ok()) return Err(kExitMedia, "call (media after CSB update)", m.status());
      j["media"] = {{"decrypted", m->decrypted}, {"auth_failures", m->auth_failures}};
      rep_.Step(d.label, "media on the new keys: " + std::to_string(m->decrypted) + "/" +
                             std::to_string(o_.packets) + " SRTP packets decrypted");
      if (m->decrypted != o_.packets && verdict.ok()) {
        verdict = Err(kExitMedia, "call (media after CSB update)",
                      FailedPreconditionError(d.label + ": unexpected SRTP results"));
      }
    }
    d.keys.sessions = std::move(ans->sessions);
    d.a_keys->sessions = std::move(*a_new);
    pairs.push_back(std::move(j));
  }
  const int kms_msgs = (kms_.requests() - req0) + (kms_.resolves() - res0);
  rep_.extra()["csb_update"] = {{"pairs", pairs}, {"kms_messages", kms_msgs}};
  if (pairs.empty()) fail("no established pair to update");
  if (kms_msgs != 0) fail("the CSB update contacted the KMS");
  return verdict;
}

}  // namespace kms::cli
