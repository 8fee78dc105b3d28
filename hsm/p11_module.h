// P11Module: owns one dlopen'ed PKCS#11 module, its C_Initialize(CKF_OS_LOCKING_OK) and
// C_Finalize (style.md "PKCS#11 RAII"). One per process, built by the composition root and
// passed by reference; not a singleton. No fork after Open() (PKCS#11 v2.40 §6.7.1).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "hsm/pkcs11.h"
#include "src/base/result.h"

namespace kms::hsm {

// kSanitizerBuild: built with ThreadSanitizer or AddressSanitizer (GCC and Clang spell it
// differently).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif
#else
inline constexpr bool kSanitizerBuild = false;
#endif

struct ModuleOptions {
  // RTLD_NODELETE keeps the module mapped after dlclose so sanitizer reports resolve its
  // symbols (pkcs11-provider does the same in test builds). On by default in sanitizer
  // builds: ThreadSanitizer aborts a process (exit 66) that unloads a library named in a
  // called_from_lib suppression (tests/sanitizers/tsan.supp names SoftHSM2), which every
  // kmsctl command did at exit. Release builds unload the module as before.
  bool no_delete = kSanitizerBuild;
};

class P11Module {
 public:
  // Open: dlopen(path), C_GetFunctionList, C_Initialize with CKF_OS_LOCKING_OK and no
  // mutex callbacks (the module uses OS locking). kUnavailable if the module is missing or
  // refuses to initialise; the message names the path, never anything secret.
  static Result<std::unique_ptr<P11Module>> Open(const std::string& path,
                                                  ModuleOptions options = {});

  // ~P11Module: C_Finalize then dlclose. Every Session/Token built on it must be gone.
  ~P11Module();
  P11Module(const P11Module&) = delete;
  P11Module& operator=(const P11Module&) = delete;

  // fn: the function table used for every call. It is a copy of the module's table, so
  // tests can interpose on single entries (see mutable_functions_for_testing()).
  const CK_FUNCTION_LIST* fn() const { return &functions_; }

  // Reinitialize: C_Finalize + C_Initialize, the portable way to get a fresh view of
  // slots and tokens after a token was lost. Every session and object handle obtained
  // before is invalid afterwards; only Token calls it, with all its sessions quiesced.
  Status Reinitialize();

  const std::string& path() const { return path_; }

  // Test seam: the copied table, e.g. to count C_Login calls. Never used in production.
  CK_FUNCTION_LIST* mutable_functions_for_testing() { return &functions_; }

 private:
  P11Module(std::string path, void* handle, const CK_FUNCTION_LIST& functions);
  Status Initialize();

  std::string path_;
  void* dl_handle_ = nullptr;
  CK_FUNCTION_LIST functions_{};
  std::mutex init_mu_;
  bool initialized_ = false;
};

}  // namespace kms::hsm
