// kmsctl audit verify (issue 9 item 4): exit 0 only when the hash chain and its sealed
// checkpoints hold (policy/audit_verify.h); exit 3 and the first bad row otherwise.
#include <iostream>

#include "policy/audit_verify.h"
#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

int Verify(const Globals& g) {
  auto stack = OpenToken(g);
  if (!stack.ok()) {
    return Fail(stack.status());
  }
  auto admin = OpenAdmin(g);
  if (!admin.ok()) {
    return Fail(admin.status());
  }
  auto report = kms::policy::VerifyAudit(admin->db(), *(*stack)->vault);
  if (!report.ok()) {
    return Fail(report.status());
  }
  if (g.json) {
    std::cout << nlohmann::json{
                     {"intact", report->intact()},
                     {"problem", std::string(kms::policy::AuditProblemName(report->problem))},
                     {"first_bad_row", report->first_bad_row},
                     {"rows", report->rows},
                     {"checkpoints", report->checkpoints},
                     {"unsealed_rows", report->unsealed_rows}}
                     .dump()
              << "\n";
  } else if (report->intact()) {
    std::cout << "audit trail intact: " << report->rows << " rows, " << report->checkpoints
              << " checkpoints, " << report->unsealed_rows << " rows after the last checkpoint "
              << "(unsealed)\n";
  } else {
    std::cout << "audit trail BROKEN: " << kms::policy::AuditProblemName(report->problem)
              << " at row " << report->first_bad_row << ": " << report->detail << "\n";
  }
  return report->intact() ? kExitOk : kExitAuditBroken;
}

}  // namespace

void AddAuditCommands(CLI::App& app, Context& ctx) {
  auto* audit = app.add_subcommand("audit", "audit trail")->require_subcommand(1);
  audit->add_subcommand("verify", "verify the hash chain and sealed checkpoints")
      ->callback([&ctx] { ctx.action = [&ctx] { return Verify(ctx.g); }; });
}

}  // namespace kmsctl
