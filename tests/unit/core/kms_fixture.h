// A KMS core wired to fakes, with the users of the shared vectors (alice, bob) and carol.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "src/base/encoding.h"
#include "src/core/memory_replay_cache.h"
#include "src/core/ticket_service.h"
#include "src/mikey/decoder.h"
#include "tests/testing/vector_file.h"
#include "tests/unit/core/fakes.h"
#include "tests/unit/core/ue_sim.h"

namespace kms::core::testing {

inline UnixTime Ntp(uint64_t ntp) { return FromNtp64(ntp); }

class KmsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto vf = kms::testing::VectorFile::Load(kms::testing::VectorPath("mikey-ticket-mode1-fork.txt"));
    ASSERT_TRUE(vf.ok()) << vf.status().ToString();
    vectors_ = std::make_unique<kms::testing::VectorFile>(std::move(vf).value());
    alice_ = {"sip:alice@example.org", Str(V(2, "B-TID(A)")), V(2, "PSK_A")};
    bob_ = {"sip:bob@example.org", Str(V(2, "B-TID(B)")), V(2, "PSK_B")};
    carol_ = {"sip:carol@example.org", "Y2Fyb2w=@bsf.example.org", std::vector<uint8_t>(32, 0xc5)};
    alice_id_ = policy_.AddUser("alice", {alice_.identity, "tel:+15550100"});
    bob_id_ = policy_.AddUser("bob", {bob_.identity});
    carol_id_ = policy_.AddUser("carol", {carol_.identity});
    for (auto [user, ue] : {std::pair{alice_id_, &alice_}, {bob_id_, &bob_}, {carol_id_, &carol_}}) {
      policy_.AddCredential(user, ue->btid);
      vault_.SetCredential(ue->btid, vault_.AddKey(ue->psk));
    }
    tpk1_ = vault_.AddKey(V(2, "TPK"));
    vault_.SetTicketKey(1, tpk1_, true);
    policy_.SetKeyState(1, ports::KeyState::kActive);
    vault_.set_random(&random_);
    options_.kms_identity = "https://kms.example.org";
    service_ = std::make_unique<TicketService>(
        ServicePorts{vault_, policy_, audit_, replay_, clock_, random_}, options_);
  }

  std::vector<uint8_t> V(int section, const char* name) {
    auto b = vectors_->Bytes(section, name);
    EXPECT_TRUE(b.ok()) << name;
    return b.ok() ? *b : std::vector<uint8_t>{};
  }
  static std::string Str(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

  Result<Reply> Send(const std::vector<uint8_t>& body) {
    return service_->Handle(body, RequestContext{"127.0.0.1", "corr-1"});
  }
  // ExpectError: the reply is a MIKEY Error message with this error number.
  void ExpectError(const Result<Reply>& r, mikey::ErrorNo no) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->is_error);
    auto m = mikey::Decode(r->body);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->hdr.data_type, mikey::DataType::kError);
    ASSERT_EQ(m->Errors().size(), 1u);
    EXPECT_EQ(m->Errors()[0]->error_no, no);
    EXPECT_EQ(m->FindV(), nullptr);  // refusals are never authenticated
  }
  std::string LastRule() {
    auto recs = audit_.records();
    return recs.empty() ? "" : recs.back().rule;
  }

  std::unique_ptr<kms::testing::VectorFile> vectors_;
  FakeKeyVault vault_;
  FakePolicyStore policy_;
  FakeAuditSink audit_;
  MemoryReplayCache replay_{ReplayCacheOptions{}};
  ScriptedClock clock_;
  ScriptedRandom random_;
  KmsOptions options_;
  std::unique_ptr<TicketService> service_;
  UeIdentity alice_, bob_, carol_;
  int64_t alice_id_ = 0, bob_id_ = 0, carol_id_ = 0;
  ports::KeyRef tpk1_{};
};

}  // namespace kms::core::testing
