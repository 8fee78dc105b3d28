// kmsctl user import FILE.csv (issue 9 item 6): many users, their credentials and group
// memberships in one transaction; bad rows are reported with their line numbers and nothing
// is imported then. Format (docs/operations.md "user import"):
//
//   name,impi,identities,credential_id,key,groups         <- header line, exactly this
//   alice,alice@ims.example.org,sip:alice@example.org;tel:+123,btid-1,hex:<64..128 hex>,sip:g@x
//
// identities and groups are ';'-separated; credential_id and key are both empty or both set;
// key is "hex:<raw key>" (wrapped in the token here) or "wrapped:<kek version>:<base64>" (an
// RFC 5649 blob under a KEK this token holds, checked by unwrapping it in the token). Empty
// lines and lines starting with '#' are skipped; no quoting (no field needs a comma).
//
// Raw keys: the file must be a 0600 file of the operator (hsm/secret_file.h) and is held
// in SecretBytes; each key becomes a transient session object that is wrapped under the
// active KEK and destroyed at once (hsm/credential_store.h), so no persistent token object
// is created and a failed import leaves nothing in the token either.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <string_view>

#include "hsm/key_labels.h"
#include "hsm/secret_file.h"
#include "src/base/encoding.h"
#include "src/cli/kmsctl/commands.h"
#include "src/cli/kmsctl/csv_users.h"

namespace kmsctl {
namespace {

constexpr size_t kMaxFileBytes = size_t{512} << 20;
constexpr size_t kMaxProblemsShown = 200;

// Progress: a bar on a terminal (rewritten in place), a plain line per 10% to a pipe.
class Progress {
 public:
  Progress(const char* phase, size_t total)
      : phase_(phase), total_(total), tty_(isatty(STDERR_FILENO) == 1) {}
  void Update(size_t done) {
    if (total_ == 0) return;
    const size_t pct = done * 100 / total_;
    if (tty_) {
      if (pct == last_pct_ && done != total_) return;
      const size_t filled = pct * 30 / 100;
      std::cerr << "\r" << phase_ << " [" << std::string(filled, '#')
                << std::string(30 - filled, ' ') << "] " << pct << "% (" << done << "/"
                << total_ << ")" << (done == total_ ? "\n" : "") << std::flush;
    } else if (pct / 10 != last_pct_ / 10 || done == total_) {
      std::cerr << phase_ << ": " << done << "/" << total_ << "\n";
    }
    last_pct_ = pct;
  }

 private:
  const char* phase_;
  size_t total_;
  bool tty_;
  size_t last_pct_ = 0;
};

int Report(const std::vector<kms::policy::ImportProblem>& problems) {
  size_t shown = 0;
  for (const auto& p : problems) {
    if (shown++ == kMaxProblemsShown) {
      std::cerr << "... and " << problems.size() - kMaxProblemsShown << " more\n";
      break;
    }
    std::cerr << "line " << p.line << ": " << p.message << "\n";
  }
  std::cerr << "kmsctl: nothing imported: " << problems.size() << " bad row(s)\n";
  return kExitPartial;
}

int ImportRows(const Globals& g, kms::hsm::TokenStack& stack, kms::policy::PolicyAdmin& admin,
               std::vector<CsvUser>& users, std::chrono::steady_clock::time_point start);

// TokenFailure: a token error during the token phase: nothing imported, exit 1 (exit 4 is
// for bad rows only).
int TokenFailure(size_t line, const kms::Status& s) {
  std::cerr << "kmsctl: nothing imported: token error at line " << line << ": " << s.message()
            << "\n";
  return kExitFailed;
}

int Import(const Globals& g, const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  auto file = kms::hsm::ReadSecretFile(path, kMaxFileBytes, false);
  if (!file.ok()) {
    return Fail(file.status());
  }
  std::vector<kms::policy::ImportProblem> problems;
  std::vector<CsvUser> users = ParseUsersCsv(file->Reveal(), &problems);
  if (!problems.empty()) {
    return Report(problems);
  }
  if (users.empty()) {
    return Fail(kms::InvalidArgumentError(path + ": no users"));
  }
  return WithTokenAndAdmin(g, [&](kms::hsm::TokenStack& stack, kms::policy::PolicyAdmin& admin) {
    return ImportRows(g, stack, admin, users, start);
  });
}

int ImportRows(const Globals& g, kms::hsm::TokenStack& stack, kms::policy::PolicyAdmin& admin,
               std::vector<CsvUser>& users, std::chrono::steady_clock::time_point start) {
  std::vector<kms::policy::ImportProblem> problems;
  // Token phase: wrap raw keys, check wrapped ones. A row the token refuses as bad input
  // is a bad row (exit 4, like the CSV checks); any other token error stops the whole job
  // with exit 1 (a token that fails once is not trusted for the rest of a bulk job, and the
  // fault is not the row's).
  kms::hsm::TokenKeyVault& vault = *stack.vault;
  std::vector<kms::policy::ImportRow> rows;
  rows.reserve(users.size());
  Progress wrap_progress("token", users.size());
  size_t creds = 0, memberships = 0;
  for (size_t i = 0; i < users.size(); ++i) {
    CsvUser& u = users[i];
    kms::policy::ImportRow row{u.line, u.name, u.impi, u.identities, std::nullopt,
                               kms::ports::CredentialKind::kUePsk, u.groups};
    if (u.raw_key) {
      auto w = vault.ImportCredential(u.credential_id, *u.raw_key);
      u.raw_key.reset();  // scrubbed now, not at the end of the import
      if (!w.ok()) {
        if (w.status().code() != kms::StatusCode::kInvalidArgument) {
          return TokenFailure(u.line, w.status());
        }
        problems.push_back({u.line, "key not wrapped in the token: " + w.status().message()});
        continue;
      }
      row.credential = std::move(*w);
    } else if (u.wrapped) {
      // "Wrong KEK version" and corrupted blobs: refused here, before the database.
      kms::ports::WrappedCredential w{u.credential_id, u.wrapped_kek_version, *u.wrapped};
      if (!stack.token->LongTermKey(kms::hsm::KeyKind::kKek, w.kek_version).ok()) {
        problems.push_back({u.line, "KEK version " + std::to_string(w.kek_version) +
                                        " is not in this token"});
        continue;
      }
      auto ref = vault.credentials().Open(w);
      if (!ref.ok() && ref.status().code() == kms::StatusCode::kUnavailable) {
        return TokenFailure(u.line, ref.status());  // the token, not the blob
      }
      if (!ref.ok()) {
        problems.push_back({u.line, "wrapped key does not unwrap under KEK v" +
                                        std::to_string(w.kek_version)});
        continue;
      }
      vault.credentials().Forget(*ref);  // the unwrapped session object is destroyed
      row.credential = std::move(w);
    }
    creds += row.credential ? 1U : 0U;
    memberships += row.groups.size();
    rows.push_back(std::move(row));
    wrap_progress.Update(i + 1);
  }
  if (!problems.empty()) {
    return Report(problems);
  }
  Progress db_progress("database", rows.size());
  auto result = admin.ImportUsers(rows, [&](size_t n) { db_progress.Update(n); });
  if (!result.ok()) {
    return Fail(result.status());
  }
  if (!result->empty()) {
    return Report(*result);
  }
  db_progress.Update(rows.size());
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (g.json) {
    PrintJson({{"users", rows.size()}, {"credentials", creds}, {"memberships", memberships},
               {"seconds", secs}});
  } else {
    std::cout << "imported " << rows.size() << " users, " << creds << " credentials, "
              << memberships << " group memberships in " << secs << " s\n";
  }
  return kExitOk;
}

}  // namespace

void AddUserImportCommand(CLI::App& user, Context& ctx) {
  auto path = std::make_shared<std::string>();
  auto* imp = user.add_subcommand("import", "bulk import from a CSV file (mode 0600)");
  imp->add_option("file", *path, "CSV: name,impi,identities,credential_id,key,groups")
      ->required();
  imp->callback([&ctx, path] { ctx.action = [&ctx, path] { return Import(ctx.g, *path); }; });
}

}  // namespace kmsctl
