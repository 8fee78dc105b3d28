#include "src/cli/kms_bench/provision.h"

#include <algorithm>
#include <chrono>
#include <iostream>

#include "hsm/key_manager.h"
#include "policy/admin.h"
#include "src/crypto/random.h"

namespace kms::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kChunk = 50000;  // users per ImportUsers transaction

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// DefaultPolicy: the quickstart's system default (appliance/lib/provision.sh) with the
// per-user rate limit off, so a load test is not refused by the policy it measures.
policy::PolicySpec DefaultPolicy() {
  policy::PolicySpec spec;
  spec.may_request = true;
  spec.max_validity_s = 3600;
  spec.reuse_allowed = false;
  spec.max_reuse_window_s = 0;
  spec.forking_required = true;
  spec.mode3_allowed = false;
  spec.allowed_suites = uint8_t{1};  // 128-bit suite
  spec.rate_limit_per_min = 0;       // unlimited
  spec.responders =
      std::vector<ports::ResponderRule>{{ports::ResponderRuleKind::kDomain, "*@example.org"}};
  return spec;
}

Status CreateKeys(hsm::TokenStack& stack, policy::PolicyAdmin& admin) {
  hsm::KeyManager km(*stack.token);
  KMS_RETURN_IF_ERROR(km.CreateTicketKey(1));
  KMS_RETURN_IF_ERROR(km.CreateKek(1));
  KMS_RETURN_IF_ERROR(km.CreateAuditKey(1));
  for (ports::KeyKind k : {ports::KeyKind::kTpk, ports::KeyKind::kKek, ports::KeyKind::kAudit}) {
    KMS_RETURN_IF_ERROR(admin.SetKeyVersion(k, 1, ports::KeyState::kActive));
  }
  return Status::Ok();
}

}  // namespace

std::string UserIdentity(size_t i) { return "sip:u" + std::to_string(i) + "@example.org"; }
std::string UserPskId(size_t i) { return "btid-" + std::to_string(i) + "@bsf.example.org"; }

nlohmann::json ToJson(const ProvisionStats& s) {
  return {{"users", s.users},
          {"keys_s", s.keys_s},
          {"credential_import_s", s.import_s},
          {"policy_rows_s", s.rows_s},
          {"total_s", s.total_s}};
}

Result<ProvisionStats> Provision(hsm::TokenStack& stack, const std::string& db_path,
                                 const ProvisionOptions& o,
                                 std::vector<client::Credentials>* out_users) {
  if (o.users == 0 || o.distinct_keys == 0) {
    return InvalidArgumentError("users and distinct keys must be at least 1");
  }
  ProvisionStats st;
  const auto t_all = Clock::now();
  KMS_ASSIGN_OR_RETURN(policy::PolicyAdmin admin, policy::PolicyAdmin::Open(db_path, "kms-bench"));
  auto t0 = Clock::now();
  KMS_RETURN_IF_ERROR(CreateKeys(stack, admin));
  KMS_RETURN_IF_ERROR(admin.SetPolicy("", DefaultPolicy()));
  st.keys_s = Since(t0);

  // Token side first: each distinct PSK is drawn here (it plays the GBA Ks_NAF both sides
  // share), imported as a transient object, wrapped under the KEK and destroyed.
  crypto::OpenSslRandom rng;
  const size_t distinct = std::min(o.distinct_keys, o.users);
  std::vector<ports::WrappedCredential> wrapped;
  wrapped.reserve(distinct);
  const size_t kept = out_users == nullptr ? 0 : std::min(o.users, o.ue_credentials);
  if (out_users != nullptr) {
    out_users->clear();
    out_users->reserve(kept);
  }
  std::vector<SecretBytes> psks;
  t0 = Clock::now();
  for (size_t i = 0; i < distinct; ++i) {
    KMS_ASSIGN_OR_RETURN(SecretBytes psk, crypto::RandomSecret(rng, 32));
    KMS_ASSIGN_OR_RETURN(ports::WrappedCredential w,
                         stack.vault->ImportCredential(UserPskId(i), psk));
    wrapped.push_back(std::move(w));
    if (i < kept) {
      psks.push_back(std::move(psk));
    }
  }
  st.import_s = Since(t0);

  // Database side: PolicyAdmin::ImportUsers (the bulk path of `kmsctl user import`): one
  // transaction per chunk with a hash-chained "user.import" audit row per user, so a chunk
  // costs one commit (one fsync) instead of two per user.
  t0 = Clock::now();
  std::vector<policy::ImportRow> chunk;
  for (size_t i = 0; i < o.users; ++i) {
    policy::ImportRow row;
    row.line = i + 1;
    row.name = "u" + std::to_string(i);
    row.private_identity = row.name + "@ims.example.org";
    row.public_identities = {UserIdentity(i)};
    ports::WrappedCredential w = wrapped[i % distinct];
    w.credential_id = UserPskId(i);
    row.credential = w;
    chunk.push_back(std::move(row));
    if (i < kept) {
      out_users->push_back(
          client::Credentials{UserIdentity(i), w.credential_id, psks[i % distinct].Clone()});
    }
    if (chunk.size() == kChunk || i + 1 == o.users) {
      KMS_ASSIGN_OR_RETURN(std::vector<policy::ImportProblem> problems,
                           admin.ImportUsers(chunk, [](size_t) {}));
      if (!problems.empty()) {
        return InternalError("user import refused line " + std::to_string(problems[0].line) + ": " +
                             problems[0].message);
      }
      chunk.clear();
      // Keeps the WAL small between chunks (a 1M-user run without explicit checkpoints
      // was observed with a WAL past 5 GB).
      KMS_RETURN_IF_ERROR(admin.db().Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
      if (o.progress) {
        std::cerr << "kms-bench: " << (i + 1) << " users provisioned (" << Since(t0) << " s)\n";
      }
    }
  }
  st.rows_s = Since(t0);
  st.users = o.users;
  st.total_s = Since(t_all);
  return st;
}

}  // namespace kms::bench
