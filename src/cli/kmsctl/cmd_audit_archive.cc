// kmsctl audit archive|verify-archive (policy/audit_archive.h, audit_archive_file.h;
// docs/operations.md "Archiving the audit trail").
//
// archive: verifies the trail (a broken one is never archived: exit 3), writes the rows
// sealed by the newest checkpoint made before --before to a new file, reads the file back
// and verifies it, commits the MAC'd archive record with an "audit.archive" row, and only
// then deletes the archived rows from the database (in short transactions, kmsd keeps
// serving). A run cut short at any point leaves either no record (the file, if any, is
// unreferenced and may be deleted) or a record whose rows the next run finishes deleting.
// verify-archive: checks a file against the token and the database's record (exit 3 if not).
#include <iostream>

#include "policy/audit_verify.h"
#include "src/base/encoding.h"
#include "src/cli/kmsctl/audit_archive_file.h"
#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

struct ArchiveOpts {
  std::string before, out;
};

int Archive(const Globals& g, const ArchiveOpts& o, kms::hsm::TokenStack& stack,
            kms::policy::PolicyAdmin& admin) {
  auto before = ParseTime(o.before);
  if (!before.ok()) return Fail(before.status());
  auto trail = kms::policy::VerifyAudit(admin.db(), *stack.vault);
  if (!trail.ok()) return Fail(trail.status());
  if (!trail->intact()) {
    std::cerr << "kmsctl: the audit trail does not verify ("
              << kms::policy::AuditProblemName(trail->problem) << " at row " << trail->first_bad_row
              << ": " << trail->detail << "); nothing archived, so the damage stays visible\n";
    return kExitAuditBroken;
  }
  // Rows of an earlier archive whose deletion was cut short go first.
  auto leftover = kms::policy::PurgeArchivedRows(admin.db());
  if (!leftover.ok()) return Fail(leftover.status());
  auto plan = kms::policy::PlanArchive(admin.db(), *before);
  if (!plan.ok() && plan.status().code() == kms::StatusCode::kNotFound) {
    // Not an error: a timer that runs before anything is old enough has nothing to do.
    if (*leftover > 0) std::cout << "finished deleting " << *leftover << " archived rows; ";
    std::cout << "nothing to archive: " << plan.status().message() << "\n";
    return kExitOk;
  }
  if (!plan.ok()) return Fail(plan.status());
  auto sha = WriteArchiveFile(admin.db(), *plan, o.out);
  if (!sha.ok()) return Fail(sha.status());
  auto check = VerifyArchiveFile(o.out, *stack.vault, std::nullopt);
  if (!check.ok()) return Fail(check.status());
  if (!check->intact || check->sha256 != *sha) {
    return Fail(kms::InternalError("the archive written to " + o.out + " does not verify: " +
                                   check->problem + "; nothing was recorded or deleted"));
  }
  auto record = admin.RecordAuditArchive(*stack.vault, *plan, *sha, o.out);
  if (!record.ok()) return Fail(record.status());
  auto purged = kms::policy::PurgeArchivedRows(admin.db());
  if (!purged.ok()) {
    return Fail(kms::UnavailableError("archive " + std::to_string(record->seq) +
                                      " is recorded, but deleting its rows "
                                      "stopped (" +
                                      std::string(purged.status().message()) +
                                      "); run `kmsctl audit archive` again to finish"));
  }
  const int64_t rows = plan->last_row - plan->first_row + 1;
  if (g.json) {
    PrintJson({{"archive", record->seq},
               {"first_row", plan->first_row},
               {"last_row", plan->last_row},
               {"rows", rows},
               {"checkpoint", plan->checkpoint},
               {"file", o.out},
               {"sha256", kms::HexEncode(*sha)},
               {"deleted_rows", *leftover + *purged}});
  } else {
    std::cout << "archive " << record->seq << ": rows " << plan->first_row << ".." << plan->last_row
              << " (" << rows << ", sealed by checkpoint " << plan->checkpoint << ") in " << o.out
              << ", sha256 " << kms::HexEncode(*sha) << "; " << *leftover + *purged
              << " rows deleted from the database\n";
  }
  return kExitOk;
}

int VerifyArchive(const Globals& g, const std::string& file, kms::hsm::TokenStack& stack,
                  kms::policy::PolicyAdmin& admin) {
  // The record must itself verify (its MAC and place), which VerifyAudit checks first.
  auto trail = kms::policy::VerifyAudit(admin.db(), *stack.vault);
  if (!trail.ok()) return Fail(trail.status());
  auto records = kms::policy::ReadArchives(admin.db());
  if (!records.ok()) return Fail(records.status());
  auto report = VerifyArchiveFile(file, *stack.vault, std::nullopt);
  if (!report.ok()) return Fail(report.status());
  std::optional<kms::policy::ArchiveRecord> record;
  for (const auto& r : *records) {
    if (r.first_row == report->first_row) record = r;
  }
  std::string problem = report->problem;
  if (problem.empty() && !record) {
    problem =
        "no archive record of the database starts at row " + std::to_string(report->first_row);
  } else if (problem.empty()) {
    report = VerifyArchiveFile(file, *stack.vault, record);
    if (!report.ok()) return Fail(report.status());
    problem = report->problem;
    if (problem.empty() && trail->archived_rows < record->last_row) {
      problem = "the database's archive record " + std::to_string(record->seq) +
                " does not verify (" + std::string(kms::policy::AuditProblemName(trail->problem)) +
                ": " + trail->detail + ")";
    }
  }
  if (g.json) {
    PrintJson({{"intact", problem.empty()},
               {"problem", problem},
               {"archive", record ? record->seq : 0},
               {"first_row", report->first_row},
               {"last_row", report->last_row},
               {"checkpoints", report->checkpoints},
               {"sha256", kms::HexEncode(report->sha256)}});
  } else if (problem.empty()) {
    std::cout << "archive " << record->seq << " intact: rows " << report->first_row << ".."
              << report->last_row << ", " << report->checkpoints
              << " checkpoint(s), matches the database's record\n";
  } else {
    std::cout << "archive BROKEN: " << problem << "\n";
  }
  return problem.empty() ? kExitOk : kExitAuditBroken;
}

}  // namespace

void AddAuditArchiveCommands(CLI::App& audit, Context& ctx) {
  auto o = std::make_shared<ArchiveOpts>();
  auto* archive = audit.add_subcommand(
      "archive", "move the rows sealed before a time into a file, then delete them here");
  archive
      ->add_option("--before", o->before,
                   "archive rows sealed by the newest checkpoint made before this time (unix s "
                   "or YYYY-MM-DDTHH:MM:SSZ)")
      ->required();
  archive->add_option("--out", o->out, "the archive file to create (never overwritten)")
      ->required();
  archive->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      return WithTokenAndAdmin(ctx.g, [&](auto& t, auto& a) { return Archive(ctx.g, *o, t, a); });
    };
  });
  auto file = std::make_shared<std::string>();
  auto* verify = audit.add_subcommand(
      "verify-archive", "check an archive file against the token and the database's record");
  verify->add_option("file", *file, "the archive file")->required();
  verify->callback([&ctx, file] {
    ctx.action = [&ctx, file] {
      return WithTokenAndAdmin(
          ctx.g, [&](auto& t, auto& a) { return VerifyArchive(ctx.g, *file, t, a); },
          kms::policy::AdminAccess::kReadOnly);
    };
  });
}

}  // namespace kmsctl
