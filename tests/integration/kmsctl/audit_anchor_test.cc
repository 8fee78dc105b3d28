// The audit anchors kmsd logs (event=audit_checkpoint seq= checkpoint= hash=) against the
// real kmsctl: the values the audit writer reports for each checkpoint it seals, with the
// token's audit key, are exactly what `kmsctl audit verify --expect-seq --expect-checkpoint
// --expect-checkpoint-hash` accepts; a wrong hash is refused (exit 3), a malformed one or a
// hash without its checkpoint number is bad usage (exit 2).
#include <cctype>
#include <nlohmann/json.hpp>
#include <vector>

#include "policy/audit_writer.h"
#include "src/base/encoding.h"
#include "tests/integration/kmsctl/kmsctl_fixture.h"

namespace kmsctl::testing {
namespace {

using nlohmann::json;

class AuditAnchorTest : public KmsctlTest {
 protected:
  // Verify: kmsctl --json audit verify with the anchors of one checkpoint.
  RunResult Verify(const kms::policy::SealedCheckpoint& c, const std::string& hash) {
    return Ctl({"--json", "audit", "verify", "--expect-seq", std::to_string(c.last_row),
                "--expect-checkpoint", std::to_string(c.checkpoint), "--expect-checkpoint-hash",
                hash});
  }
};

json Json(const std::string& s) {
  json j = json::parse(s, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << s;
  return j;
}

TEST_F(AuditAnchorTest, ObservedCheckpointsVerifyWithKmsctl) {
  InitWithAlice();  // kmsctl's admin rows, unsealed
  const int64_t admin_rows = Json(CtlOk({"--json", "audit", "verify"}))["rows"].get<int64_t>();
  ASSERT_GT(admin_rows, 0);
  const std::vector<kms::policy::SealedCheckpoint> seen = SealWithWriter(5, 3);
  // Sealed after the writer's third row (the admin rows with it), and at its destruction.
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].checkpoint, 1);
  EXPECT_EQ(seen[0].last_row, admin_rows + 3);
  EXPECT_EQ(seen[1].checkpoint, 2);
  EXPECT_EQ(seen[1].last_row, admin_rows + 5);
  const json all = Json(CtlOk({"--json", "audit", "verify"}));
  ASSERT_EQ(all["rows"], admin_rows + 5);
  ASSERT_EQ(all["checkpoints"], 2);
  EXPECT_EQ(all["unsealed_rows"], 0);
  for (const auto& c : seen) {
    const std::string hash = kms::HexEncode(c.row_hash);
    RunResult ok = Verify(c, hash);
    EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
    EXPECT_EQ(Json(ok.out)["problem"], "none");
    // Upper case is the same hash.
    std::string upper = hash;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    EXPECT_EQ(Verify(c, upper).code, 0);
  }
  // The logged hash is the row's own hash as audit export shows it.
  const json rows = Json(CtlOk({"--json", "audit", "export"}));
  ASSERT_EQ(rows.size(), static_cast<size_t>(admin_rows + 5));
  EXPECT_EQ(rows.back()["seq"], seen.back().last_row);
  EXPECT_EQ(rows.back()["hash"], kms::HexEncode(seen.back().row_hash));

  // A hash that is not the one sealed: exit 3, anchor_mismatch, the checkpoint named.
  std::string wrong = kms::HexEncode(seen.back().row_hash);
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  RunResult bad = Verify(seen.back(), wrong);
  EXPECT_EQ(bad.code, 3) << bad.out << bad.err;
  EXPECT_EQ(Json(bad.out)["problem"], "anchor_mismatch");
  EXPECT_EQ(Json(bad.out)["bad_checkpoint"], 2);
  RunResult text = Ctl({"audit", "verify", "--expect-checkpoint", "2", "--expect-checkpoint-hash",
                        kms::HexEncode(seen.front().row_hash)});
  EXPECT_EQ(text.code, 3);
  EXPECT_NE(text.out.find("BROKEN: anchor_mismatch"), std::string::npos) << text.out;

  // Bad usage: not 64 hex digits, or no checkpoint number to check it against.
  for (const std::string& malformed :
       {std::string("xyz"), wrong.substr(0, 63), wrong + "00", std::string()}) {
    RunResult r =
        Ctl({"audit", "verify", "--expect-checkpoint", "2", "--expect-checkpoint-hash", malformed});
    EXPECT_EQ(r.code, 2) << "'" << malformed << "': " << r.err;
  }
  RunResult lone = Ctl({"audit", "verify", "--expect-checkpoint-hash", wrong});
  EXPECT_EQ(lone.code, 2) << lone.err;
  EXPECT_NE(lone.err.find("--expect-checkpoint"), std::string::npos) << lone.err;
}

}  // namespace
}  // namespace kmsctl::testing
