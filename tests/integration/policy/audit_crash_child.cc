// audit_crash_child: appends audit rows through the group-commit AuditWriter from 4 threads
// as fast as it can and, after each Append that reported the row durable, prints
// "<row id> <correlation id>\n" with one write(2) (atomic on a pipe). The crash test kills it
// with SIGKILL at random moments. Usage: audit_crash_child <database>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "policy/audit_writer.h"
#include "tests/integration/policy/fake_audit_vault.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: audit_crash_child <database>\n");
    return 2;
  }
  kms::policy::testing::FakeAuditVault vault;
  kms::policy::AuditWriterOptions o;
  o.checkpoint_rows = 20;  // checkpoints get killed mid-way too
  auto w = kms::policy::AuditWriter::Open(argv[1], vault, o);
  if (!w.ok()) {
    std::fprintf(stderr, "%s\n", w.status().ToString().c_str());
    return 1;
  }
  const std::string pid = std::to_string(getpid());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (long i = 0;; ++i) {
        kms::ports::AuditRecord r;
        r.time = std::chrono::time_point_cast<std::chrono::nanoseconds>(
            std::chrono::system_clock::now());
        r.actor = "ue:sip:crash@example.org";
        r.action = "REQUEST_INIT_PSK";
        r.outcome = kms::ports::AuditOutcome::kGranted;
        r.rule = "allow";
        r.correlation_id = pid + "-" + std::to_string(t) + "-" + std::to_string(i);
        auto id = (*w)->Append(r);
        if (id.ok()) {
          const std::string line = std::to_string(*id) + " " + r.correlation_id + "\n";
          if (write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  return 0;
}
