// kmsctl audit verify|export (issue 9 item 4). verify: exit 0 only when the hash chain and
// its sealed checkpoints hold (policy/audit_verify.h) and, if given, reach the anchors
// --expect-seq/--expect-checkpoint[-hash] (kmsd logs them as event=audit_checkpoint); exit 3
// and the first bad row otherwise. export: the rows
// matching --since/--until/--user/--action, as JSON or text, stored bytes escaped.
#include <algorithm>
#include <array>
#include <ctime>
#include <iostream>
#include <optional>

#include "policy/audit_verify.h"
#include "src/base/encoding.h"
#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

int Verify(const Globals& g, const kms::policy::AuditVerifyOptions& options,
           kms::hsm::TokenStack& stack, kms::policy::PolicyAdmin& admin) {
  auto report = kms::policy::VerifyAudit(admin.db(), *stack.vault, options);
  if (!report.ok()) {
    return Fail(report.status());
  }
  if (g.json) {
    std::cout << DumpJson(nlohmann::json{
                     {"intact", report->intact()},
                     {"problem", std::string(kms::policy::AuditProblemName(report->problem))},
                     {"first_bad_row", report->first_bad_row},
                     {"bad_checkpoint", report->bad_checkpoint},
                     {"detail", report->detail},
                     {"rows", report->rows},
                     {"checkpoints", report->checkpoints},
                     {"archives", report->archives},
                     {"archived_rows", report->archived_rows},
                     {"unsealed_rows", report->unsealed_rows}})
              << "\n";
  } else if (report->intact()) {
    const auto count = [](int64_t n, const char* one, const char* many) {
      return std::to_string(n) + " " + (n == 1 ? one : many);
    };
    std::cout << "audit trail intact: " << count(report->rows, "row", "rows") << ", "
              << count(report->checkpoints, "checkpoint", "checkpoints") << ", "
              << count(report->unsealed_rows, "row", "rows") << " not yet sealed by a checkpoint";
    if (report->archives > 0) {
      std::cout << "; rows 1.." << report->archived_rows << " in "
                << count(report->archives, "archive", "archives")
                << " (check the files with audit verify-archive)";
    }
    std::cout << "\n";
  } else {
    std::cout << "audit trail BROKEN: " << kms::policy::AuditProblemName(report->problem)
              << " at row " << report->first_bad_row << ": " << report->detail << "\n";
  }
  return report->intact() ? kExitOk : kExitAuditBroken;
}

// ParseRowHash: 64 hex digits (either case), the hash= of kmsd's event=audit_checkpoint.
kms::Result<std::array<uint8_t, 32>> ParseRowHash(const std::string& hex) {
  auto bytes = kms::HexDecode(hex);
  std::array<uint8_t, 32> out{};
  if (!bytes.ok() || bytes->size() != out.size()) {
    return kms::InvalidArgumentError(
        "--expect-checkpoint-hash takes 64 hex digits (the hash= of an event=audit_checkpoint "
        "line)");
  }
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

struct ExportOpts {
  std::string since, until, user, action;
};

std::string Rfc3339(int64_t time_ns) {
  const std::time_t t = static_cast<std::time_t>(time_ns / 1000000000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int Export(const Globals& g, const ExportOpts& o) {
  kms::policy::AuditFilter f;
  if (!o.since.empty()) {
    auto t = ParseTime(o.since);
    if (!t.ok()) return Fail(t.status());
    f.since_ns = *t;
  }
  if (!o.until.empty()) {
    auto t = ParseTime(o.until);
    if (!t.ok()) return Fail(t.status());
    f.until_ns = *t;
  }
  if (f.since_ns && f.until_ns && *f.since_ns >= *f.until_ns) {
    return Fail(kms::InvalidArgumentError("--since must be before --until"));
  }
  if (!o.action.empty()) {
    f.action = o.action;
  }
  return ReadAdmin(g, [&](kms::policy::PolicyAdmin& a) -> kms::Status {
    if (!o.user.empty()) {
      // A user name matches the rows about that user: admin rows name the user, ticket rows
      // its identities. Anything else (e.g. "admin:alice", a foreign identity) is literal.
      f.subjects.push_back(o.user);
      if (auto u = a.GetUser(o.user); u.ok()) {
        f.subjects.push_back(u->user.private_identity);
        f.subjects.insert(f.subjects.end(), u->user.public_identities.begin(),
                          u->user.public_identities.end());
      }
    }
    auto rows = a.ExportAudit(f);
    if (!rows.ok()) {
      return rows.status();
    }
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : *rows) {
      // actor, initiator, responder, credential_id, detail... hold bytes as clients sent
      // them (IDRi, IDRpsk): escaped in text (one line per row, one field per tab), kept
      // exactly but safely in JSON (PutText).
      struct Field {
        const char* name;
        const std::string& value;
        bool in_text;  // the text export keeps its historical nine columns
      };
      const Field fields[] = {{"actor", r.actor, true},
                              {"action", r.action, true},
                              {"initiator", r.initiator, true},
                              {"responder", r.responder, true},
                              {"credential_id", r.credential_id, false},
                              {"ticket_id", r.ticket_id, false},
                              {"outcome", r.outcome, true},
                              {"rule", r.rule, true},
                              {"correlation_id", r.correlation_id, false},
                              {"detail", r.detail, true}};
      if (!g.json) {
        std::cout << r.seq << "\t" << Rfc3339(r.time_ns);
        for (const Field& field : fields) {
          if (field.in_text) std::cout << "\t" << EscapeText(field.value);
        }
        std::cout << "\n";
        continue;
      }
      nlohmann::json obj{{"seq", r.seq},
                         {"time", Rfc3339(r.time_ns)},
                         {"time_ns", r.time_ns},
                         {"policy_version", r.policy_version},
                         {"hash", kms::HexEncode(r.hash)}};
      for (const Field& field : fields) {
        PutText(obj, field.name, field.value);
      }
      arr.push_back(std::move(obj));
    }
    if (g.json) {
      PrintJson(arr);
    }
    return kms::Status::Ok();
  });
}

}  // namespace

void AddAuditCommands(CLI::App& app, Context& ctx) {
  auto* audit = app.add_subcommand("audit", "audit trail")->require_subcommand(1);
  auto vo = std::make_shared<kms::policy::AuditVerifyOptions>();
  auto* verify = audit->add_subcommand("verify", "verify the hash chain and sealed checkpoints");
  // A chain cannot prove where it ends (docs/security-target.md): these anchor it to values
  // the operator recorded elsewhere (rows and checkpoints of an earlier --json verify).
  verify->add_option("--expect-seq", vo->min_rows,
                     "fail (exit 3) unless the trail still holds this row number")
      ->check(CLI::PositiveNumber);
  auto* expect_checkpoint =
      verify
          ->add_option("--expect-checkpoint", vo->min_checkpoints,
                       "fail (exit 3) unless checkpoint number N is still there")
          ->check(CLI::PositiveNumber);
  // The numbers alone do not pin what the rows say (audit_verify.h): with the hash the
  // checkpoint must also seal exactly the row recorded.
  auto hash_hex = std::make_shared<std::string>();
  verify
      ->add_option("--expect-checkpoint-hash", *hash_hex,
                   "fail (exit 3) unless that checkpoint seals a row with this hash (64 hex "
                   "digits, hash= of kmsd's event=audit_checkpoint line)")
      ->check(CLI::Validator(
          [](const std::string& v) {
            auto h = ParseRowHash(v);
            return h.ok() ? std::string() : std::string(h.status().message());
          },
          "HASH"))
      ->needs(expect_checkpoint);
  verify->add_option("--max-rows-per-checkpoint", vo->max_rows_per_checkpoint,
                     "fail (exit 3) if more rows than this lie between two checkpoints or "
                     "after the last one")
      ->check(CLI::PositiveNumber);
  verify->callback([&ctx, vo, hash_hex] {
    if (!hash_hex->empty()) {
      vo->checkpoint_row_hash = *ParseRowHash(*hash_hex);  // the validator accepted it
    }
    ctx.action = [&ctx, vo] {
      return WithTokenAndAdmin(
          ctx.g, [&](auto& t, auto& a) { return Verify(ctx.g, *vo, t, a); },
          kms::policy::AdminAccess::kReadOnly);
    };
  });
  auto o = std::make_shared<ExportOpts>();
  auto* exp = audit->add_subcommand("export", "audit rows, filtered (use --json for JSON)");
  exp->add_option("--since", o->since, "from this time on (unix s or YYYY-MM-DDTHH:MM:SSZ)");
  exp->add_option("--until", o->until, "before this time");
  exp->add_option("--user", o->user, "rows about this user (name) or identity");
  exp->add_option("--action", o->action, "e.g. user.add, policy.set, ticket.request");
  exp->callback([&ctx, o] { ctx.action = [&ctx, o] { return Export(ctx.g, *o); }; });
  AddAuditArchiveCommands(*audit, ctx);
}

}  // namespace kmsctl
