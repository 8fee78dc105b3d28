// mikey_roundtrip_fuzzer: every input that decodes must re-encode to exactly the same bytes
// (BoringSSL der_roundtrip idea), with the same layout. The codec has no non-canonical
// encodings: every bit the decoder accepts is kept in the model (reserved fields included).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "src/mikey/decoder.h"
#include "src/mikey/encoder.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> wire(data, size);
  auto m = kms::mikey::Decode(wire);
  if (!m.ok()) {
    return 0;
  }
  auto enc = kms::mikey::EncodeWithLayout(*m);
  if (!enc.ok() || enc->wire.size() != size ||
      !std::equal(enc->wire.begin(), enc->wire.end(), wire.begin())) {
    std::abort();
  }
  if (enc->layout.v_mac != m->layout.v_mac || enc->layout.hdr != m->layout.hdr ||
      enc->layout.payloads.size() != m->layout.payloads.size()) {
    std::abort();
  }
  for (size_t i = 0; i < enc->layout.payloads.size(); ++i) {
    if (enc->layout.payloads[i].range != m->layout.payloads[i].range) {
      std::abort();
    }
  }
  return 0;
}
