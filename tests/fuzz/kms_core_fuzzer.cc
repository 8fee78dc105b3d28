// kms_core_fuzzer: arbitrary bytes into the KMS core (TicketService::Handle) wired to fakes
// holding the shared vectors' fixed keys (PSK_A, PSK_B, TPK) and users, with the clock at
// the vectors' time: message decoding, MAC verification with fixed keys, ticket opening,
// Initiator Data checks and forking all run on fuzzed input. Every input must get a reply
// that is itself a well-formed MIKEY message (a response or a MIKEY Error), never a crash
// and never an error Status (the fakes are always available), except a MIKEY Error message,
// which is never answered (spec §2.9: kInvalidArgument, HTTP 400 in kmsd).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

#include "src/base/encoding.h"
#include "src/core/memory_replay_cache.h"
#include "src/core/ticket_service.h"
#include "src/mikey/decoder.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/unit/core/fakes.h"

namespace {

using kms::core::testing::FakeAuditSink;
using kms::core::testing::FakeKeyVault;
using kms::core::testing::FakePolicyStore;
using kms::core::testing::ScriptedClock;

void Require(bool cond) {
  if (!cond) {
    std::abort();
  }
}

std::vector<uint8_t> Hex(const char* h) { return kms::HexDecode(h).value(); }

// CounterRandom: deterministic bytes, so a crashing input reproduces.
class CounterRandom final : public kms::crypto::Random {
 public:
  kms::Status Fill(std::span<uint8_t> out) override {
    for (uint8_t& b : out) {
      b = static_cast<uint8_t>(++n_);
    }
    return kms::Status::Ok();
  }

 private:
  uint32_t n_ = 0;
};

struct World {
  FakeKeyVault vault;
  FakePolicyStore policy;
  FakeAuditSink audit;
  ScriptedClock clock;
  CounterRandom random;
  World() {
    const auto psk_a = Hex("15b396f527911eaaf1f70c359c09289f6afe9910e40f52e7ad44ffe0fcd27af8");
    const auto psk_b = Hex("e99a384ec3c9047ab7d0677a8bc91f04e9b4b842e1f96d6ca7e924f186753b32");
    const std::string btid_a = "YWxpY2UtcmFuZA==@bsf.example.org";
    const std::string btid_b = "Ym9iLXJhbmQ=@bsf.example.org";
    const int64_t a = policy.AddUser("alice", {"sip:alice@example.org"});
    const int64_t b = policy.AddUser("bob", {"sip:bob@example.org"});
    policy.AddCredential(a, btid_a);
    policy.AddCredential(b, btid_b);
    vault.SetCredential(btid_a, vault.AddKey(psk_a));
    vault.SetCredential(btid_b, vault.AddKey(psk_b));
    vault.SetTicketKey(1, vault.AddKey(Hex("8fa60fc1a9fe7031cdd2b3798f7d426e")), true);
    policy.SetKeyState(1, kms::ports::KeyState::kActive);
    vault.set_random(&random);
    audit.set_keep(false);
    clock.Push(kms::FromNtp64(0xe8fe6f8300000000ULL));  // 3 s after the vectors' T
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();  // built once; never freed (fuzzer process lifetime)
  kms::core::MemoryReplayCache replay({std::chrono::seconds(300), 1024, 4});
  kms::core::KmsOptions options;
  options.kms_identity = "https://kms.example.org";
  kms::core::TicketService service({world->vault, world->policy, world->audit, replay,
                                    world->clock, world->random},
                                   options);
  auto reply = service.Handle(std::span<const uint8_t>(data, size), {"fuzz", "fuzz"});
  if (!reply.ok()) {
    // The one refusal without a MIKEY reply: a MIKEY Error message is never answered with
    // another (spec §2.9; kmsd answers HTTP 400). Anything else must be answered.
    auto in = kms::mikey::Decode(std::span<const uint8_t>(data, size));
    Require(reply.status().code() == kms::StatusCode::kInvalidArgument && in.ok() &&
            in->hdr.data_type == kms::mikey::DataType::kError);
    return 0;
  }
  Require(kms::mikey::Decode(reply->body).ok());
  return 0;
}
