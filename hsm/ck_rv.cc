#include "hsm/ck_rv.h"

#include <array>
#include <cstdio>
#include <string>

namespace kms::hsm {
namespace {

struct RvEntry {
  CK_RV rv;
  const char* name;
  StatusCode code;
};

#define KMS_RV(rv, code) RvEntry{rv, #rv, StatusCode::code}

// The single mapping table. Anything not listed is kInternal.
constexpr std::array kRvTable = {
    KMS_RV(CKR_CANCEL, kInternal),
    KMS_RV(CKR_HOST_MEMORY, kResourceExhausted),
    KMS_RV(CKR_SLOT_ID_INVALID, kUnavailable),
    KMS_RV(CKR_GENERAL_ERROR, kInternal),
    KMS_RV(CKR_FUNCTION_FAILED, kInternal),
    KMS_RV(CKR_ARGUMENTS_BAD, kInvalidArgument),
    KMS_RV(CKR_CANT_LOCK, kFailedPrecondition),
    KMS_RV(CKR_ATTRIBUTE_READ_ONLY, kPermissionDenied),
    KMS_RV(CKR_ATTRIBUTE_SENSITIVE, kPermissionDenied),
    KMS_RV(CKR_ATTRIBUTE_TYPE_INVALID, kInvalidArgument),
    KMS_RV(CKR_ATTRIBUTE_VALUE_INVALID, kInvalidArgument),
    KMS_RV(CKR_ACTION_PROHIBITED, kPermissionDenied),
    KMS_RV(CKR_DATA_INVALID, kInvalidArgument),
    KMS_RV(CKR_DATA_LEN_RANGE, kInvalidArgument),
    KMS_RV(CKR_DEVICE_ERROR, kUnavailable),
    KMS_RV(CKR_DEVICE_MEMORY, kResourceExhausted),
    KMS_RV(CKR_DEVICE_REMOVED, kUnavailable),
    KMS_RV(CKR_ENCRYPTED_DATA_INVALID, kInvalidArgument),
    KMS_RV(CKR_ENCRYPTED_DATA_LEN_RANGE, kInvalidArgument),
    KMS_RV(CKR_FUNCTION_CANCELED, kInternal),
    KMS_RV(CKR_FUNCTION_NOT_PARALLEL, kInternal),
    KMS_RV(CKR_FUNCTION_NOT_SUPPORTED, kFailedPrecondition),
    KMS_RV(CKR_KEY_HANDLE_INVALID, kNotFound),
    KMS_RV(CKR_KEY_SIZE_RANGE, kInvalidArgument),
    KMS_RV(CKR_KEY_TYPE_INCONSISTENT, kInvalidArgument),
    KMS_RV(CKR_KEY_NOT_NEEDED, kInvalidArgument),
    KMS_RV(CKR_KEY_CHANGED, kFailedPrecondition),
    KMS_RV(CKR_KEY_NEEDED, kInvalidArgument),
    KMS_RV(CKR_KEY_INDIGESTIBLE, kFailedPrecondition),
    KMS_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, kPermissionDenied),
    KMS_RV(CKR_KEY_NOT_WRAPPABLE, kPermissionDenied),
    KMS_RV(CKR_KEY_UNEXTRACTABLE, kPermissionDenied),
    KMS_RV(CKR_MECHANISM_INVALID, kInvalidArgument),
    KMS_RV(CKR_MECHANISM_PARAM_INVALID, kInvalidArgument),
    KMS_RV(CKR_OBJECT_HANDLE_INVALID, kNotFound),
    KMS_RV(CKR_OPERATION_ACTIVE, kInternal),
    KMS_RV(CKR_OPERATION_NOT_INITIALIZED, kInternal),
    KMS_RV(CKR_PIN_INCORRECT, kPermissionDenied),
    KMS_RV(CKR_PIN_INVALID, kPermissionDenied),
    KMS_RV(CKR_PIN_LEN_RANGE, kPermissionDenied),
    KMS_RV(CKR_PIN_EXPIRED, kPermissionDenied),
    KMS_RV(CKR_PIN_LOCKED, kPermissionDenied),
    KMS_RV(CKR_SESSION_CLOSED, kUnavailable),
    KMS_RV(CKR_SESSION_COUNT, kResourceExhausted),
    KMS_RV(CKR_SESSION_HANDLE_INVALID, kUnavailable),
    KMS_RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED, kFailedPrecondition),
    KMS_RV(CKR_SESSION_READ_ONLY, kFailedPrecondition),
    KMS_RV(CKR_SESSION_EXISTS, kFailedPrecondition),
    KMS_RV(CKR_SESSION_READ_ONLY_EXISTS, kFailedPrecondition),
    KMS_RV(CKR_SESSION_READ_WRITE_SO_EXISTS, kFailedPrecondition),
    KMS_RV(CKR_SIGNATURE_INVALID, kAuthFailed),
    KMS_RV(CKR_SIGNATURE_LEN_RANGE, kAuthFailed),
    KMS_RV(CKR_TEMPLATE_INCOMPLETE, kInvalidArgument),
    KMS_RV(CKR_TEMPLATE_INCONSISTENT, kInvalidArgument),
    KMS_RV(CKR_TOKEN_NOT_PRESENT, kUnavailable),
    KMS_RV(CKR_TOKEN_NOT_RECOGNIZED, kUnavailable),
    KMS_RV(CKR_TOKEN_WRITE_PROTECTED, kFailedPrecondition),
    KMS_RV(CKR_UNWRAPPING_KEY_HANDLE_INVALID, kNotFound),
    KMS_RV(CKR_UNWRAPPING_KEY_SIZE_RANGE, kInvalidArgument),
    KMS_RV(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, kInvalidArgument),
    KMS_RV(CKR_USER_ALREADY_LOGGED_IN, kFailedPrecondition),
    KMS_RV(CKR_USER_NOT_LOGGED_IN, kUnavailable),
    KMS_RV(CKR_USER_PIN_NOT_INITIALIZED, kFailedPrecondition),
    KMS_RV(CKR_USER_TYPE_INVALID, kInvalidArgument),
    KMS_RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, kFailedPrecondition),
    KMS_RV(CKR_USER_TOO_MANY_TYPES, kFailedPrecondition),
    KMS_RV(CKR_WRAPPED_KEY_INVALID, kInvalidArgument),
    KMS_RV(CKR_WRAPPED_KEY_LEN_RANGE, kInvalidArgument),
    KMS_RV(CKR_WRAPPING_KEY_HANDLE_INVALID, kNotFound),
    KMS_RV(CKR_WRAPPING_KEY_SIZE_RANGE, kInvalidArgument),
    KMS_RV(CKR_WRAPPING_KEY_TYPE_INCONSISTENT, kInvalidArgument),
    KMS_RV(CKR_RANDOM_SEED_NOT_SUPPORTED, kFailedPrecondition),
    KMS_RV(CKR_RANDOM_NO_RNG, kUnavailable),
    KMS_RV(CKR_DOMAIN_PARAMS_INVALID, kInvalidArgument),
    KMS_RV(CKR_BUFFER_TOO_SMALL, kInternal),
    KMS_RV(CKR_SAVED_STATE_INVALID, kInvalidArgument),
    KMS_RV(CKR_INFORMATION_SENSITIVE, kPermissionDenied),
    KMS_RV(CKR_STATE_UNSAVEABLE, kFailedPrecondition),
    KMS_RV(CKR_CRYPTOKI_NOT_INITIALIZED, kUnavailable),
    KMS_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED, kFailedPrecondition),
    KMS_RV(CKR_MUTEX_BAD, kInternal),
    KMS_RV(CKR_MUTEX_NOT_LOCKED, kInternal),
};

#undef KMS_RV

const RvEntry* Lookup(CK_RV rv) {
  for (const RvEntry& e : kRvTable) {
    if (e.rv == rv) {
      return &e;
    }
  }
  return nullptr;
}

}  // namespace

std::string CkRvName(CK_RV rv) {
  if (rv == CKR_OK) {
    return "CKR_OK";
  }
  if (const RvEntry* e = Lookup(rv)) {
    return e->name;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "CKR_0x%lX", rv);
  return buf;
}

Status FromCkRv(CK_RV rv, std::string_view function) {
  if (rv == CKR_OK) {
    return Status::Ok();
  }
  const RvEntry* e = Lookup(rv);
  StatusCode code = e != nullptr ? e->code : StatusCode::kInternal;
  std::string message(function);
  message += ": ";
  message += CkRvName(rv);
  return Status(code, std::move(message));
}

Status TokenSide(Status s) {
  if (s.ok() || s.code() == StatusCode::kUnavailable) {
    return s;
  }
  return Status(StatusCode::kUnavailable, s.message());
}

bool IsPinRefusal(CK_RV rv) {
  return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ||
         rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE;
}

bool IsSessionBroken(CK_RV rv) {
  switch (rv) {
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_DEVICE_ERROR:
    case CKR_OPERATION_ACTIVE:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
    case CKR_USER_NOT_LOGGED_IN:
      return true;
    default:
      return false;
  }
}

bool IsTokenLost(CK_RV rv) {
  switch (rv) {
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_DEVICE_ERROR:
    case CKR_SLOT_ID_INVALID:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_TOKEN_NOT_RECOGNIZED:
      return true;
    default:
      return false;
  }
}

}  // namespace kms::hsm
