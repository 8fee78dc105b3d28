// Scans another process's memory for byte patterns (evaluator checklist item 12: "a core
// file or /proc/<pid>/mem scan for known test PSK, MPK and TEK patterns finds nothing").
// Reads every readable mapping of /proc/<pid>/maps through /proc/<pid>/mem (ptrace access
// mode: the target must be ours and dumpable, or we need CAP_SYS_PTRACE; kmsd is not
// dumpable, PR_SET_DUMPABLE 0, so in practice this runs as root). Test code only.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "src/base/result.h"

namespace kms::testing {

// Needle: a pattern to look for. `name` says what it is ("alice PSK"); reports name the
// needle and where it was found, never its bytes.
struct Needle {
  std::string name;
  std::vector<uint8_t> bytes;  // at least 8 bytes, else a random match is likely
};

struct MemoryHit {
  std::string needle;   // Needle::name
  std::string mapping;  // the mapping's path or [heap], [stack], [anon] ...
  uint64_t address = 0;
};

struct MemoryScan {
  size_t mappings = 0;                  // readable mappings scanned
  uint64_t bytes = 0;                   // bytes read
  std::vector<std::string> unreadable;  // readable mappings whose pages could not be read
  std::vector<MemoryHit> hits;
};

// ScanProcessMemory: every occurrence of every needle in the readable mappings of `pid`
// (file-backed ones included: a key written to a file would show up there too). A needle
// split across a read boundary is still found (reads overlap by the longest needle).
// kInvalidArgument for a needle shorter than 8 bytes; kPermissionDenied when the maps or mem
// file cannot be opened (not root, or no CAP_SYS_PTRACE). `chunk_bytes`: the read size
// (tests make it small to put a needle across a read boundary).
Result<MemoryScan> ScanProcessMemory(pid_t pid, std::span<const Needle> needles,
                                     size_t chunk_bytes = size_t{1} << 20);

// ProcessStopper: SIGSTOP for a consistent snapshot while scanning, SIGCONT on scope exit
// (also when the test fails half-way).
class ProcessStopper {
 public:
  explicit ProcessStopper(pid_t pid);
  ~ProcessStopper();
  ProcessStopper(const ProcessStopper&) = delete;
  ProcessStopper& operator=(const ProcessStopper&) = delete;
  [[nodiscard]] bool stopped() const { return stopped_; }

 private:
  pid_t pid_;
  bool stopped_ = false;
};

}  // namespace kms::testing
