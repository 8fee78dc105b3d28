// The single include point for the PKCS#11 C API (p11-kit's header, standard CK_* names).
// Only files under hsm/ include it (architecture.md §2: hsm/ is the only place with CK_*).
#pragma once

#include <p11-kit/pkcs11.h>
