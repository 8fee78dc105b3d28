#include "tests/unit/client/vector_call.h"

#include "tests/unit/client/client_test_util.h"

namespace kms::client::testing {

VectorCall RunVectorCall() {
  const Credentials a = CredsA();
  const Credentials b = CredsB();
  auto req = PendingRequestFromWire(Vec(3, "REQUEST_INIT_PSK"), InitiatorRequirements{});
  KMS_CHECK(req.ok());
  auto t = ProcessRequestResp(Vec(5, "REQUEST_RESP"), *req, a, At(1));
  KMS_CHECK(t.ok());
  VectorCall out;
  out.ticket = std::make_shared<const InitiatorTicket>(std::move(t).value());
  auto pt = PendingTransferFromWire(Vec(6, "TRANSFER_INIT"), out.ticket);
  KMS_CHECK(pt.ok());
  auto rti = ReceiveTransferInit(pt->wire, ResponderPolicy{{b.identity}, std::chrono::seconds(300)},
                                 At(2));
  KMS_CHECK(rti.ok());
  auto pr = PendingResolveFromWire(Vec(7, "RESOLVE_INIT_PSK"));
  KMS_CHECK(pr.ok());
  auto resolved = ProcessResolveResp(Vec(8, "RESOLVE_RESP"), *pr, b);
  KMS_CHECK(resolved.ok());
  auto session = AuthenticateTransferInit(std::move(*rti), std::move(*resolved));
  KMS_CHECK(session.ok());
  ScriptedRandom rng;
  FakeClock clock(At(5));
  rng.Push(RandOf(Vec(9, "TRANSFER_RESP"), mikey::RandRole::kResponder));
  rng.PushU32(0xbbbb0002);
  TransferRespOptions ro;
  ro.identity = b.identity;
  auto tr = BuildTransferResp(*session, ro, Env{rng, clock});
  KMS_CHECK(tr.ok());
  KMS_CHECK(tr->wire == Vec(9, "TRANSFER_RESP"));
  auto ak = ProcessTransferResp(tr->wire, *pt, At(5));
  KMS_CHECK(ak.ok());
  out.a = std::move(ak).value();
  out.b = std::move(tr->keys);
  return out;
}

}  // namespace kms::client::testing
