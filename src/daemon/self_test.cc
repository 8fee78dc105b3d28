#include "src/daemon/self_test.h"

#include <unistd.h>

#include <utility>

#include "hsm/token_profile.h"
#include "hsm/token_self_test.h"
#include "src/base/clock.h"
#include "src/crypto/self_test.h"
#include "src/daemon/integrity.h"
#include "src/daemon/log.h"
#include "src/daemon/self_test_hook.h"

namespace kms::daemon {
namespace {

// Corrupt: the test hook's effect on a known answer: one bit of the expected value flipped,
// so the failure goes through the real comparison (and, for the token tests, after the
// real token calls), not through a shortcut that reports a failure without testing.
crypto::KnownAnswer Corrupt(crypto::KnownAnswer kat, std::string_view inject) {
  if (!inject.empty() && kat.name == inject && !kat.expected.empty()) {
    kat.expected[0] ^= 0x01;
  }
  return kat;
}

Status RunTokenKat(hsm::Token& token, const crypto::KnownAnswer& kat) {
  Result<std::vector<uint8_t>> got = [&]() -> Result<std::vector<uint8_t>> {
    switch (kat.algorithm) {
      case crypto::KatAlgorithm::kHmacSha1:
        return hsm::TokenHmacWithTestKey(token, crypto::HmacAlg::kSha1, kat.key, kat.input);
      case crypto::KatAlgorithm::kHmacSha256:
        return hsm::TokenHmacWithTestKey(token, crypto::HmacAlg::kSha256, kat.key, kat.input);
      case crypto::KatAlgorithm::kAesKwpUnwrap:
        return hsm::TokenKwpUnwrapWithTestKek(token, kat.key, kat.input);
      default:
        return InvalidArgumentError("not a token algorithm");
    }
  }();
  if (!got.ok()) {
    // A token that cannot compute the answer is as unusable as one computing a wrong one.
    return InternalError("self-test " + std::string(kat.name) + ": " + got.status().message());
  }
  return crypto::CheckKnownAnswer(kat, *got);
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    out += (out.empty() ? "" : ",") + n;
  }
  return out;
}

}  // namespace

SelfTestOutcome RunSelfTests(const std::vector<SelfTest>& tests) {
  SelfTestOutcome outcome;
  for (const SelfTest& t : tests) {
    Status s = t.run ? t.run() : InternalError("self-test " + t.name + ": nothing to run");
    if (!s.ok()) {
      outcome.status = std::move(s);
      outcome.failed_test = t.name;
      return outcome;
    }
    outcome.passed.push_back(t.name);
  }
  return outcome;
}

std::vector<SelfTest> StartupSelfTests(hsm::Token& token, ports::KeyVault& vault,
                                       const StartupSelfTestOptions& options) {
  std::vector<SelfTest> tests;
  // Integrity first: the other tests are only meaningful for the code that was shipped.
  // Without a digest file (and without require_integrity_digest) there is nothing to check
  // against: the test is left out of the list, so the audited list says it did not run.
  Result<std::string> digest_path = OwnDigestPath();
  const bool have_digest = digest_path.ok() && access(digest_path->c_str(), F_OK) == 0;
  if (!digest_path.ok() || have_digest || options.integrity_required) {
    tests.push_back({"integrity", [options, digest_path]() -> Status {
                       KMS_RETURN_IF_ERROR(digest_path.status());
                       IntegrityOptions io;
                       io.required = options.integrity_required;
                       io.corrupt_for_test = options.inject == "integrity";
                       return VerifyFileDigest(kOwnExecutable, *digest_path, io).status;
                     }});
  } else {
    Log("warning", "self_test_skipped",
        {{"test", "integrity"}, {"reason", "no digest file " + *digest_path}});
  }
  for (crypto::KnownAnswer& kat : crypto::SoftwareKnownAnswers()) {
    std::string name(kat.name);
    tests.push_back({std::move(name), [kat = Corrupt(std::move(kat), options.inject)] {
                       return crypto::RunSoftwareKat(kat);
                     }});
  }
  // Before the token's known answers: a token that lacks a mechanism or a key attribute
  // is named as such (hsm/token_profile.h), not as a failed computation.
  // The hook asks in addition for a mechanism no token lists: the real check fails.
  tests.push_back(
      {"token_profile", [&token, kwp = options.with_kwp, hook = options.inject == "token_profile"] {
         hsm::ProfileNeeds needs;
         needs.kwp_wrap = kwp;  // the wrapped timing decoy (timing_decoy.h)
         needs.kwp_unwrap = kwp;
         needs.gcm = false;  // backups are kmsctl's
         needs.unlisted_mechanism_for_test = hook;
         Status s = hsm::CheckTokenProfile(token, needs);
         if (s.ok()) return s;
         return InternalError("self-test token_profile: " + s.message());
       }});
  for (crypto::KnownAnswer& kat : crypto::TokenKnownAnswers(options.with_kwp)) {
    std::string name(kat.name);
    tests.push_back({std::move(name), [&token, kat = Corrupt(std::move(kat), options.inject)] {
                       return RunTokenKat(token, kat);
                     }});
  }
  // The RNG health check draws through the KeyVault port: C_GenerateRandom, exactly the
  // path of every per-message key kmsd draws. The hook makes the generator look stuck.
  const bool stuck = options.inject == "rng";
  tests.push_back({"rng", [&vault, stuck] {
                     std::vector<uint8_t> first;
                     return crypto::RngHealthCheck([&](std::span<uint8_t> out) -> Status {
                       KMS_RETURN_IF_ERROR(vault.Random(out));
                       if (stuck) {
                         if (first.empty()) {
                           first.assign(out.begin(), out.end());
                         } else {
                           std::copy(first.begin(), first.end(), out.begin());
                         }
                       }
                       return Status::Ok();
                     });
                   }});
  return tests;
}

ports::AuditRecord SelfTestAuditRecord(const SelfTestOutcome& outcome, UnixTime now) {
  ports::AuditRecord r;
  r.time = now;
  r.actor = "kmsd";
  r.action = "self_test";
  if (outcome.failed_test.empty()) {
    r.outcome = ports::AuditOutcome::kOk;
    r.rule = "self_test.passed";
    r.detail = "passed=" + Join(outcome.passed);
  } else {
    r.outcome = ports::AuditOutcome::kError;
    r.rule = "self_test.failed";
    r.initiator = outcome.failed_test;
    // Status messages of the self-tests name the test and the vector's source; none carries
    // key bytes (src/crypto/self_test.h).
    r.detail = outcome.status.message();
  }
  return r;
}

Status RunStartupSelfTestsAndAudit(const std::vector<SelfTest>& tests, ports::AuditSink& audit,
                                   UnixTime now) {
  const SelfTestOutcome outcome = RunSelfTests(tests);
  if (outcome.failed_test.empty()) {
    Log("info", "self_test_passed", {{"tests", Join(outcome.passed)}});
  } else {
    Log("error", "self_test_failed",
        {{"test", outcome.failed_test}, {"reason", outcome.status.message()}});
  }
  // Durable before kmsd goes on (or exits): Append returns once the row is committed.
  Result<int64_t> row = audit.Append(SelfTestAuditRecord(outcome, now));
  if (!row.ok()) {
    Log("error", "self_test_audit_failed", {{"reason", row.status().message()}});
    // Fail closed (architecture.md §5): a pass that cannot be recorded is not a pass.
    return outcome.failed_test.empty() ? row.status() : outcome.status;
  }
  return outcome.status;
}

Status RunKmsdSelfTests(const Config& cfg, hsm::Token& token, ports::KeyVault& vault,
                        ports::AuditSink& audit) {
  StartupSelfTestOptions o;
  o.with_kwp = cfg.token.credential_storage != "token-objects";
  o.integrity_required = cfg.process.require_integrity_digest;
  o.inject = InjectedSelfTestFailure();
  if (!o.inject.empty()) {
    Log("warning", "self_test_hook", {{"fail", o.inject}});
  }
  return RunStartupSelfTestsAndAudit(StartupSelfTests(token, vault, o), audit, SystemClock().Now());
}

}  // namespace kms::daemon
