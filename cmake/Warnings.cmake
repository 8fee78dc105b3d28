# Warning set (BoringSSL's list plus -Wconversion); errors unless KMS_WERROR=OFF.
set(KMS_WARNING_FLAGS
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wformat=2 -Wcast-qual -Wmissing-declarations -Wundef -Wvla
  -Wimplicit-fallthrough -Woverloaded-virtual)
if(KMS_WERROR)
  list(APPEND KMS_WARNING_FLAGS -Werror)
endif()

# kms_apply_warnings(target): the project's own code only, never third-party headers.
function(kms_apply_warnings target)
  target_compile_options(${target} PRIVATE ${KMS_WARNING_FLAGS})
endfunction()
