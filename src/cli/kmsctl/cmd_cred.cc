// kmsctl cred import|generate|remove (issue 9 items 2 and 6).
//  import: a raw key file (hex, mode 0600) becomes a transient session object in the token,
//    is wrapped there under the active KEK and destroyed (hsm/credential_store.h); or an
//    already wrapped blob (--wrapped wrapped:<KEK version>:<base64>) is checked by unwrapping
//    it in the token. Only the wrapped blob reaches the database.
//  generate: the key is drawn inside the token; with --export-wrapped it is also wrapped
//    with RSA-OAEP under the UE provisioning system's public key (--transport-key, PEM), so
//    the UE side receives it without it ever existing outside a token.
//  remove: deletes a credential row (audited), so that its id can be provisioned again.
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "hsm/secret_file.h"
#include "src/base/encoding.h"
#include "src/cli/kmsctl/commands.h"
#include "src/cli/kmsctl/csv_users.h"

namespace kmsctl {
namespace {

struct CredOpts {
  std::string user, id, key_file, wrapped, not_before, not_after, export_file, transport_key;
  bool mode3 = false;
  size_t bytes = 32;
};

struct Validity {
  std::optional<int64_t> not_before, not_after;
};

kms::Result<Validity> ParseValidity(const CredOpts& o) {
  Validity v;
  if (!o.not_before.empty()) {
    KMS_ASSIGN_OR_RETURN(int64_t ns, ParseTime(o.not_before));
    v.not_before = ns / 1000000000;
  }
  if (!o.not_after.empty()) {
    KMS_ASSIGN_OR_RETURN(int64_t ns, ParseTime(o.not_after));
    v.not_after = ns / 1000000000;
  }
  if (v.not_before && v.not_after && *v.not_before > *v.not_after) {
    return kms::InvalidArgumentError("--not-before is after --not-after");
  }
  return v;
}

int Store(const Globals& g, const CredOpts& o, const Validity& v,
          const kms::ports::WrappedCredential& w) {
  const auto kind = o.mode3 ? kms::ports::CredentialKind::kMode3TicketKey
                            : kms::ports::CredentialKind::kUePsk;
  const int rc = WithAdmin(g, [&](kms::policy::PolicyAdmin& a) {
    return a.AddCredential(o.user, kind, w, v.not_before, v.not_after);
  });
  if (rc == kExitOk) {
    std::cout << "credential " << o.id << " stored for " << o.user << " (wrapped under KEK v"
              << w.kek_version << ")\n";
  }
  return rc;
}

// UseDatabaseKek: UseRegisteredKek before the key is wrapped (the row is stored later, in
// its own transaction: Store).
kms::Status UseDatabaseKek(const Globals& g, kms::hsm::TokenStack& stack) {
  KMS_ASSIGN_OR_RETURN(kms::policy::PolicyAdmin admin, OpenAdmin(g));
  return UseRegisteredKek(stack, admin);
}

int Import(const Globals& g, const CredOpts& o) {
  auto validity = ParseValidity(o);
  if (!validity.ok()) return Fail(validity.status());
  if (o.key_file.empty() == o.wrapped.empty()) {
    return Fail(kms::InvalidArgumentError("give exactly one of --key-file and --wrapped"));
  }
  auto stack = OpenToken(g);
  if (!stack.ok()) return Fail(stack.status());
  if (kms::Status s = UseDatabaseKek(g, **stack); !s.ok()) return Fail(s);
  kms::hsm::TokenKeyVault& vault = *(*stack)->vault;
  if (!o.wrapped.empty()) {
    // The same grammar and checks as a user-import row's key column.
    CsvUser parsed;
    if (o.wrapped.rfind("wrapped:", 0) != 0 || !ParseKeyColumn(o.wrapped, &parsed).empty()) {
      return Fail(kms::InvalidArgumentError("--wrapped must be wrapped:<KEK version>:<base64>"));
    }
    kms::ports::WrappedCredential w{o.id, parsed.wrapped_kek_version, *parsed.wrapped};
    if (!(*stack)->token->LongTermKey(kms::hsm::KeyKind::kKek, w.kek_version).ok()) {
      return Fail(kms::FailedPreconditionError("KEK version " + std::to_string(w.kek_version) +
                                               " is not in this token"));
    }
    auto ref = vault.credentials().Open(w);
    if (!ref.ok()) {
      return Fail(kms::FailedPreconditionError("the wrapped key does not unwrap under KEK v" +
                                               std::to_string(w.kek_version)));
    }
    vault.credentials().Forget(*ref);
    return Store(g, o, *validity, w);
  }
  auto hex = kms::hsm::ReadSecretFile(o.key_file, 4096, true);
  if (!hex.ok()) return Fail(hex.status());
  const std::string_view text(reinterpret_cast<const char*>(hex->Reveal().data()),
                              hex->Reveal().size());
  auto decoded = kms::HexDecodeSecret(text);  // never outside a SecretBytes
  if (!decoded.ok()) return Fail(kms::InvalidArgumentError(o.key_file + ": not a hex key"));
  kms::SecretBytes key_bytes = std::move(decoded).value();
  auto wrapped = vault.ImportCredential(o.id, key_bytes);
  if (!wrapped.ok()) return Fail(wrapped.status());
  return Store(g, o, *validity, *wrapped);
}

using EvpPkey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Bignum = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

// ReadTransportKey: an RSA public key from a PEM file (SubjectPublicKeyInfo).
kms::Result<kms::hsm::TransportPublicKey> ReadTransportKey(const std::string& path) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  if (!bio) return kms::InvalidArgumentError(path + ": cannot be read");
  EvpPkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key || EVP_PKEY_is_a(key.get(), "RSA") != 1) {
    return kms::InvalidArgumentError(path + ": not a PEM RSA public key");
  }
  kms::hsm::TransportPublicKey t;
  for (auto [name, out] : {std::pair{OSSL_PKEY_PARAM_RSA_N, &t.modulus},
                           std::pair{OSSL_PKEY_PARAM_RSA_E, &t.exponent}}) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key.get(), name, &raw) != 1) {
      return kms::InvalidArgumentError(path + ": RSA parameters unreadable");
    }
    Bignum bn(raw, &BN_free);
    out->resize(static_cast<size_t>(BN_num_bytes(bn.get())));
    BN_bn2bin(bn.get(), out->data());
  }
  return t;
}

// WriteNewFile: creates path (refuses an existing file) with mode 0600.
kms::Status WriteNewFile(const std::string& path, const std::string& content) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return kms::FailedPreconditionError(path + ": exists or cannot be created");
  const bool ok = write(fd, content.data(), content.size()) ==
                  static_cast<ssize_t>(content.size());
  if (close(fd) != 0 || !ok) return kms::UnavailableError(path + ": write failed");
  return kms::Status::Ok();
}

int Generate(const Globals& g, const CredOpts& o) {
  auto validity = ParseValidity(o);
  if (!validity.ok()) return Fail(validity.status());
  if (o.export_file.empty() != o.transport_key.empty()) {
    return Fail(kms::InvalidArgumentError("--export-wrapped and --transport-key go together"));
  }
  std::optional<kms::hsm::TransportPublicKey> transport;
  if (!o.transport_key.empty()) {
    auto t = ReadTransportKey(o.transport_key);
    if (!t.ok()) return Fail(t.status());
    transport = std::move(*t);
    if (access(o.export_file.c_str(), F_OK) == 0) {
      return Fail(kms::FailedPreconditionError(o.export_file + " exists"));
    }
  }
  auto stack = OpenToken(g);
  if (!stack.ok()) return Fail(stack.status());
  if (kms::Status s = UseDatabaseKek(g, **stack); !s.ok()) return Fail(s);
  kms::hsm::TokenKeyVault& vault = *(*stack)->vault;
  if (!transport) {
    auto w = vault.GenerateCredential(o.id, o.bytes);
    if (!w.ok()) return Fail(w.status());
    return Store(g, o, *validity, *w);
  }
  auto e = vault.credentials().GenerateForTransport(o.id, o.bytes, *transport);
  if (!e.ok()) return Fail(e.status());
  // Stored first: an export file for a credential the KMS does not know would be useless.
  if (int rc = Store(g, o, *validity, e->stored); rc != kExitOk) return rc;
  const nlohmann::json out{{"credential_id", o.id},
                           {"user", o.user},
                           {"key_bytes", o.bytes},
                           {"alg", "RSAES-OAEP SHA-1 MGF1-SHA-1 (PKCS#11 CKM_RSA_PKCS_OAEP)"},
                           {"wrapped_key", kms::Base64Encode(e->transport_blob)}};
  if (kms::Status s = WriteNewFile(o.export_file, out.dump(2) + "\n"); !s.ok()) return Fail(s);
  std::cout << "exported " << o.id << " wrapped under the transport key to " << o.export_file
            << "\n";
  return kExitOk;
}

void AddValidity(CLI::App* cmd, CredOpts& o) {
  cmd->add_option("--not-before", o.not_before, "valid from (unix s or YYYY-MM-DDTHH:MM:SSZ)");
  cmd->add_option("--not-after", o.not_after, "valid until");
  cmd->add_flag("--mode3", o.mode3, "a mode-3 ticket key instead of a UE PSK");
}

}  // namespace

void AddCredCommands(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<CredOpts>();
  auto* cred = app.add_subcommand("cred", "credentials")->require_subcommand(1);
  auto* import = cred->add_subcommand("import", "import a raw key file or a KEK-wrapped blob");
  import->add_option("user", o->user)->required();
  import->add_option("--id", o->id, "credential id, e.g. a B-TID")->required();
  import->add_option("--key-file", o->key_file, "hex key file, mode 0600");
  import->add_option("--wrapped", o->wrapped, "wrapped:<KEK version>:<base64 RFC 5649 blob>");
  AddValidity(import, *o);
  import->callback([&ctx, o] { ctx.action = [&ctx, o] { return Import(ctx.g, *o); }; });
  auto* gen = cred->add_subcommand("generate", "generate a credential inside the token");
  gen->add_option("user", o->user)->required();
  gen->add_option("--id", o->id, "credential id, e.g. a B-TID")->required();
  gen->add_option("--bytes", o->bytes, "key length, 32..64, a multiple of 8")
      ->check(CLI::Range(32, 64));
  gen->add_option("--export-wrapped", o->export_file, "write the key wrapped for the UE here");
  gen->add_option("--transport-key", o->transport_key, "PEM RSA public key of the UE side");
  AddValidity(gen, *o);
  gen->callback([&ctx, o] { ctx.action = [&ctx, o] { return Generate(ctx.g, *o); }; });
  auto* remove = cred->add_subcommand(
      "remove", "remove a stored credential (e.g. one that cannot be re-wrapped)");
  remove->add_option("id", o->id, "credential id")->required();
  remove->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      const int rc = WithAdmin(ctx.g, [&](kms::policy::PolicyAdmin& a) {
        return a.RemoveCredential(o->id);
      });
      if (rc == kExitOk) std::cout << "credential " << o->id << " removed\n";
      return rc;
    };
  });
}

}  // namespace kmsctl
