#include "hsm/p11_module.h"

#include <dlfcn.h>

#include <cstring>

#include "hsm/ck_rv.h"

namespace kms::hsm {

Result<std::unique_ptr<P11Module>> P11Module::Open(const std::string& path,
                                                    ModuleOptions options) {
  if (path.empty() || path.front() != '/') {
    return InvalidArgumentError("PKCS#11 module path must be absolute");
  }
  int flags = RTLD_NOW | RTLD_LOCAL;
  if (options.no_delete) {
    flags |= RTLD_NODELETE;
  }
  void* handle = ::dlopen(path.c_str(), flags);
  if (handle == nullptr) {
    return UnavailableError("PKCS#11 module " + path + " cannot be loaded");
  }
  // POSIX: a function pointer is obtained from dlsym's void*; there is no other way.
  void* sym = ::dlsym(handle, "C_GetFunctionList");
  if (sym == nullptr) {
    ::dlclose(handle);
    return UnavailableError("PKCS#11 module " + path + " has no C_GetFunctionList");
  }
  CK_C_GetFunctionList get_list = nullptr;
  static_assert(sizeof(get_list) == sizeof(sym));
  std::memcpy(&get_list, &sym, sizeof(sym));
  CK_FUNCTION_LIST_PTR list = nullptr;
  CK_RV rv = get_list(&list);
  if (rv != CKR_OK || list == nullptr) {
    ::dlclose(handle);
    return FromCkRv(rv == CKR_OK ? CKR_GENERAL_ERROR : rv, "C_GetFunctionList");
  }
  std::unique_ptr<P11Module> module(new P11Module(path, handle, *list));
  KMS_RETURN_IF_ERROR(module->Initialize());
  return module;
}

P11Module::P11Module(std::string path, void* handle, const CK_FUNCTION_LIST& functions)
    : path_(std::move(path)), dl_handle_(handle), functions_(functions) {}

Status P11Module::Initialize() {
  CK_C_INITIALIZE_ARGS args{};
  // PKCS#11 v2.40 §5.4: with CKF_OS_LOCKING_OK and no callbacks, the module uses native
  // OS locking, so several threads may call it on distinct sessions.
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = functions_.C_Initialize(&args);
  if (rv != CKR_OK) {
    return FromCkRv(rv, "C_Initialize").WithContext(path_);
  }
  initialized_ = true;
  return Status::Ok();
}

Status P11Module::Reinitialize() {
  std::lock_guard<std::mutex> lock(init_mu_);
  if (initialized_) {
    // The result does not matter: the module is re-initialised right after.
    functions_.C_Finalize(nullptr);
    initialized_ = false;
  }
  return Initialize();
}

P11Module::~P11Module() {
  if (initialized_) {
    functions_.C_Finalize(nullptr);
  }
  if (dl_handle_ != nullptr) {
    ::dlclose(dl_handle_);
  }
}

}  // namespace kms::hsm
