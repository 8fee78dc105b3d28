#include "src/cli/kms_bench/messages.h"

#include <memory>

#include "src/base/clock.h"
#include "src/crypto/random.h"

namespace kms::bench {

Result<RequestBatch> BuildRequests(const std::vector<client::Credentials>& users, size_t count,
                                   size_t first, const std::string& kms_identity) {
  if (users.size() < 2) {
    return InvalidArgumentError("at least 2 users are needed (initiator and responder)");
  }
  crypto::OpenSslRandom rng;
  SystemClock clock;
  const client::Env env{rng, clock};
  RequestBatch b;
  b.wires.reserve(count);
  b.pending.reserve(count);
  for (size_t k = 0; k < count; ++k) {
    const size_t a = (first + k) % users.size();
    const size_t r = (first + k + 1) % users.size();
    client::TicketRequestOptions o;
    o.kms_identity = kms_identity;
    o.responders = {users[r].identity};
    KMS_ASSIGN_OR_RETURN(client::PendingRequest p, client::BuildRequestInit(users[a], o, env));
    b.wires.push_back(p.wire);
    b.pending.push_back(std::move(p));
    b.initiator.push_back(a);
    b.responder.push_back(r);
  }
  return b;
}

Result<ResolveBatch> BuildResolves(const std::vector<client::Credentials>& users,
                                   const RequestBatch& batch, const std::vector<Wire>& responses,
                                   const std::string& kms_identity) {
  crypto::OpenSslRandom rng;
  SystemClock clock;
  const client::Env env{rng, clock};
  ResolveBatch out;
  for (size_t k = 0; k < batch.wires.size() && k < responses.size(); ++k) {
    const client::Credentials& a = users[batch.initiator[k]];
    const client::Credentials& r = users[batch.responder[k]];
    auto ticket = client::ProcessRequestResp(responses[k], batch.pending[k], a, clock.Now());
    if (!ticket.ok()) {
      ++out.bad_request_responses;
      continue;
    }
    auto shared = std::make_shared<const client::InitiatorTicket>(std::move(ticket).value());
    client::TransferInitOptions to;
    to.responder = r.identity;
    KMS_ASSIGN_OR_RETURN(client::PendingTransfer pt,
                         client::BuildTransferInit(shared, a.identity, to, env));
    client::ResponderPolicy rp;
    rp.identities = {r.identity};
    KMS_ASSIGN_OR_RETURN(client::ReceivedTransferInit rti,
                         client::ReceiveTransferInit(pt.wire, rp, clock.Now()));
    KMS_ASSIGN_OR_RETURN(client::PendingResolve pr,
                         client::BuildResolveInit(rti, r, kms_identity, client::Suite{}, env));
    out.wires.push_back(pr.wire);
    out.pending.push_back(std::move(pr));
    out.responder.push_back(batch.responder[k]);
  }
  return out;
}

size_t CountBadResolveResponses(const std::vector<client::Credentials>& users,
                                const ResolveBatch& batch, const std::vector<Wire>& responses) {
  size_t bad = 0;
  for (size_t k = 0; k < batch.wires.size(); ++k) {
    if (k >= responses.size() ||
        !client::ProcessResolveResp(responses[k], batch.pending[k], users[batch.responder[k]])
             .ok()) {
      ++bad;
    }
  }
  return bad;
}

}  // namespace kms::bench
