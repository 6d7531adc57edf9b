#include "cli.h"

#include <linux/sock_vs.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <utility>

#include "sockvs/address.h"

namespace sockvsadm {

namespace {

enum class Key {
  kCommand,
  kTcp,
  kUdp,
  kScheduler,
  kReal,
  kWeight,
  kNumeric,
  kStats,
  kExact,
  kForward,  // -m, -g, -i: accepted and ignored
};

struct OptSpec {
  char short_name;  // '\0': long only
  std::string_view long_name;
  bool takes_value;
  Key key;
  Op op;  // for Key::kCommand
};

constexpr std::array kOptions = {
    OptSpec{'A', "add-service", false, Key::kCommand, Op::kAddService},
    OptSpec{'E', "edit-service", false, Key::kCommand, Op::kEditService},
    OptSpec{'D', "delete-service", false, Key::kCommand, Op::kDelService},
    OptSpec{'a', "add-server", false, Key::kCommand, Op::kAddDest},
    OptSpec{'e', "edit-server", false, Key::kCommand, Op::kEditDest},
    OptSpec{'d', "delete-server", false, Key::kCommand, Op::kDelDest},
    OptSpec{'C', "clear", false, Key::kCommand, Op::kClear},
    OptSpec{'L', "list", false, Key::kCommand, Op::kList},
    OptSpec{'l', "", false, Key::kCommand, Op::kList},
    OptSpec{'S', "save", false, Key::kCommand, Op::kSave},
    OptSpec{'R', "restore", false, Key::kCommand, Op::kRestore},
    OptSpec{'Z', "zero", false, Key::kCommand, Op::kZero},
    OptSpec{'h', "help", false, Key::kCommand, Op::kHelp},
    OptSpec{'V', "version", false, Key::kCommand, Op::kVersion},
    OptSpec{'t', "tcp-service", true, Key::kTcp, Op::kList},
    OptSpec{'u', "udp-service", true, Key::kUdp, Op::kList},
    OptSpec{'s', "scheduler", true, Key::kScheduler, Op::kList},
    OptSpec{'r', "real-server", true, Key::kReal, Op::kList},
    OptSpec{'w', "weight", true, Key::kWeight, Op::kList},
    OptSpec{'n', "numeric", false, Key::kNumeric, Op::kList},
    OptSpec{'\0', "stats", false, Key::kStats, Op::kList},
    OptSpec{'\0', "exact", false, Key::kExact, Op::kList},
    OptSpec{'m', "masquerading", false, Key::kForward, Op::kList},
    OptSpec{'g', "gatewaying", false, Key::kForward, Op::kList},
    OptSpec{'i', "ipip", false, Key::kForward, Op::kList},
};

const OptSpec* find_short(char c) {
  for (const auto& o : kOptions) {
    if (o.short_name == c) {
      return &o;
    }
  }
  return nullptr;
}

const OptSpec* find_long(std::string_view name) {
  for (const auto& o : kOptions) {
    if (!o.long_name.empty() && o.long_name == name) {
      return &o;
    }
  }
  return nullptr;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// What the options said, before their values are interpreted.
struct Raw {
  std::optional<Op> op;
  std::string op_flag;
  std::uint16_t protocol = IPPROTO_TCP;
  std::optional<std::string> service;
  std::optional<std::string> scheduler;
  std::optional<std::string> real;
  std::optional<std::string> weight;
  bool numeric = false;
  bool stats = false;
  bool exact = false;
  // Options seen, with the spelling used (for messages).
  std::map<Key, std::string> seen;
};

void set_once(std::optional<std::string>& slot, const std::string& flag, std::string value) {
  if (slot) {
    throw UsageError("option " + flag + " given more than once");
  }
  slot = std::move(value);
}

void apply(Raw& raw, const OptSpec& spec, const std::string& flag, std::string value) {
  switch (spec.key) {
    case Key::kCommand:
      if (raw.op) {
        throw UsageError("only one command may be given (" + raw.op_flag + " and " + flag + ")");
      }
      raw.op = spec.op;
      raw.op_flag = flag;
      return;  // commands are not options: not recorded in `seen`
    case Key::kTcp:
    case Key::kUdp:
      if (raw.service) {
        throw UsageError("only one virtual service may be given (-t or -u)");
      }
      raw.service = std::move(value);
      raw.protocol = spec.key == Key::kTcp ? IPPROTO_TCP : IPPROTO_UDP;
      break;
    case Key::kScheduler:
      set_once(raw.scheduler, flag, std::move(value));
      break;
    case Key::kReal:
      set_once(raw.real, flag, std::move(value));
      break;
    case Key::kWeight:
      set_once(raw.weight, flag, std::move(value));
      break;
    case Key::kNumeric:
      raw.numeric = true;
      break;
    case Key::kStats:
      raw.stats = true;
      break;
    case Key::kExact:
      raw.exact = true;
      break;
    case Key::kForward:
      break;
  }
  raw.seen.emplace(spec.key, flag);
}

Raw scan(std::span<const std::string> args) {
  Raw raw;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() > 2 && arg.starts_with("--")) {
      const auto eq = arg.find('=');
      const std::string name = arg.substr(2, eq == std::string::npos ? eq : eq - 2);
      const std::string flag = "--" + name;
      const OptSpec* spec = find_long(name);
      if (spec == nullptr) {
        throw UsageError("unknown option " + quoted(flag));
      }
      std::string value;
      if (eq != std::string::npos) {
        if (!spec->takes_value) {
          throw UsageError("option " + flag + " takes no value");
        }
        value = arg.substr(eq + 1);
      } else if (spec->takes_value) {
        if (i + 1 >= args.size()) {
          throw UsageError("option " + flag + " needs a value");
        }
        value = args[++i];
      }
      apply(raw, *spec, flag, std::move(value));
    } else if (arg.size() > 1 && arg[0] == '-' && arg != "--") {
      // One or more short options bundled: -Ln, -w2, -t 10.0.0.1:80.
      for (std::size_t j = 1; j < arg.size(); ++j) {
        const std::string flag = std::string("-") + arg[j];
        const OptSpec* spec = find_short(arg[j]);
        if (spec == nullptr) {
          throw UsageError("unknown option " + quoted(flag));
        }
        if (!spec->takes_value) {
          apply(raw, *spec, flag, {});
          continue;
        }
        std::string value;
        if (j + 1 < arg.size()) {
          value = arg.substr(j + 1);
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          throw UsageError("option " + flag + " needs a value");
        }
        apply(raw, *spec, flag, std::move(value));
        break;
      }
    } else {
      throw UsageError("unexpected argument " + quoted(arg));
    }
  }
  return raw;
}

struct Rules {
  std::vector<Key> allowed;
  bool needs_service = false;
  bool needs_real = false;
};

Rules rules_for(Op op) {
  switch (op) {
    case Op::kAddService:
    case Op::kEditService:
      return {{Key::kTcp, Key::kUdp, Key::kScheduler}, true, false};
    case Op::kDelService:
      return {{Key::kTcp, Key::kUdp}, true, false};
    case Op::kAddDest:
    case Op::kEditDest:
      return {{Key::kTcp, Key::kUdp, Key::kReal, Key::kWeight, Key::kForward}, true, true};
    case Op::kDelDest:
      return {{Key::kTcp, Key::kUdp, Key::kReal}, true, true};
    case Op::kList:
      return {{Key::kTcp, Key::kUdp, Key::kNumeric, Key::kStats, Key::kExact}, false, false};
    case Op::kSave:
      return {{Key::kTcp, Key::kUdp, Key::kNumeric}, false, false};
    case Op::kZero:
      return {{Key::kTcp, Key::kUdp}, false, false};
    case Op::kClear:
    case Op::kRestore:
    case Op::kHelp:
    case Op::kVersion:
      return {{}, false, false};
  }
  return {};
}

sockvs::ServiceKey parse_service(const std::string& text, std::uint16_t protocol) {
  sockvs::Endpoint ep;
  try {
    ep = sockvs::parse_endpoint(text);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("virtual service: ") + e.what());
  }
  if (!ep.port) {
    throw UsageError("virtual service " + quoted(text) +
                     " needs a port: ADDRESS:PORT, or [ADDRESS]:PORT for IPv6");
  }
  return sockvs::ServiceKey{protocol, ep.addr, *ep.port};
}

std::uint32_t parse_weight(const std::string& text) {
  unsigned long value = 0;
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(),
                                                   [](char c) { return c >= '0' && c <= '9'; });
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!digits || ec != std::errc() || ptr != text.data() + text.size() ||
      value > SOCK_VS_WEIGHT_MAX) {
    throw UsageError("invalid weight " + quoted(text) + ": expected 0-" +
                     std::to_string(SOCK_VS_WEIGHT_MAX));
  }
  return static_cast<std::uint32_t>(value);
}

sockvs::RealServer parse_real(const std::string& text, const sockvs::ServiceKey& svc) {
  sockvs::Endpoint ep;
  try {
    ep = sockvs::parse_endpoint(text);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("real server: ") + e.what());
  }
  if (ep.addr.family() != svc.af()) {
    throw UsageError("real server " + quoted(text) + " is " +
                     std::string(sockvs::family_name(ep.addr.family())) +
                     " but the virtual service is " + std::string(sockvs::family_name(svc.af())));
  }
  sockvs::RealServer dest;
  dest.addr = ep.addr;
  dest.port = ep.port.value_or(svc.port);
  dest.weight = SOCK_VS_WEIGHT_DEFAULT;
  return dest;
}

}  // namespace

std::string_view op_name(Op op) noexcept {
  switch (op) {
    case Op::kAddService:
      return "--add-service";
    case Op::kEditService:
      return "--edit-service";
    case Op::kDelService:
      return "--delete-service";
    case Op::kAddDest:
      return "--add-server";
    case Op::kEditDest:
      return "--edit-server";
    case Op::kDelDest:
      return "--delete-server";
    case Op::kClear:
      return "--clear";
    case Op::kList:
      return "--list";
    case Op::kSave:
      return "--save";
    case Op::kRestore:
      return "--restore";
    case Op::kZero:
      return "--zero";
    case Op::kHelp:
      return "--help";
    case Op::kVersion:
      return "--version";
  }
  return "?";
}

bool is_change(Op op) noexcept {
  switch (op) {
    case Op::kAddService:
    case Op::kEditService:
    case Op::kDelService:
    case Op::kAddDest:
    case Op::kEditDest:
    case Op::kDelDest:
    case Op::kClear:
    case Op::kZero:
      return true;
    default:
      return false;
  }
}

Command parse_command(std::span<const std::string> args) {
  Raw raw = scan(args);
  Command cmd;
  cmd.op = raw.op.value_or(Op::kList);  // like ipvsadm: no command lists
  const std::string cmd_name = raw.op ? raw.op_flag : std::string("--list");

  const Rules rules = rules_for(cmd.op);
  for (const auto& [key, flag] : raw.seen) {
    if (std::find(rules.allowed.begin(), rules.allowed.end(), key) == rules.allowed.end()) {
      std::string msg = "option " + flag;
      msg += " is not valid with ";
      msg += cmd_name;
      throw UsageError(msg);
    }
  }
  if (rules.needs_service && !raw.service) {
    throw UsageError(cmd_name + " needs a virtual service (-t or -u ADDRESS:PORT)");
  }
  if (rules.needs_real && !raw.real) {
    throw UsageError(cmd_name + " needs a real server (-r ADDRESS[:PORT])");
  }

  if (raw.service) {
    cmd.service = parse_service(*raw.service, raw.protocol);
  }
  if (raw.scheduler) {
    if (!sockvs::valid_sched_name(*raw.scheduler)) {
      throw UsageError("invalid scheduler name " + quoted(*raw.scheduler) + ": 1-" +
                       std::to_string(SOCK_VS_SCHED_NAME_MAX - 1) + " letters, digits, '_' or '-'");
    }
    cmd.scheduler = *raw.scheduler;
  } else if (cmd.op == Op::kAddService) {
    cmd.scheduler = SOCK_VS_SCHED_DEFAULT;
  }
  if (raw.real) {
    cmd.dest = parse_real(*raw.real, *cmd.service);
    if (raw.weight) {
      cmd.dest->weight = parse_weight(*raw.weight);
    }
  }
  cmd.numeric = raw.numeric;
  cmd.stats = raw.stats;
  cmd.exact = raw.exact;
  return cmd;
}

std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> words;
  std::size_t i = 0;
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (i < line.size()) {
    while (i < line.size() && blank(line[i])) {
      ++i;
    }
    const std::size_t start = i;
    while (i < line.size() && !blank(line[i])) {
      ++i;
    }
    if (i > start) {
      words.emplace_back(line.substr(start, i - start));
    }
  }
  return words;
}

std::string usage_text() {
  return R"(Usage:
  sockvsadm -A|E virtual-service [-s scheduler]
  sockvsadm -D virtual-service
  sockvsadm -C
  sockvsadm -R
  sockvsadm -S [virtual-service] [-n]
  sockvsadm -a|e virtual-service -r server-address [-w weight]
  sockvsadm -d virtual-service -r server-address
  sockvsadm -L|l [virtual-service] [-n] [--stats] [--exact]
  sockvsadm -Z [virtual-service]
  sockvsadm -h
  sockvsadm -V

sock_vs load-balances connect() on this host.  sockvsadm configures it with
ipvsadm's syntax; without a command it lists, like ipvsadm.

Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --help            -h        display this help message
  --version         -V        display the versions of sockvsadm and the module

virtual-service:
  --tcp-service|-t  service-address   service-address is host:port
  --udp-service|-u  service-address   service-address is host:port
  IPv6 addresses go in brackets: -t [fd00::1]:80

Options:
  --scheduler    -s scheduler         one of the module's schedulers (rr, wrr),
                                      the default scheduler is wrr; -E without
                                      -s keeps the current scheduler
  --real-server  -r server-address    server-address is host[:port]; the port
                                      defaults to the virtual service's port
  --weight       -w weight            capacity of real server, 0-65535
                                      (default 1, also for -e); 0 quiesces it
  --masquerading -m, --gatewaying -g, --ipip -i
                                      accepted and ignored: sock_vs has a
                                      single forwarding method (Sock)
  --numeric      -n                   numeric output of addresses and ports
  --stats                             output of statistics information
  --exact                             expand numbers (display exact values)

Addresses and ports must be numeric: names are not resolved (host names
and service names alike).  Output is always numeric, with or without -n.

-R reads lines in the format printed by -S, e.g.
  -A -t 10.0.0.1:6379 -s rr
  -a -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 2
Blank lines and lines starting with '#' are ignored.  -R is all-or-nothing:
every line is checked before anything is applied, so a malformed line
changes nothing; the lines are then applied in order, and if the module
rejects one (e.g. an unknown scheduler, or a service that already exists),
the lines applied before it are undone and the error names the line.  (Undo
cannot bring back counters: a service or real server deleted and restored
this way starts from zero, and counters zeroed by a -Z line stay zeroed.)

Exit status: 0 on success, 1 if an operation failed, 2 on a usage error.
)";
}

}  // namespace sockvsadm
