# Release hardening (architecture: hardened appliance). Debug/sanitizer builds keep the
# flags that do not interfere with sanitizers.
include(CheckCXXCompilerFlag)

set(KMS_HARDEN_COMPILE -fstack-protector-strong -fstack-clash-protection)
check_cxx_compiler_flag(-fcf-protection=full KMS_HAS_CF_PROTECTION)
if(KMS_HAS_CF_PROTECTION)
  list(APPEND KMS_HARDEN_COMPILE -fcf-protection=full)
endif()

# _FORTIFY_SOURCE needs optimisation; level 3 from GCC 12 / Clang 14 on.
set(KMS_HARDEN_DEFS $<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=3>)
set(KMS_HARDEN_LINK -pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)

function(kms_apply_hardening target)
  target_compile_options(${target} PRIVATE ${KMS_HARDEN_COMPILE} -U_FORTIFY_SOURCE)
  target_compile_definitions(${target} PRIVATE ${KMS_HARDEN_DEFS})
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    target_link_options(${target} PRIVATE ${KMS_HARDEN_LINK})
  endif()
endfunction()

if(KMS_FUZZING)
  add_compile_definitions(KMS_FUZZING_UNSAFE=1)
endif()
