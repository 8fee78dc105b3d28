#include "tests/e2e/memory/process_memory.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/testing/sanitizer_build.h"

namespace kms::testing {
namespace {

constexpr size_t kMinNeedle = 8;

struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;
  std::string name;
};

// In an ASan build (the scanner and kmsd alike) AddressSanitizer's shadow memory, terabytes
// of mostly untouched pages at x86-64's fixed shadow addresses [0x7fff8000, 0x10007fff8000),
// holds poisoning metadata, never program data; reading it through mem took longer than the
// test's timeout. It is skipped in ASan builds only.
bool InAsanShadow(const Mapping& m) {
  constexpr uint64_t kShadowBegin = 0x7fff8000ULL;
  constexpr uint64_t kShadowEnd = 0x10007fff8000ULL;
  return kAsanBuild && m.start >= kShadowBegin && m.end <= kShadowEnd;
}

// /proc/<pid>/maps: "start-end perms offset dev inode [path]" (proc(5)).
std::vector<Mapping> ReadableMappings(std::istream& maps) {
  std::vector<Mapping> out;
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode;
    std::getline(in >> std::ws, path);
    if (perms.empty() || perms[0] != 'r') continue;
    // The vsyscall page lies beyond off_t's range and [vvar] is not readable through mem.
    if (path == "[vsyscall]" || path.rfind("[vvar", 0) == 0) continue;
    Mapping m;
    const size_t dash = range.find('-');
    if (dash == std::string::npos) continue;
    m.start = std::stoull(range.substr(0, dash), nullptr, 16);
    m.end = std::stoull(range.substr(dash + 1), nullptr, 16);
    m.name = path.empty() ? "[anon]" : path;
    if (InAsanShadow(m)) continue;
    if (m.end > m.start) out.push_back(std::move(m));
  }
  return out;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

char ProcessState(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = all.rfind(')');  // the command name may contain spaces and ')'
  return paren != std::string::npos && paren + 2 < all.size() ? all[paren + 2] : '?';
}

}  // namespace

Result<MemoryScan> ScanProcessMemory(pid_t pid, std::span<const Needle> needles,
                                     size_t chunk_bytes) {
  if (chunk_bytes == 0) return InvalidArgumentError("chunk_bytes must be positive");
  size_t longest = 0;
  for (const Needle& n : needles) {
    if (n.bytes.size() < kMinNeedle) {
      return InvalidArgumentError("needle '" + n.name + "' is shorter than 8 bytes");
    }
    longest = std::max(longest, n.bytes.size());
  }
  const std::string proc = "/proc/" + std::to_string(pid);
  std::ifstream maps(proc + "/maps");
  if (!maps) return PermissionDeniedError("cannot read " + proc + "/maps");
  const std::vector<Mapping> mappings = ReadableMappings(maps);
  Fd mem(::open((proc + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
  if (mem.get() < 0) {
    return PermissionDeniedError("cannot open " + proc + "/mem: " + std::strerror(errno) +
                                 " (root or CAP_SYS_PTRACE needed for a non-dumpable process)");
  }
  MemoryScan scan;
  std::vector<uint8_t> buf(chunk_bytes + longest);
  for (const Mapping& m : mappings) {
    ++scan.mappings;
    size_t carried = 0;  // bytes at buf's start kept from the previous read (overlap)
    for (uint64_t at = m.start; at < m.end;) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(chunk_bytes, m.end - at));
      const ssize_t got = ::pread(mem.get(), buf.data() + carried, want, static_cast<off_t>(at));
      if (got <= 0) {
        scan.unreadable.push_back(m.name);
        break;
      }
      scan.bytes += static_cast<uint64_t>(got);
      const size_t len = carried + static_cast<size_t>(got);
      const uint64_t base = at - carried;  // address of buf[0]
      for (const Needle& n : needles) {
        const uint8_t* from = buf.data();
        while (from + n.bytes.size() <= buf.data() + len) {
          const void* p = ::memmem(from, static_cast<size_t>(buf.data() + len - from),
                                   n.bytes.data(), n.bytes.size());
          if (p == nullptr) break;
          const auto* hit = static_cast<const uint8_t*>(p);
          const auto off = static_cast<size_t>(hit - buf.data());
          // A match lying wholly in the carried bytes was counted with the previous read.
          if (off + n.bytes.size() > carried) {
            scan.hits.push_back(MemoryHit{n.name, m.name, base + off});
          }
          from = hit + 1;
        }
      }
      at += static_cast<uint64_t>(got);
      carried = std::min(len, longest - 1);
      std::memmove(buf.data(), buf.data() + len - carried, carried);
    }
  }
  std::fill(buf.begin(), buf.end(), uint8_t{0});
  return scan;
}

ProcessStopper::ProcessStopper(pid_t pid) : pid_(pid) {
  if (::kill(pid_, SIGSTOP) != 0) return;
  for (int i = 0; i < 200; ++i) {  // up to 2 s for every thread to stop
    if (ProcessState(pid_) == 'T') {
      stopped_ = true;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

ProcessStopper::~ProcessStopper() { ::kill(pid_, SIGCONT); }

}  // namespace kms::testing
