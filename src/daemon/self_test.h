// kmsd's start-up self-tests and their error state (evaluator-checklist.md §2 items 1-2;
// ISO/IEC 19790:2012 §7.10, the self-test clause FIPS 140-3 adopts; Common Criteria
// FPT_TST_EXT.1). The sequence (StartupSelfTests): the integrity test of the executable, the
// software known-answer tests (MIKEY PRF, AES-CM: src/crypto/self_test.h), the token
// known-answer tests (HMAC-SHA-1, HMAC-SHA-256, RFC 5649 unwrap: hsm/token_self_test.h) and
// the RNG health check. kmsd runs them after the audit writer is open and before anything
// that can issue a key or a ticket exists (the core, the decision workers, the listeners'
// HTTP servers): a failure is the error state, in which kmsd logs
// "event=self_test_failed test=<name>", writes an audit row and exits 1 without serving.
// The result is audited on success too (evaluator checklist item 20).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "hsm/token.h"
#include "src/base/ntp_time.h"
#include "src/base/status.h"
#include "src/core/ports/audit_sink.h"
#include "src/core/ports/key_vault.h"
#include "src/daemon/config.h"

namespace kms::daemon {

// SelfTest: one named test; run() is OK iff the test passed.
struct SelfTest {
  std::string name;
  std::function<Status()> run;
};

// SelfTestOutcome: what RunSelfTests saw. failed_test is empty iff every test passed.
struct SelfTestOutcome {
  Status status;
  std::string failed_test;
  std::vector<std::string> passed;
};

// RunSelfTests: runs tests in order and stops at the first failure (nothing after a failed
// test could be trusted to decide anything).
SelfTestOutcome RunSelfTests(const std::vector<SelfTest>& tests);

struct StartupSelfTestOptions {
  bool with_kwp = true;             // credential_storage "wrapped": C_UnwrapKey is used
  bool integrity_required = false;  // [process] require_integrity_digest
  // inject: a test name whose known answer is corrupted before it runs (the test hook; only
  // ever non-empty in builds with KMS_SELF_TEST_HOOKS, see self_test_hook.h).
  std::string inject;
};

// StartupSelfTests: the tests kmsd runs before it serves, in order. The token tests use a
// pool session of token; the RNG check draws through vault (the path every request's
// random values take).
std::vector<SelfTest> StartupSelfTests(hsm::Token& token, ports::KeyVault& vault,
                                       const StartupSelfTestOptions& options);

// SelfTestAuditRecord: the audit row of an outcome: actor "kmsd", action "self_test",
// outcome ok or error, rule "self_test.passed" / "self_test.failed", initiator = the failed
// test's name (the subject), detail = the tests that passed, or the failure's message.
ports::AuditRecord SelfTestAuditRecord(const SelfTestOutcome& outcome, UnixTime now);

// RunStartupSelfTestsAndAudit: runs tests, logs the outcome (one line, "self_test_passed"
// or "self_test_failed test=<name> reason=..."), then appends the audit row and waits until
// it is durable. OK only if every test passed and the row is durable; otherwise the caller
// must exit without serving (the failure is logged here; an audit write failure too).
Status RunStartupSelfTestsAndAudit(const std::vector<SelfTest>& tests, ports::AuditSink& audit,
                                   UnixTime now);

// RunKmsdSelfTests: what kmsd's main calls once the token, the policy store and the audit
// writer are open and before the core exists: StartupSelfTests with the options of cfg and
// the test hook (self_test_hook.h), then RunStartupSelfTestsAndAudit. Not OK: exit 1.
Status RunKmsdSelfTests(const Config& cfg, hsm::Token& token, ports::KeyVault& vault,
                        ports::AuditSink& audit);

}  // namespace kms::daemon
