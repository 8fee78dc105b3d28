// mikey_decode_fuzzer: arbitrary bytes into the MIKEY decoder and everything a receiver then
// runs on a decoded message (Ticket Data / Initiator Data / key data chain decoders, MAC
// coverage). Must never crash, leak or read out of bounds; layouts must stay in bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "src/mikey/decoder.h"
#include "src/mikey/key_data.h"
#include "src/mikey/mac_coverage.h"
#include "src/mikey/ticket_data.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

void Require(bool cond) {
  if (!cond) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kms::mikey;  // NOLINT(google-build-using-namespace)
  const std::span<const uint8_t> wire(data, size);
  // The same bytes as a key data chain (what a decrypted KEMAC plaintext may look like).
  auto keys = DecodeKeyDataChain(wire);
  if (keys.ok()) {
    auto re = EncodeKeyDataChain(*keys);
    Require(re.ok() && re->ConstantTimeEqual(wire));
  }
  auto m = Decode(wire);
  if (!m.ok()) {
    Require(m.status().code() == kms::StatusCode::kDecodeError && m.status().detail());
    return 0;
  }
  const WireLayout& l = m->layout;
  Require(l.total_length == size && l.payloads.size() == m->payloads.size());
  for (const PayloadSpan& s : l.payloads) {
    Require(s.range.end() <= size);
  }
  const MacContext ctx{IdentityData(*m, IdRole::kInitiator), IdentityData(*m, IdRole::kResponder),
                       IdentityData(*m, IdRole::kKms), wire};
  auto input = MessageMacInput(m->hdr.data_type, wire, l, ctx);
  if (input.ok()) {
    Require(input->size() <= 3 * size + 3 * 0xffff);
  }
  (void)MessageMac(wire, l).ok();
  if (const Ticket* t = m->FindTicket()) {
    Require(TicketMacInput(wire, l).ok());  // Type 1 is the only accepted ticket type
    if (!t->initiator_data.empty()) {
      Require(VrMacInput(wire, l).ok());
    }
    auto td = DecodeBaseTicketData(t->ticket_data);
    Require(td.ok());
    (void)DecodeKeyDataChain(td->kemac.encr_data).ok();
  }
  if (const Kemac* k = m->FindKemac()) {
    (void)DecodeKeyDataChain(k->encr_data).ok();
  }
  return 0;
}
