// kmsctl group add|member-add|member-remove|list (issue 9 item 2; groups are RFC 6043 §9
// group identities whose members may be named as responders).
#include <iostream>

#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

struct GroupOpts {
  std::string group, member, description;
};

int List(const Globals& g) {
  return ReadAdmin(g, [&](kms::policy::PolicyAdmin& a) -> kms::Status {
    auto groups = a.ListGroups();
    if (!groups.ok()) {
      return groups.status();
    }
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& gr : *groups) {
      arr.push_back(
          {{"group", gr.identity}, {"description", gr.description}, {"members", gr.members}});
      if (!g.json) {
        std::cout << EscapeText(gr.identity) << "	" << gr.members.size() << " member(s):";
        for (const auto& m : gr.members) {
          std::cout << " " << EscapeText(m);
        }
        std::cout << "\n";
      }
    }
    if (g.json) {
      PrintJson(arr);
    }
    return kms::Status::Ok();
  });
}

}  // namespace

void AddGroupCommands(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<GroupOpts>();
  auto* group = app.add_subcommand("group", "groups")->require_subcommand(1);
  auto* add = group->add_subcommand("add", "add a group");
  add->add_option("group", o->group)->required();
  add->add_option("--description", o->description, "free text");
  add->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      return WithAdmin(ctx.g, [&](kms::policy::PolicyAdmin& a) {
        return a.AddGroup(o->group, o->description);
      });
    };
  });
  group->add_subcommand("list", "list groups and their members")->callback([&ctx] {
    ctx.action = [&ctx] { return List(ctx.g); };
  });
  auto* madd = group->add_subcommand("member-add", "add a member");
  madd->add_option("group", o->group)->required();
  madd->add_option("member", o->member)->required();
  madd->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      return WithAdmin(ctx.g, [&](kms::policy::PolicyAdmin& a) {
        return a.AddGroupMember(o->group, o->member);
      });
    };
  });
  auto* mrem = group->add_subcommand("member-remove", "remove a member");
  mrem->add_option("group", o->group)->required();
  mrem->add_option("member", o->member)->required();
  mrem->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      return WithAdmin(ctx.g, [&](kms::policy::PolicyAdmin& a) {
        return a.RemoveGroupMember(o->group, o->member);
      });
    };
  });
}

}  // namespace kmsctl
