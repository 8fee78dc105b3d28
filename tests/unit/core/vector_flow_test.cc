// The KMS reproduces the KMS side of the shared vectors byte for byte, given the same
// keys, randomness and clock (issue 6 §9): REQUEST_RESP (section 5) and RESOLVE_RESP
// (section 8).
#include "src/mikey/ticket_data.h"
#include "tests/unit/core/kms_fixture.h"

namespace kms::core::testing {
namespace {

class VectorFlowTest : public KmsFixture {};

TEST_F(VectorFlowTest, RequestAndResolveReproduceTheVectors) {
  const auto request_init = V(3, "REQUEST_INIT_PSK");
  // Clock: the request is received at its own T (ticket time of issue), the response gets
  // a fresh T 0.5 s later (RFC 6043 §4.2.1.5).
  clock_.Push(Ntp(0xe8fe6f8080000000ULL));
  clock_.Push(Ntp(0xe8fe6f8100000000ULL));
  // Token RNG draws in the KMS's fixed order: ticket RAND, MPK, TGK.
  // (The ticket RAND is read from the expected REQUEST_RESP's Ticket Data.)
  auto expected = mikey::Decode(V(5, "REQUEST_RESP"));
  ASSERT_TRUE(expected.ok());
  auto td = mikey::DecodeBaseTicketData(expected->FindTicket()->ticket_data);
  ASSERT_TRUE(td.ok());
  random_.Push(td->rand.rand);
  random_.Push(V(4, "MPK"));
  random_.Push(std::vector<uint8_t>{0xf6, 0xb7, 0xc3, 0xec, 0xf1, 0xd0, 0x5d, 0x8a, 0xc6, 0xba,
                                    0xf0, 0x00, 0x3d, 0xd9, 0xc9, 0xdb});
  const size_t calls_before = vault_.hmac_calls();
  auto resp = Send(request_init);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  ASSERT_FALSE(resp->is_error) << HexEncode(resp->body) << " rule " << LastRule();
  EXPECT_EQ(HexEncode(resp->body), HexEncode(V(5, "REQUEST_RESP")));
  // Token work of one request: MAC check 2, ticket keys 6, response keys 6 (docs).
  EXPECT_EQ(vault_.hmac_calls() - calls_before, 14u);

  const auto resolve_init = V(7, "RESOLVE_INIT_PSK");
  clock_.Push(Ntp(0xe8fe6f8300000000ULL));
  clock_.Push(Ntp(0xe8fe6f8400000000ULL));
  const auto fork_label = V(8, "fork label MPKr'");
  random_.Push(std::vector<uint8_t>(fork_label.end() - 16, fork_label.end()));  // RANDRkms
  auto resolved = Send(resolve_init);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  ASSERT_FALSE(resolved->is_error) << " rule " << LastRule();
  EXPECT_EQ(HexEncode(resolved->body), HexEncode(V(8, "RESOLVE_RESP")));

  const auto records = audit_.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].action, "REQUEST_INIT_PSK");
  EXPECT_EQ(records[0].outcome, ports::AuditOutcome::kGranted);
  EXPECT_EQ(records[0].initiator, "sip:alice@example.org");
  EXPECT_EQ(records[0].responder, "sip:bob@example.org");
  EXPECT_EQ(records[0].credential_id, alice_.btid);
  EXPECT_EQ(records[0].correlation_id, "corr-1");
  EXPECT_EQ(records[1].action, "RESOLVE_INIT_PSK");
  EXPECT_EQ(records[1].credential_id, bob_.btid);
  EXPECT_EQ(records[1].actor, "ue:sip:bob@example.org");
  // The same ticket id in both rows (a hash of the ticket, never the ticket).
  EXPECT_EQ(records[0].ticket_id.size(), 64u);
  EXPECT_EQ(records[0].ticket_id, records[1].ticket_id);
}

}  // namespace
}  // namespace kms::core::testing
