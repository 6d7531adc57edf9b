#include "app.h"

#include <linux/sock_vs.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "format.h"
#include "json.h"
#include "restore.h"
#include "sockvs/address.h"
#include "sockvs/error.h"

#ifndef SOCKVSADM_VERSION
#define SOCKVSADM_VERSION "0.0.0"
#endif

namespace sockvsadm {

namespace {

constexpr const char* kProgram = "sockvsadm";

std::unique_ptr<sockvs::Api> open_api(const ApiFactory& connect) {
  auto api = connect();
  if (!api) {
    throw sockvs::Error(EIO, "cannot connect to the sock_vs module");
  }
  return api;
}

std::vector<ServiceEntry> collect(sockvs::Api& api, const std::optional<sockvs::ServiceKey>& key) {
  std::vector<ServiceEntry> entries;
  if (key) {
    ServiceEntry entry{api.get_service(*key), {}};
    entry.dests = api.list_dests(*key);
    entries.push_back(std::move(entry));
    return entries;
  }
  for (auto& svc : api.list_services()) {
    ServiceEntry entry{std::move(svc), {}};
    entry.dests = api.list_dests(entry.service.key());
    entries.push_back(std::move(entry));
  }
  return entries;
}

// -L -c -t/-u: only the connections to that virtual service.
std::vector<sockvs::Connection> select_conns(std::vector<sockvs::Connection> conns,
                                             const std::optional<sockvs::ServiceKey>& key) {
  if (key) {
    std::erase_if(conns, [&key](const sockvs::Connection& c) {
      return c.protocol != key->protocol || c.vaddr != key->addr || c.vport != key->port;
    });
  }
  return conns;
}

// -L -c -t/-u: only the templates of that virtual service.
std::vector<sockvs::Template> select_templates(std::vector<sockvs::Template> templates,
                                               const std::optional<sockvs::ServiceKey>& key) {
  if (key) {
    std::erase_if(templates, [&key](const sockvs::Template& t) {
      return t.protocol != key->protocol || t.vaddr != key->addr || t.vport != key->port;
    });
  }
  return templates;
}

// The persistence templates, or none from a module that predates them
// (it refuses the unknown command with EOPNOTSUPP, or EINVAL).  Other
// errors (EPERM...) are errors.
std::vector<sockvs::Template> templates_if_known(sockvs::Api& api) {
  try {
    return api.list_templates();
  } catch (const sockvs::Error& e) {
    if (e.code() == EOPNOTSUPP || e.code() == EINVAL) {
      return {};
    }
    throw;
  }
}

int do_version(std::ostream& out, std::ostream& err, const ApiFactory& connect) {
  std::optional<sockvs::Info> info;
  std::string module_error;
  int status = kExitOk;
  try {
    info = open_api(connect)->info();
  } catch (const sockvs::ModuleNotLoadedError& e) {
    module_error = e.what();
  } catch (const sockvs::Error& e) {
    module_error = e.what();
    err << kProgram << ": " << e.what() << '\n';
    status = kExitFailure;
  }
  out << format_version(userspace_version(), info, module_error);
  return status;
}

// --replace: a -C before the input's first line (line 0: it cannot fail),
// so that the one transaction replaces the whole table, even with no lines.
std::vector<RestoreLine> with_replace(std::vector<RestoreLine> lines, bool replace) {
  if (replace) {
    RestoreLine clear;
    clear.command.op = Op::kClear;
    lines.insert(lines.begin(), std::move(clear));
  }
  return lines;
}

int do_restore(std::istream& in, std::ostream& err, const ApiFactory& connect,
               const Resolver& names, bool replace) {
  // parse_restore throws RestoreError
  const std::vector<RestoreLine> lines = with_replace(parse_restore(in, names), replace);
  if (lines.empty()) {
    return kExitOk;
  }
  try {
    restore_atomic(*open_api(connect), lines, err);
  } catch (const sockvs::Error& e) {
    err << kProgram << ": " << e.what() << '\n';
    return kExitFailure;
  }
  return kExitOk;
}

// -R --json: the whole input is checked before anything is applied, then
// applied in one transaction like -R.
int do_restore_json(std::istream& in, std::ostream& err, const ApiFactory& connect, bool replace) {
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  JsonRules rules;
  try {
    rules = json_rules(parse_json(text));
    rules.lines = with_replace(std::move(rules.lines), replace);
  } catch (const JsonError& e) {
    err << kProgram << ": " << e.what() << " (nothing was applied)\n";
    return kExitUsage;
  }
  if (rules.lines.empty()) {
    return kExitOk;
  }
  try {
    restore_atomic(*open_api(connect), rules.lines, err);
  } catch (const sockvs::Error& e) {
    err << kProgram << ": " << rules.relabel(e.what()) << '\n';
    return kExitFailure;
  }
  return kExitOk;
}

Command make_command(Op op, const sockvs::ServiceKey& key) {
  Command cmd;
  cmd.op = op;
  cmd.service = key;
  return cmd;
}

// A real-server command with the settings of `dest` (as the module reported
// them, for undoing; DEL needs only the key).
Command make_dest_command(Op op, const sockvs::ServiceKey& key, const sockvs::RealServer& dest) {
  Command cmd = make_command(op, key);
  sockvs::RealServer d;
  d.addr = dest.addr;
  d.port = dest.port;
  d.weight = dest.weight;
  if (op != Op::kDelDest) {
    d.u_threshold = dest.u_threshold;
    d.l_threshold = dest.l_threshold;
    d.shards = dest.shards;
  }
  cmd.dest = d;
  return cmd;
}

sockvs::Service service_of(const Command& cmd) {
  sockvs::Service svc = sockvs::Service::from_key(cmd.service.value(), cmd.scheduler);
  svc.hash_key = cmd.hash_key;
  svc.shard_policy = cmd.shard_policy;
  svc.terminate = cmd.terminate;
  svc.skip = cmd.skip;
  svc.flags = (cmd.real_peername ? SOCK_VS_SVC_F_REAL_PEERNAME : 0U) |
              (cmd.unconnected ? SOCK_VS_SVC_F_UNCONNECTED : 0U);
  // -E sets persistence anew (0: off), like ipvsadm; -A sends it only when
  // given (0 is the module's default, and a module without persistence
  // still takes a non-persistent -A).
  if (cmd.op == Op::kEditService || cmd.persist != 0) {
    svc.persist = cmd.persist;
  }
  svc.eject = cmd.eject;
  svc.eject_time = cmd.eject_time;
  svc.eject_time_max = cmd.eject_time_max;
  svc.eject_max_percent = cmd.eject_max_percent;
  return svc;
}

// -E: SET_SERVICE, which always carries SVC_ATTR_PERSIST.  A module that
// predates persistence refuses it as an unknown attribute (EINVAL,
// "Unknown attribute type" from the kernel's strict parsing); when the edit
// turns persistence off, which such a module has nothing of, it is sent
// again without it.
void edit_service(sockvs::Api& api, const sockvs::Service& svc) {
  try {
    api.edit_service(svc);
  } catch (const sockvs::Error& e) {
    if (svc.persist != 0U || e.code() != EINVAL ||
        e.ext_ack().find("Unknown attribute") == std::string::npos) {
      throw;
    }
    sockvs::Service without = svc;
    without.persist.reset();
    api.edit_service(without);
  }
}

// The commands that re-create `svc` with `dests`.
void append_recreate(std::vector<Command>& out, const sockvs::Service& svc,
                     const std::vector<sockvs::RealServer>& dests) {
  Command add = make_command(Op::kAddService, svc.key());
  add.scheduler = svc.sched_name;
  add.hash_key = svc.hash_key;
  add.shard_policy = svc.shard_policy;
  add.terminate = svc.terminate;
  add.skip = svc.skip;
  add.real_peername = (svc.flags & SOCK_VS_SVC_F_REAL_PEERNAME) != 0;
  add.unconnected = (svc.flags & SOCK_VS_SVC_F_UNCONNECTED) != 0;
  add.persist = svc.persist.value_or(0);
  // Passive health when it is on (off, the times and bound do nothing
  // until it is turned on by an -E that can set them too).
  if (svc.eject.value_or(0) != 0) {
    add.eject = svc.eject;
    add.eject_time = svc.eject_time;
    add.eject_time_max = svc.eject_time_max;
    add.eject_max_percent = svc.eject_max_percent;
  }
  out.push_back(std::move(add));
  for (const auto& d : dests) {
    out.push_back(make_dest_command(Op::kAddDest, svc.key(), d));
  }
}

std::optional<sockvs::RealServer> find_dest(sockvs::Api& api, const sockvs::ServiceKey& key,
                                            const sockvs::RealServer& dest) {
  for (auto& d : api.list_dests(key)) {
    if (d.addr == dest.addr && d.port == dest.port) {
      return d;
    }
  }
  return std::nullopt;
}

// Whose sockets -d, -D, -C or -K terminated: " of 192.168.1.5:53",
// " of service UDP 10.0.0.1:53", " in total".
std::string killed_where(const Command& cmd) {
  if (cmd.dest) {
    return " of " + sockvs::format_endpoint(cmd.dest->addr, cmd.dest->port);
  }
  if (cmd.service) {
    return " of service " + service_label(*cmd.service);
  }
  return " in total";
}

int execute(const Command& cmd, std::istream& in, std::ostream& out, std::ostream& err,
            const ApiFactory& connect, const Resolver& names) {
  // -L and -S: names unless -n (-L -c and --json stay numeric).
  const EndpointNames endpoints = cmd.numeric ? EndpointNames() : EndpointNames(names);
  switch (cmd.op) {
    case Op::kHelp:
      // The version first, as ipvsadm's help has it.
      out << version_line(userspace_version()) << usage_text();
      return kExitOk;
    case Op::kVersion:
      return do_version(out, err, connect);
    case Op::kRestore:
      return cmd.json ? do_restore_json(in, err, connect, cmd.replace)
                      : do_restore(in, err, connect, names, cmd.replace);
    case Op::kList: {
      const auto api = open_api(connect);
      if (cmd.connections) {
        const auto conns = select_conns(api->list_conns(), cmd.service);
        out << format_conns(conns, select_templates(templates_if_known(*api), cmd.service));
        return kExitOk;
      }
      const sockvs::Info info = api->info();
      auto entries = collect(*api, cmd.service);
      if (cmd.sort) {
        sort_entries(entries);
      }
      if (cmd.json) {
        out << format_json(entries, JsonView{true, cmd.stats}, info);
        return kExitOk;
      }
      out << format_list(info, entries,
                         ListOptions{cmd.stats, cmd.exact, cmd.thresholds, cmd.shards}, endpoints);
      return kExitOk;
    }
    case Op::kSave: {
      const auto api = open_api(connect);
      auto entries = collect(*api, cmd.service);
      if (cmd.sort) {
        sort_entries(entries);
      }
      out << (cmd.json ? format_json(entries, JsonView{}) : format_save(entries, endpoints));
      return kExitOk;
    }
    case Op::kKill: {
      const std::uint32_t killed =
          open_api(connect)->kill(cmd.service.value(), cmd.dest, cmd.terminate);
      out << "Terminated " << sockets_text(killed) << killed_where(cmd) << '\n';
      return kExitOk;
    }
    default:
      if (const std::uint32_t killed = apply(*open_api(connect), cmd); killed > 0) {
        out << "Terminated " << sockets_text(killed) << killed_where(cmd) << '\n';
      }
      return kExitOk;
  }
}

}  // namespace

std::string userspace_version() { return SOCKVSADM_VERSION; }

std::uint32_t apply(sockvs::Api& api, const Command& cmd) {
  switch (cmd.op) {
    case Op::kAddService:
      api.add_service(service_of(cmd));
      return 0;
    case Op::kEditService:
      edit_service(api, service_of(cmd));
      return 0;
    case Op::kDelService:
      return api.del_service(cmd.service.value());
    case Op::kAddDest:
      api.add_dest(cmd.service.value(), cmd.dest.value());
      return 0;
    case Op::kEditDest:
      api.edit_dest(cmd.service.value(), cmd.dest.value());
      return 0;
    case Op::kDelDest:
      return api.del_dest(cmd.service.value(), cmd.dest.value());
    case Op::kClear:
      return api.flush();
    case Op::kZero:
      api.zero(cmd.service);
      return 0;
    default:
      throw sockvs::Error(EINVAL, std::string(op_name(cmd.op)) + " changes nothing");
  }
}

std::vector<Command> inverse_of(sockvs::Api& api, const Command& cmd) {
  std::vector<Command> undo;
  try {
    switch (cmd.op) {
      case Op::kAddService:
        undo.push_back(make_command(Op::kDelService, cmd.service.value()));
        break;
      case Op::kEditService: {
        // Put back what the edit changes (what it does not change stays);
        // -E always sets the flags and the persistence.
        const sockvs::Service prev = api.get_service(cmd.service.value());
        Command edit = make_command(Op::kEditService, *cmd.service);
        edit.real_peername = (prev.flags & SOCK_VS_SVC_F_REAL_PEERNAME) != 0;
        edit.unconnected = (prev.flags & SOCK_VS_SVC_F_UNCONNECTED) != 0;
        edit.persist = prev.persist.value_or(0);
        if (cmd.scheduler.empty() && !cmd.hash_key && !cmd.shard_policy && !cmd.terminate &&
            !cmd.skip && !cmd.eject && !cmd.eject_time && !cmd.eject_time_max &&
            !cmd.eject_max_percent && edit.real_peername == cmd.real_peername &&
            edit.unconnected == cmd.unconnected && edit.persist == cmd.persist) {
          break;  // changes nothing
        }
        if (!cmd.scheduler.empty()) {
          edit.scheduler = prev.sched_name;
        }
        if (cmd.hash_key) {
          edit.hash_key = prev.hash_key.value_or(sockvs::kDefaultHashKey);
        }
        if (cmd.shard_policy) {
          edit.shard_policy = prev.shard_policy.value_or(sockvs::kDefaultShardPolicy);
        }
        if (cmd.terminate) {
          edit.terminate = prev.terminate.value_or(sockvs::kDefaultTerminate);
        }
        if (cmd.skip) {
          // The rules it had (none: an empty nest clears the new ones).
          edit.skip = prev.skip.value_or(std::vector<sockvs::SkipRule>{});
        }
        // Passive health: what the edit sets, back to what it was (the
        // module's defaults if it did not report them).
        if (cmd.eject) {
          edit.eject = prev.eject.value_or(0);
        }
        if (cmd.eject_time || cmd.eject_time_max) {
          edit.eject_time = prev.eject_time.value_or(sockvs::kEjectTimeDefault);
          edit.eject_time_max = prev.eject_time_max.value_or(sockvs::kEjectTimeMaxDefault);
        }
        if (cmd.eject_max_percent) {
          edit.eject_max_percent = prev.eject_max_percent.value_or(sockvs::kEjectPercentDefault);
        }
        undo.push_back(std::move(edit));
        break;
      }
      case Op::kDelService: {
        const sockvs::Service svc = api.get_service(cmd.service.value());
        append_recreate(undo, svc, api.list_dests(svc.key()));
        break;
      }
      case Op::kAddDest:
        undo.push_back(make_dest_command(Op::kDelDest, cmd.service.value(), cmd.dest.value()));
        break;
      case Op::kEditDest:
        if (const auto prev = find_dest(api, cmd.service.value(), cmd.dest.value())) {
          Command edit = make_dest_command(Op::kEditDest, *cmd.service, *prev);
          // Settings the edit changes must be sent back even if the module
          // did not report them (then they were at their defaults).
          auto& d = edit.dest.value();
          if (cmd.dest->u_threshold && !d.u_threshold) {
            d.u_threshold = 0;
          }
          if (cmd.dest->l_threshold && !d.l_threshold) {
            d.l_threshold = 0;
          }
          if (cmd.dest->shards && !d.shards) {
            d.shards = 1;
          }
          undo.push_back(std::move(edit));
        }
        break;
      case Op::kDelDest:
        if (const auto prev = find_dest(api, cmd.service.value(), cmd.dest.value())) {
          undo.push_back(make_dest_command(Op::kAddDest, *cmd.service, *prev));
        }
        break;
      case Op::kClear:
        for (const auto& svc : api.list_services()) {
          append_recreate(undo, svc, api.list_dests(svc.key()));
        }
        break;
      default:
        break;  // -Z cannot be undone
    }
  } catch (const sockvs::Error&) {
    // The state could not be read: the command itself will fail (e.g. no
    // such service) and needs no undoing.
    undo.clear();
  }
  return undo;
}

void restore(sockvs::Api& api, const std::vector<RestoreLine>& lines) {
  std::vector<std::vector<Command>> undo_log;  // one entry per applied line
  for (const auto& line : lines) {
    try {
      std::vector<Command> undo = inverse_of(api, line.command);
      apply(api, line.command);
      undo_log.push_back(std::move(undo));
    } catch (const sockvs::Error& e) {
      std::string msg = "line " + std::to_string(line.line_no) + ": " + e.what();
      if (undo_log.empty()) {
        msg += " (nothing was applied)";
        throw sockvs::Error(e.code(), msg, e.ext_ack());
      }
      // Undo what the earlier lines did, newest first; keep going on errors.
      std::string rollback_error;
      std::for_each(undo_log.rbegin(), undo_log.rend(), [&](const std::vector<Command>& undos) {
        for (const auto& undo : undos) {
          try {
            apply(api, undo);
          } catch (const sockvs::Error& ue) {
            if (rollback_error.empty()) {
              rollback_error = ue.what();
            }
          }
        }
      });
      if (rollback_error.empty()) {
        msg += " (nothing was applied: the earlier lines were rolled back)";
      } else {
        msg += " (rolling back the earlier lines failed: " + rollback_error +
               "; some of their changes may remain)";
      }
      throw sockvs::Error(e.code(), msg, e.ext_ack());
    }
  }
}

int run(std::span<const std::string> args, std::istream& in, std::ostream& out, std::ostream& err,
        const ApiFactory& connect) {
  return run(args, in, out, err, connect, no_names());
}

int run(std::span<const std::string> args, std::istream& in, std::ostream& out, std::ostream& err,
        const ApiFactory& connect, const Resolver& names) {
  try {
    const Command cmd = parse_command(args, names);
    return execute(cmd, in, out, err, connect, names);
  } catch (const RestoreError& e) {
    err << kProgram << ": " << e.what() << " (nothing was applied)\n";
    return kExitUsage;
  } catch (const UsageError& e) {
    err << kProgram << ": " << e.what() << " (see '" << kProgram << " --help')\n";
    return kExitUsage;
  } catch (const sockvs::Error& e) {
    err << kProgram << ": " << e.what() << '\n';
    return kExitFailure;
  } catch (const std::exception& e) {
    err << kProgram << ": " << e.what() << '\n';
    return kExitFailure;
  }
}

}  // namespace sockvsadm
