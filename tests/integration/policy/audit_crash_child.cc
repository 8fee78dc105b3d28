// audit_crash_child: appends audit rows through the group-commit AuditWriter as fast as it
// can and prints each row id once Append has reported it durable. The crash test kills it
// with SIGKILL at random moments. Usage: audit_crash_child <database>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "policy/audit_writer.h"
#include "tests/unit/core/fakes.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: audit_crash_child <database>\n");
    return 2;
  }
  kms::core::testing::FakeKeyVault vault;
  vault.SetAuditKey(1, vault.AddKey(std::vector<uint8_t>(32, 0xa1)));
  kms::policy::AuditWriterOptions o;
  o.checkpoint_rows = 50;
  auto w = kms::policy::AuditWriter::Open(argv[1], vault, o);
  if (!w.ok()) {
    std::fprintf(stderr, "%s\n", w.status().ToString().c_str());
    return 1;
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (;;) {
        kms::ports::AuditRecord r;
        r.action = "REQUEST_INIT_PSK";
        r.outcome = kms::ports::AuditOutcome::kGranted;
        auto id = (*w)->Append(r);
        if (id.ok()) {
          // One write() per line: the parent reads whole lines.
          const std::string line = std::to_string(*id) + "\n";
          (void)!write(1, line.data(), line.size());
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  return 0;
}
