// `kms-client call`: one run of a whole call A -> B against a KMS (issue 8 items 2, 3, 5).
// The ticket comes from the KMS (mode 1) or is built by A (--mode3); the offer goes to N
// forked devices of B or to the members of a group (--group); then, optionally, SRTP media,
// a second call with the cached ticket (--reuse-ticket) and a re-keying of every
// established pair (--csb-update). call_cmd.cc holds the options and the first call,
// call_scenarios.cc the reuse and CSB-update steps.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/base/clock.h"
#include "src/cli/kms_client/call_parts.h"
#include "src/cli/kms_client/commands.h"
#include "src/crypto/random.h"

namespace kms::cli {

struct CallOpts {
  CredentialOptions a, b;
  KmsOptions kms;
  int fork = 1;
  bool media = false;
  bool json = false;
  int packets = 5;
  int validity_s = 3600;       // desired ticket validity (TRe - now)
  int min_remaining_s = 60;    // least validity A accepts in a granted or cached ticket
  bool reuse = false;          // --reuse-ticket: a second call with the cached ticket
  int reuse_after_s = 0;       // wait before the second call
  bool reuse_expired = false;  // send the cached ticket even after the cache dropped it
  std::string group;           // --group: target a group identity
  std::vector<std::string> members, outsiders;  // credential directories
  bool mode3 = false;
  std::string mode3_key_file, mode3_key_id;
  bool csb_update = false;
  bool csb_tamper = false;  // first deliver an update with a flipped MAC bit
};

// CallOutcome: one Ticket Transfer (one SDP offer) and what every party made of it.
struct CallOutcome {
  std::vector<DeviceResult> devices;
};

class CallRun {
 public:
  CallRun(const CallOpts& o, client::KmsTransport& https)
      : o_(o), rep_(o.json), kms_(https), env_{rng_, clock_} {}
  // Run: the whole scenario; the process exit code (commands.h).
  int Run();

 private:
  Status Setup();
  Result<std::shared_ptr<const client::InitiatorTicket>> ObtainTicket();
  // Transfer: offer the ticket to every party, let each answer, take the answers A takes
  // (the first with forking, every member's for a group).
  Result<CallOutcome> Transfer(std::shared_ptr<const client::InitiatorTicket> ticket, int call_no);
  // CheckCall: compares keys, runs media, writes calls[call_no - 1] of the JSON; an error
  // if any expectation of the scenario fails.
  Status CheckCall(CallOutcome& c, int call_no, bool reused, int requests, int resolves);
  // SecondCall: --reuse-ticket (call_scenarios.cc).
  Status SecondCall(std::shared_ptr<const client::InitiatorTicket> ticket);
  // CsbUpdate: --csb-update on every established pair of `c` (call_scenarios.cc).
  Status CsbUpdate(CallOutcome& c);
  // Err: remembers the exit code and the step for the failure line, returns `s`.
  Status Err(int code, std::string step, Status s);

  const CallOpts& o_;
  Report rep_;
  CountingTransport kms_;
  crypto::OpenSslRandom rng_;
  SystemClock clock_;
  client::Env env_;
  client::Credentials a_;
  std::string target_;  // IDRr of the offer: B's identity or the group
  std::vector<std::unique_ptr<Party>> parties_;
  nlohmann::json calls_ = nlohmann::json::array();
  int fail_code_ = kExitRefused;
  std::string fail_step_ = "call";
};

}  // namespace kms::cli
