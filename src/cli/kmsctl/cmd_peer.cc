// kmsctl peer add|list|remove (issue 9 item 2). A peer is another operator's KMS that this
// KMS may forward a RESOLVE to (RFC 6043 §10; architecture.md §1 claim 8): its domain (the
// responder domain / IDRkms it serves), its https:// resolve URL and the TLS identity (SAN)
// its certificate must carry on the mutually authenticated channel.
#include <iostream>

#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

struct PeerOpts {
  std::string domain, url, tls_identity;
  bool disabled = false;
};

// ValidDomain: a DNS name (RFC 1035 §2.3.1 letters, digits, hyphens; dot-separated labels
// of 1..63 bytes; 253 bytes at most), lower case so lookups are exact.
bool ValidDomain(const std::string& d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') {
    return false;
  }
  size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok || ++label > 63) return false;
  }
  return true;
}

kms::Status Validate(const PeerOpts& o) {
  if (!ValidDomain(o.domain)) {
    return kms::InvalidArgumentError("peer domain '" + o.domain +
                                     "' is not a lower-case DNS name");
  }
  // Inter-KMS traffic is only ever over TLS (architecture.md §6).
  if (o.url.rfind("https://", 0) != 0 || o.url.size() <= 8 || o.url.size() > 2048 ||
      o.url.find_first_of(" \t\r\n") != std::string::npos) {
    return kms::InvalidArgumentError("peer URL must be an https:// URL");
  }
  if (o.tls_identity.empty() || o.tls_identity.size() > 512) {
    return kms::InvalidArgumentError("--tls-identity must be 1..512 bytes");
  }
  return kms::Status::Ok();
}

int List(const Globals& g) {
  return ReadAdmin(g, [&](kms::policy::PolicyAdmin& a) -> kms::Status {
    auto peers = a.ListPeers();
    if (!peers.ok()) {
      return peers.status();
    }
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& p : *peers) {
      arr.push_back({{"domain", p.domain},
                     {"url", p.url},
                     {"tls_identity", p.tls_identity},
                     {"allowed", p.allowed}});
      if (!g.json) {
        std::cout << p.domain << "\t" << p.url << "\t" << p.tls_identity
                  << (p.allowed ? "" : "\t(disabled)") << "\n";
      }
    }
    if (g.json) {
      PrintJson(arr);
    }
    return kms::Status::Ok();
  });
}

}  // namespace

void AddPeerCommands(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<PeerOpts>();
  auto* peer = app.add_subcommand("peer", "peer KMSs (inter-KMS resolution)")
                   ->require_subcommand(1);
  auto* add = peer->add_subcommand("add", "add a peer KMS");
  add->add_option("domain", o->domain, "domain the peer serves, e.g. example.net")->required();
  add->add_option("--url", o->url, "https:// resolve endpoint")->required();
  add->add_option("--tls-identity", o->tls_identity, "expected TLS identity (SAN)")
      ->required();
  add->add_flag("--disabled", o->disabled, "store it but do not forward to it yet");
  add->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      if (kms::Status s = Validate(*o); !s.ok()) {
        return Fail(s);
      }
      return WithAdmin(ctx.g, [&](kms::policy::PolicyAdmin& a) {
        return a.AddPeer({o->domain, o->url, o->tls_identity, !o->disabled});
      });
    };
  });
  peer->add_subcommand("list", "list peer KMSs")->callback([&ctx] {
    ctx.action = [&ctx] { return List(ctx.g); };
  });
  auto* remove = peer->add_subcommand("remove", "remove a peer KMS");
  remove->add_option("domain", o->domain)->required();
  remove->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      return WithAdmin(ctx.g, [&](kms::policy::PolicyAdmin& a) { return a.RemovePeer(o->domain); });
    };
  });
}

}  // namespace kmsctl
