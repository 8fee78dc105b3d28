// Evaluator checklist item 12: after a request completes, a /proc/<pid>/mem scan of kmsd
// for the test's known PSKs and for the MPK and TEK-generating keys (TGK) it handed out
// finds nothing. Run by memory_scan_e2e.sh, which provisions a SoftHSM2 token, a policy
// database and users alice and bob (PSKs known to the test, imported with kmsctl), starts
// kmsd and passes its pid. The UE side is the product's client library over real HTTPS.
//
// What is looked for, at three points (after the Ticket Request completes, after the Ticket
// Resolve completes, after a request with a wrong MAC was refused), with kmsd stopped
// (SIGSTOP) for the scan:
//  - the users' PSKs (imported wrapped; kmsd only ever holds an unwrapped token handle),
//  - MPKi, MPKr, MPKr' and every TGK / TGK' (generated or forked by kmsd, sent encrypted),
//  - the message keys kmsd derived from the PSKs for REQUEST_INIT/RESP and
//    RESOLVE_INIT/RESP (HMAC outputs of the token: encr, salt and auth keys, spec §5.2).
// A positive control (kmsd's own identity string) shows the scan does read kmsd's memory,
// and the ScannerTest cases show a planted pattern is found. Finally the files kmsd writes
// (database, WAL, log) are searched for the same keys and the token PINs, raw and as hex
// (checklist item 20: audit records hold no key material or PIN).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "src/base/clock.h"
#include "src/base/encoding.h"
#include "src/client/https_transport.h"
#include "src/client/initiator.h"
#include "src/client/responder.h"
#include "src/crypto/key_derivation.h"
#include "src/crypto/openssl_key_ops.h"
#include "src/crypto/random.h"
#include "tests/e2e/memory/process_memory.h"

namespace kms::testing {
namespace {

// Pattern: deterministic bytes from a seed (the child builds it after fork, so the parent's
// copy is not inherited by the child).
std::vector<uint8_t> Pattern(uint32_t seed, size_t n) {
  std::vector<uint8_t> out(n);
  uint32_t x = seed * 2654435761u + 12345u;
  for (uint8_t& b : out) {
    x = x * 1103515245u + 12345u;
    b = static_cast<uint8_t>(x >> 24);
  }
  return out;
}

size_t CountHits(const MemoryScan& s, const std::string& needle) {
  size_t n = 0;
  for (const MemoryHit& h : s.hits) n += h.needle == needle ? 1u : 0u;
  return n;
}

// The scanner itself: a child maps two pages and writes pattern 1 across the page boundary
// and pattern 2 inside the first page; pattern 3 is never written. With 4 KiB reads,
// pattern 1 spans two reads.
TEST(ScannerTest, FindsPlantedPatternsOnceEachAndNothingElse) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    auto* page = static_cast<uint8_t*>(
        ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (page == MAP_FAILED) ::_exit(2);
    const std::vector<uint8_t> one = Pattern(1, 24);
    const std::vector<uint8_t> two = Pattern(2, 24);
    for (size_t i = 0; i < one.size(); ++i) page[4096 - 5 + i] = one[i];
    for (size_t i = 0; i < two.size(); ++i) page[100 + i] = two[i];
    // Scrub the vectors' own heap copies so each pattern exists exactly once.
    std::fill(const_cast<uint8_t*>(one.data()), const_cast<uint8_t*>(one.data()) + 24, 0);
    std::fill(const_cast<uint8_t*>(two.data()), const_cast<uint8_t*>(two.data()) + 24, 0);
    const char c = 'r';
    if (::write(ready[1], &c, 1) != 1) ::_exit(3);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  const std::vector<Needle> needles{
      {"one", Pattern(1, 24)}, {"two", Pattern(2, 24)}, {"three", Pattern(3, 24)}};
  auto scan = ScanProcessMemory(child, needles, 4096);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(scan.ok()) << scan.status().ToString();
  EXPECT_GT(scan->bytes, 8192u);
  EXPECT_EQ(CountHits(*scan, "one"), 1u);
  EXPECT_EQ(CountHits(*scan, "two"), 1u);
  EXPECT_EQ(CountHits(*scan, "three"), 0u);
}

TEST(ScannerTest, RefusesShortNeedles) {
  const std::vector<Needle> needles{{"short", {1, 2, 3}}};
  EXPECT_EQ(ScanProcessMemory(::getpid(), needles).status().code(), StatusCode::kInvalidArgument);
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

client::Credentials LoadUser(const std::string& dir) {
  client::Credentials c;
  c.identity = ReadText(dir + "/identity");
  c.psk_id = ReadText(dir + "/btid");
  auto psk = HexDecodeSecret(ReadText(dir + "/psk"));
  if (psk.ok()) c.psk = std::move(psk).value();
  return c;
}

std::vector<uint8_t> Copy(const SecretBytes& s) { return {s.Reveal().begin(), s.Reveal().end()}; }

// The 0x01 (initial) and 0x02 (response) message keys a PSK gives for one exchange: what
// kmsd derives through the token to check the V payload and to seal the reply (spec §5.2,
// RFC 6043 §5.1.2; MIKEY-1 PRF, AES-CM-128, HMAC-SHA-1-160: the suite of these users).
void AddMessageKeys(const std::string& who, const SecretBytes& psk, uint32_t csb_id,
                    std::span<const uint8_t> rand_ri, std::span<const uint8_t> rand_rr,
                    std::vector<Needle>* out) {
  auto inkey = crypto::SoftwareInKey::Create(psk);
  ASSERT_TRUE(inkey.ok());
  for (const auto role : {crypto::MessageRole::kInitial, crypto::MessageRole::kResponse}) {
    const crypto::MessageLabelInput in{csb_id, role, rand_ri, rand_rr};
    auto keys = crypto::DeriveMessageKeys(crypto::PrfFunc::kMikey1, inkey->blocks(), in,
                                          crypto::EncrAlgorithm::kAesCm128,
                                          crypto::MacAlgorithm::kHmacSha1_160);
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    const std::string r = role == crypto::MessageRole::kInitial ? " initial" : " response";
    out->push_back({who + r + " encr_key", Copy(keys->encr_key)});
    out->push_back({who + r + " salt_key", Copy(keys->salt_key)});
    out->push_back({who + r + " auth_key", Copy(keys->auth_key)});
  }
}

void AddSessionKeys(const std::string& who, const std::vector<mikey::KeyData>& keys,
                    std::vector<Needle>* out) {
  for (size_t i = 0; i < keys.size(); ++i) {
    out->push_back({who + " session key " + std::to_string(i), Copy(keys[i].key)});
    if (keys[i].salt) out->push_back({who + " salt " + std::to_string(i), Copy(*keys[i].salt)});
  }
}

// ExpectNoKeyIn: scans kmsd (stopped) for the needles and for the positive control.
void ExpectNoKeyIn(pid_t kmsd, const std::string& kms_identity, std::vector<Needle> needles,
                   const std::string& when) {
  SCOPED_TRACE(when);
  needles.push_back({"control: kmsd's identity", {kms_identity.begin(), kms_identity.end()}});
  ProcessStopper stop(kmsd);
  ASSERT_TRUE(stop.stopped()) << "kmsd (pid " << kmsd << ") did not stop";
  auto scan = ScanProcessMemory(kmsd, needles);
  ASSERT_TRUE(scan.ok()) << scan.status().ToString();
  std::cout << "[ scan     ] " << when << ": " << scan->mappings << " mappings, " << scan->bytes
            << " bytes, " << needles.size() - 1 << " key patterns, " << scan->unreadable.size()
            << " unreadable mappings\n";
  EXPECT_GE(CountHits(*scan, needles.back().name), 1u)
      << "the positive control was not found: the scan did not read kmsd's memory";
  for (const MemoryHit& h : scan->hits) {
    if (h.needle == needles.back().name) continue;
    ADD_FAILURE() << h.needle << " found in kmsd at 0x" << std::hex << h.address << " ("
                  << h.mapping << ")";
  }
}

std::string HexOf(std::span<const uint8_t> b, bool upper) {
  std::string h = HexEncode(b);
  if (upper) {
    for (char& c : h) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return h;
}

// ExpectNotInFiles: none of the needles, as raw bytes or as lower- or upper-case hex, occurs
// in the files kmsd writes (the policy and audit database with its WAL, kmsd's log).
void ExpectNotInFiles(const std::vector<std::string>& paths, const std::vector<Needle>& needles) {
  size_t read = 0;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) continue;  // a WAL may have been folded away
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ++read;
    for (const Needle& n : needles) {
      const std::string forms[] = {std::string(n.bytes.begin(), n.bytes.end()),
                                   HexOf(n.bytes, false), HexOf(n.bytes, true)};
      for (const std::string& f : forms) {
        const size_t at = data.find(f);
        EXPECT_EQ(at, std::string::npos) << n.name << " found in " << path << " at " << at;
      }
    }
  }
  EXPECT_GE(read, 2u) << "the database and the log must have been read";
  std::cout << "[ files    ] " << read << " files, " << needles.size() << " patterns\n";
}

TEST(KmsdMemoryScan, NoKeyOfARequestOrResolveStaysInKmsd) {
  const std::string pid_text = Env("KMSD_PID"), url = Env("KMS_URL"), kms_id = Env("KMS_ID"),
                    ca = Env("KMS_CA"), users = Env("KMS_USERS");
  ASSERT_FALSE(pid_text.empty() || url.empty() || kms_id.empty() || users.empty())
      << "run through tests/e2e/memory_scan_e2e.sh (KMSD_PID, KMS_URL, KMS_ID, KMS_CA, "
         "KMS_USERS)";
  const pid_t kmsd = static_cast<pid_t>(std::stol(pid_text));
  const client::Credentials alice = LoadUser(users + "/alice");
  const client::Credentials bob = LoadUser(users + "/bob");
  ASSERT_EQ(alice.psk.size(), 32u);
  ASSERT_EQ(bob.psk.size(), 32u);
  client::HttpsOptions ho;
  ho.url = url;
  ho.ca_file = ca;
  auto transport = client::HttpsTransport::Create(ho);
  ASSERT_TRUE(transport.ok()) << transport.status().ToString();
  crypto::OpenSslRandom rng;
  SystemClock clock;
  const client::Env env{rng, clock};

  // Ticket Request (alice -> KMS).
  client::TicketRequestOptions ro;
  ro.kms_identity = kms_id;
  ro.responders = {bob.identity};
  auto request = client::BuildRequestInit(alice, ro, env);
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  auto request_resp = (*transport)->Exchange(request->wire);
  ASSERT_TRUE(request_resp.ok()) << request_resp.status().ToString();
  auto ticket = client::ProcessRequestResp(*request_resp, *request, alice, clock.Now());
  ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
  ASSERT_TRUE(ticket->mpkr.has_value()) << "the demo policy requires key forking";

  std::vector<Needle> needles{{"alice PSK", Copy(alice.psk)},
                              {"bob PSK", Copy(bob.psk)},
                              {"MPKi", Copy(ticket->mpki)},
                              {"MPKr", Copy(*ticket->mpkr)}};
  AddSessionKeys("REQUEST_RESP", ticket->session_keys, &needles);
  AddMessageKeys("alice REQUEST", alice.psk, request->csb_id, request->rand_ri, {}, &needles);
  ExpectNoKeyIn(kmsd, kms_id, needles, "after the Ticket Request");

  // Ticket Transfer (alice -> bob, no KMS) and Ticket Resolve (bob -> KMS).
  auto shared = std::make_shared<const client::InitiatorTicket>(std::move(ticket).value());
  client::TransferInitOptions to;
  to.responder = bob.identity;
  auto transfer = client::BuildTransferInit(shared, alice.identity, to, env);
  ASSERT_TRUE(transfer.ok()) << transfer.status().ToString();
  client::ResponderPolicy rp;
  rp.identities = {bob.identity};
  auto received = client::ReceiveTransferInit(transfer->wire, rp, clock.Now());
  ASSERT_TRUE(received.ok()) << received.status().ToString();
  auto resolve = client::BuildResolveInit(*received, bob, kms_id, client::Suite{}, env);
  ASSERT_TRUE(resolve.ok()) << resolve.status().ToString();
  auto resolve_resp = (*transport)->Exchange(resolve->wire);
  ASSERT_TRUE(resolve_resp.ok()) << resolve_resp.status().ToString();
  auto resolved = client::ProcessResolveResp(*resolve_resp, *resolve, bob);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  ASSERT_TRUE(resolved->mpkr_prime.has_value());
  EXPECT_TRUE(resolved->mpki.ConstantTimeEqual(shared->mpki)) << "bob's MPKi is not alice's";

  needles.push_back({"MPKr'", Copy(*resolved->mpkr_prime)});
  AddSessionKeys("RESOLVE_RESP", resolved->session_keys, &needles);
  AddMessageKeys("bob RESOLVE", bob.psk, resolve->csb_id, {}, resolve->rand_rr, &needles);
  ExpectNoKeyIn(kmsd, kms_id, needles, "after the Ticket Resolve");

  // A refused request: kmsd derives the initial-message auth key to check the MAC, finds it
  // wrong and answers with a MIKEY Error; that key must not stay behind either.
  auto forged = client::BuildRequestInit(alice, ro, env);
  ASSERT_TRUE(forged.ok()) << forged.status().ToString();
  forged->wire.back() ^= 0x01;  // the last byte of V's MAC (RFC 3830 §6.8)
  auto refusal = (*transport)->Exchange(forged->wire);
  ASSERT_TRUE(refusal.ok()) << refusal.status().ToString();
  auto refused = client::ProcessRequestResp(*refusal, *forged, alice, clock.Now());
  ASSERT_FALSE(refused.ok()) << "a request with a wrong MAC got a ticket";
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition)  // a MIKEY Error
      << refused.status().ToString();
  AddMessageKeys("alice forged REQUEST", alice.psk, forged->csb_id, forged->rand_ri, {}, &needles);
  ExpectNoKeyIn(kmsd, kms_id, needles, "after a refused Ticket Request");

  // Checklist item 20: no key (nor the token PINs) in the audit database or kmsd's log.
  const std::string files = Env("KMS_FILES"), state = Env("KMS_STATE");
  ASSERT_FALSE(files.empty() || state.empty());
  needles.push_back({"user PIN", [&] {
                       const std::string pin = ReadText(state + "/user.pin");
                       return std::vector<uint8_t>(pin.begin(), pin.end());
                     }()});
  needles.push_back({"SO PIN", [&] {
                       const std::string pin = ReadText(state + "/so.pin");
                       return std::vector<uint8_t>(pin.begin(), pin.end());
                     }()});
  std::vector<std::string> paths;
  for (size_t from = 0; from <= files.size();) {
    const size_t colon = std::min(files.find(':', from), files.size());
    paths.push_back(files.substr(from, colon - from));
    from = colon + 1;
  }
  ExpectNotInFiles(paths, needles);
}

}  // namespace
}  // namespace kms::testing
