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
  kHashKey,
  kShardPolicy,
  kUThreshold,
  kLThreshold,
  kShards,      // --shards N (-a, -e)
  kShardsView,  // --shards without a value (-L)
  kThresholds,
  kJson,          // --json (-L, -S, -R)
  kReplace,       // --replace (-R): the input replaces the whole table
  kConnection,    // -c (-L)
  kRealPeername,  // --real-peername (-A, -E)
  kUnconnected,   // --unconnected (-A, -E; UDP)
  kTerminate,     // --terminate (-A, -E, -K)
  kSkipUid,       // --skip-uid (-A, -E; repeatable)
  kSkipCgroup,    // --skip-cgroup (-A, -E; repeatable)
  kSkipMark,      // --skip-mark (-A, -E; repeatable)
  kSkipNone,      // --skip-none (-A, -E)
  kPersistent,    // -p [timeout] (-A, -E)
  kSort,          // --sort (-L, -S): services by protocol, address, port
  kNoSort,        // --nosort (-L, -S): the module's order, the default
  kEject,         // --eject N (-A, -E; TCP)
  kEjectTime,     // --eject-time S (-A, -E; TCP)
  kEjectTimeMax,  // --eject-time-max S (-A, -E; TCP)
  kEjectPercent,  // --eject-max-percent P (-A, -E; TCP)
};

enum class Arg {
  kNone,
  kRequired,
  // Long only: takes the next argument as its value unless that looks like
  // an option ("-n", but not "-1"); Key::kShards with a value,
  // Key::kShardsView without.
  kOptional,
  // Short and long: takes the next argument as its value only when it is
  // all digits ("-p 300"); otherwise the option has no value and that
  // argument is left alone ("-p -s rr", "-p abc" -> 'abc' is unexpected).
  // An attached value ("-p300", "--persistent=300") is always its value.
  // Without a value the option gets bare_value().
  kOptionalNumber,
};

struct OptSpec {
  char short_name;  // '\0': long only
  std::string_view long_name;
  Arg arg;
  Key key;
  Op op;  // for Key::kCommand
};

constexpr Arg kNo = Arg::kNone;
constexpr Arg kYes = Arg::kRequired;

constexpr std::array kOptions = {
    OptSpec{'A', "add-service", kNo, Key::kCommand, Op::kAddService},
    OptSpec{'E', "edit-service", kNo, Key::kCommand, Op::kEditService},
    OptSpec{'D', "delete-service", kNo, Key::kCommand, Op::kDelService},
    OptSpec{'a', "add-server", kNo, Key::kCommand, Op::kAddDest},
    OptSpec{'e', "edit-server", kNo, Key::kCommand, Op::kEditDest},
    OptSpec{'d', "delete-server", kNo, Key::kCommand, Op::kDelDest},
    OptSpec{'C', "clear", kNo, Key::kCommand, Op::kClear},
    OptSpec{'L', "list", kNo, Key::kCommand, Op::kList},
    OptSpec{'l', "", kNo, Key::kCommand, Op::kList},
    OptSpec{'S', "save", kNo, Key::kCommand, Op::kSave},
    OptSpec{'R', "restore", kNo, Key::kCommand, Op::kRestore},
    OptSpec{'Z', "zero", kNo, Key::kCommand, Op::kZero},
    OptSpec{'K', "kill", kNo, Key::kCommand, Op::kKill},
    OptSpec{'h', "help", kNo, Key::kCommand, Op::kHelp},
    OptSpec{'v', "version", kNo, Key::kCommand, Op::kVersion},
    OptSpec{'V', "", kNo, Key::kCommand, Op::kVersion},
    OptSpec{'t', "tcp-service", kYes, Key::kTcp, Op::kList},
    OptSpec{'u', "udp-service", kYes, Key::kUdp, Op::kList},
    OptSpec{'s', "scheduler", kYes, Key::kScheduler, Op::kList},
    OptSpec{'r', "real-server", kYes, Key::kReal, Op::kList},
    OptSpec{'w', "weight", kYes, Key::kWeight, Op::kList},
    OptSpec{'n', "numeric", kNo, Key::kNumeric, Op::kList},
    OptSpec{'\0', "stats", kNo, Key::kStats, Op::kList},
    OptSpec{'X', "exact", kNo, Key::kExact, Op::kList},
    OptSpec{'m', "masquerading", kNo, Key::kForward, Op::kList},
    OptSpec{'g', "gatewaying", kNo, Key::kForward, Op::kList},
    OptSpec{'i', "ipip", kNo, Key::kForward, Op::kList},
    OptSpec{'\0', "hash-key", kYes, Key::kHashKey, Op::kList},
    OptSpec{'\0', "shard-policy", kYes, Key::kShardPolicy, Op::kList},
    OptSpec{'x', "u-threshold", kYes, Key::kUThreshold, Op::kList},
    OptSpec{'y', "l-threshold", kYes, Key::kLThreshold, Op::kList},
    OptSpec{'\0', "shards", Arg::kOptional, Key::kShards, Op::kList},
    OptSpec{'\0', "thresholds", kNo, Key::kThresholds, Op::kList},
    OptSpec{'\0', "json", kNo, Key::kJson, Op::kList},
    OptSpec{'\0', "replace", kNo, Key::kReplace, Op::kList},
    OptSpec{'c', "connection", kNo, Key::kConnection, Op::kList},
    OptSpec{'\0', "real-peername", kNo, Key::kRealPeername, Op::kList},
    OptSpec{'\0', "unconnected", kNo, Key::kUnconnected, Op::kList},
    OptSpec{'\0', "terminate", kYes, Key::kTerminate, Op::kList},
    OptSpec{'\0', "skip-uid", kYes, Key::kSkipUid, Op::kList},
    OptSpec{'\0', "skip-cgroup", kYes, Key::kSkipCgroup, Op::kList},
    OptSpec{'\0', "skip-mark", kYes, Key::kSkipMark, Op::kList},
    OptSpec{'\0', "skip-none", kNo, Key::kSkipNone, Op::kList},
    OptSpec{'p', "persistent", Arg::kOptionalNumber, Key::kPersistent, Op::kList},
    OptSpec{'\0', "sort", kNo, Key::kSort, Op::kList},
    OptSpec{'\0', "nosort", kNo, Key::kNoSort, Op::kList},
    OptSpec{'\0', "eject", kYes, Key::kEject, Op::kList},
    OptSpec{'\0', "eject-time", kYes, Key::kEjectTime, Op::kList},
    OptSpec{'\0', "eject-time-max", kYes, Key::kEjectTimeMax, Op::kList},
    OptSpec{'\0', "eject-max-percent", kYes, Key::kEjectPercent, Op::kList},
};

// ipvsadm options that sock_vs cannot honour: refused with what to do
// instead (exit status 2, before anything is sent to the module).
struct RefusedSpec {
  char short_name;  // '\0': long only
  std::string_view long_name;
  std::string_view instead;
};

constexpr std::string_view kNoSync =
    "sock_vs has no connection sync daemon: each host balances its own connects, so there is "
    "no connection state to copy to a backup";
constexpr std::string_view kNoTimeouts =
    "sock_vs keeps no connection timeouts: a balanced socket is the application's own and lives "
    "until it is closed (a persistence timeout is -p's value)";
constexpr std::string_view kNoTunnel =
    "sock_vs forwards no packets, so there is no tunnel to configure (-i, like -m and -g, is "
    "accepted and ignored)";

constexpr std::array kRefused = {
    RefusedSpec{'M', "netmask",
                "sock_vs persistence has no client netmask: -p keys on what --hash-key names "
                "(tgid, local, cgroup or netns)"},
    RefusedSpec{'f', "fwmark-service",
                "sock_vs has no firewall-mark services: give the service as -t or -u "
                "ADDRESS:PORT (--skip-mark exempts marked sockets from a service)"},
    RefusedSpec{'\0', "pe", "sock_vs has no persistence engines: use -p [timeout] with --hash-key"},
    RefusedSpec{'o', "ops",
                "sock_vs has no one-packet scheduling: a UDP socket is balanced at connect(); "
                "--unconnected balances sendto() on unconnected sockets"},
    RefusedSpec{'b', "sched-flags",
                "sock_vs schedulers take no flags: sh and mh hash what --hash-key names"},
    RefusedSpec{'6', "ipv6",
                "sock_vs has no firewall-mark services (-f) for it to apply to: an IPv6 service "
                "is -t or -u [ADDRESS]:PORT"},
    RefusedSpec{'\0', "sctp-service", "sock_vs balances TCP and UDP only (-t, -u)"},
    RefusedSpec{'\0', "daemon", kNoSync},
    RefusedSpec{'\0', "start-daemon", kNoSync},
    RefusedSpec{'\0', "stop-daemon", kNoSync},
    RefusedSpec{'\0', "mcast-interface", kNoSync},
    RefusedSpec{'\0', "mcast-group", kNoSync},
    RefusedSpec{'\0', "mcast-port", kNoSync},
    RefusedSpec{'\0', "mcast-ttl", kNoSync},
    RefusedSpec{'\0', "sync-maxlen", kNoSync},
    RefusedSpec{'\0', "syncid", kNoSync},
    RefusedSpec{'\0', "timeout", kNoTimeouts},
    RefusedSpec{'\0', "set", kNoTimeouts},
    RefusedSpec{'\0', "tun-type", kNoTunnel},
    RefusedSpec{'\0', "tun-port", kNoTunnel},
    RefusedSpec{'\0', "tun-nocsum", kNoTunnel},
    RefusedSpec{'\0', "tun-csum", kNoTunnel},
    RefusedSpec{'\0', "tun-remcsum", kNoTunnel},
    RefusedSpec{'\0', "tun-info", kNoTunnel},
    RefusedSpec{'\0', "rate", "sock_vs counts connections, not packets or bytes: use --stats"},
    RefusedSpec{'\0', "persistent-conn",
                "use -L -c: it lists the persistence templates with their connection counts"},
};

[[noreturn]] void refuse(const RefusedSpec& r) {
  std::string msg = "option ";
  if (r.short_name != '\0') {
    msg += std::string("-") + r.short_name + " (--" + std::string(r.long_name) + ")";
  } else {
    msg += "--" + std::string(r.long_name);
  }
  msg += " is not supported: ";
  msg += r.instead;
  throw UsageError(msg);
}

const OptSpec* find_short(char c) {
  for (const auto& o : kOptions) {
    if (o.short_name == c) {
      return &o;
    }
  }
  for (const auto& r : kRefused) {
    if (r.short_name == c) {
      refuse(r);
    }
  }
  return nullptr;
}

// A long option by its name or, as getopt_long does, by a prefix of exactly
// one option's name ("--num" for --numeric).  An exact name wins ("--pe"
// is not "--persistent"); an ambiguous prefix is an error naming the
// candidates; a refused ipvsadm option throws refuse()'s message.
const OptSpec* find_long(std::string_view name) {
  for (const auto& o : kOptions) {
    if (!o.long_name.empty() && o.long_name == name) {
      return &o;
    }
  }
  for (const auto& r : kRefused) {
    if (r.long_name == name) {
      refuse(r);
    }
  }
  const OptSpec* found = nullptr;
  const RefusedSpec* refused = nullptr;
  std::vector<std::string_view> candidates;
  for (const auto& o : kOptions) {
    if (!o.long_name.empty() && o.long_name.starts_with(name)) {
      found = &o;
      candidates.push_back(o.long_name);
    }
  }
  for (const auto& r : kRefused) {
    if (r.long_name.starts_with(name)) {
      refused = &r;
      candidates.push_back(r.long_name);
    }
  }
  if (candidates.size() > 1) {
    std::string msg = "option '--" + std::string(name) + "' is ambiguous; possibilities:";
    for (const auto c : candidates) {
      msg += " --";
      msg += c;
    }
    throw UsageError(msg);
  }
  if (refused != nullptr) {
    refuse(*refused);
  }
  return found;
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
  std::optional<std::string> hash_key;
  std::optional<std::string> shard_policy;
  std::optional<std::string> terminate;
  std::optional<std::string> u_threshold;
  std::optional<std::string> l_threshold;
  std::optional<std::string> shards;
  std::optional<std::string> persist;  // -p: the timeout as given (or the default)
  std::optional<std::string> eject;
  std::optional<std::string> eject_time;
  std::optional<std::string> eject_time_max;
  std::optional<std::string> eject_percent;
  bool numeric = false;
  bool stats = false;
  bool exact = false;
  bool thresholds = false;
  bool shards_view = false;
  bool json = false;
  bool replace = false;
  bool connection = false;
  bool real_peername = false;
  bool unconnected = false;
  // --skip-uid / --skip-cgroup / --skip-mark values, in the order given.
  std::vector<std::pair<Key, std::string>> skips;
  bool skip_none = false;
  bool sort = false;
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
    case Key::kHashKey:
      set_once(raw.hash_key, flag, std::move(value));
      break;
    case Key::kShardPolicy:
      set_once(raw.shard_policy, flag, std::move(value));
      break;
    case Key::kTerminate:
      set_once(raw.terminate, flag, std::move(value));
      break;
    case Key::kPersistent:
      set_once(raw.persist, flag, std::move(value));
      break;
    case Key::kEject:
      set_once(raw.eject, flag, std::move(value));
      break;
    case Key::kEjectTime:
      set_once(raw.eject_time, flag, std::move(value));
      break;
    case Key::kEjectTimeMax:
      set_once(raw.eject_time_max, flag, std::move(value));
      break;
    case Key::kEjectPercent:
      set_once(raw.eject_percent, flag, std::move(value));
      break;
    case Key::kUThreshold:
      set_once(raw.u_threshold, flag, std::move(value));
      break;
    case Key::kLThreshold:
      set_once(raw.l_threshold, flag, std::move(value));
      break;
    case Key::kShards:
      if (raw.shards_view) {
        throw UsageError("option " + flag + " given more than once");
      }
      set_once(raw.shards, flag, std::move(value));
      break;
    case Key::kShardsView:
      if (raw.shards_view || raw.shards) {
        throw UsageError("option " + flag + " given more than once");
      }
      raw.shards_view = true;
      break;
    case Key::kThresholds:
      raw.thresholds = true;
      break;
    case Key::kJson:
      raw.json = true;
      break;
    case Key::kReplace:
      raw.replace = true;
      break;
    case Key::kConnection:
      raw.connection = true;
      break;
    case Key::kRealPeername:
      raw.real_peername = true;
      break;
    case Key::kUnconnected:
      raw.unconnected = true;
      break;
    case Key::kSkipUid:
    case Key::kSkipCgroup:
    case Key::kSkipMark:
      raw.skips.emplace_back(spec.key, std::move(value));
      break;
    case Key::kSkipNone:
      raw.skip_none = true;
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
    case Key::kSort:
      raw.sort = true;
      break;
    case Key::kNoSort:
    case Key::kForward:
      break;
  }
  raw.seen.emplace(spec.key, flag);
}

// An argument that an optional option value must not swallow: "-n",
// "--stats", but not a negative number ("-1": no short option is a digit).
bool looks_like_option(const std::string& arg) {
  return arg.size() > 1 && arg[0] == '-' && (arg[1] < '0' || arg[1] > '9');
}

// The value of an Arg::kOptionalNumber option given without one: -p alone
// is ipvsadm's default timeout.
std::string bare_value(const OptSpec& /*spec*/) { return std::to_string(sockvs::kPersistDefault); }

// The value of an Arg::kOptionalNumber option: a word of digits only.
bool all_digits(const std::string& arg) {
  return !arg.empty() &&
         std::all_of(arg.begin(), arg.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Raw scan(std::span<const std::string> args) {
  Raw raw;
  // The Arg::kOptionalNumber option that the argument at index bare_next
  // did not become the value of (for the message if it is unexpected).
  std::string bare_flag;
  std::size_t bare_next = args.size();
  bool options_done = false;  // after "--": no more options, as getopt_long
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!options_done && arg == "--") {
      options_done = true;
      continue;
    }
    if (options_done) {
      // sockvsadm takes no operands: what follows "--" is unexpected.
      throw UsageError("unexpected argument " + quoted(arg) + " (after '--')");
    }
    if (arg.size() > 2 && arg.starts_with("--")) {
      const auto eq = arg.find('=');
      const std::string name = arg.substr(2, eq == std::string::npos ? eq : eq - 2);
      const OptSpec* spec = find_long(name);
      if (spec == nullptr) {
        throw UsageError("unknown option " + quoted("--" + name));
      }
      const std::string flag = "--" + std::string(spec->long_name);
      std::string value;
      if (eq != std::string::npos) {
        if (spec->arg == Arg::kNone) {
          throw UsageError("option " + flag + " takes no value");
        }
        value = arg.substr(eq + 1);
      } else if (spec->arg == Arg::kOptionalNumber) {
        if (i + 1 < args.size() && all_digits(args[i + 1])) {
          value = args[++i];
        } else {
          value = bare_value(*spec);
          bare_flag = flag;
          bare_next = i + 1;
        }
      } else if (spec->arg == Arg::kRequired) {
        if (i + 1 >= args.size()) {
          throw UsageError("option " + flag + " needs a value");
        }
        value = args[++i];
      } else if (spec->arg == Arg::kOptional) {
        if (i + 1 < args.size() && !looks_like_option(args[i + 1])) {
          value = args[++i];
        } else {
          OptSpec bare = *spec;
          bare.key = Key::kShardsView;
          apply(raw, bare, flag, {});
          continue;
        }
      }
      apply(raw, *spec, flag, std::move(value));
    } else if (arg.size() > 1 && arg[0] == '-') {
      // One or more short options bundled: -Ln, -w2, -t 10.0.0.1:80.
      for (std::size_t j = 1; j < arg.size(); ++j) {
        const std::string flag = std::string("-") + arg[j];
        const OptSpec* spec = find_short(arg[j]);
        if (spec == nullptr) {
          throw UsageError("unknown option " + quoted(flag));
        }
        if (spec->arg == Arg::kNone) {
          apply(raw, *spec, flag, {});
          continue;
        }
        std::string value;
        if (j + 1 < arg.size()) {
          value = arg.substr(j + 1);
        } else if (spec->arg == Arg::kOptionalNumber) {
          if (i + 1 < args.size() && all_digits(args[i + 1])) {
            value = args[++i];
          } else {
            value = bare_value(*spec);
            bare_flag = flag;
            bare_next = i + 1;
          }
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          throw UsageError("option " + flag + " needs a value");
        }
        apply(raw, *spec, flag, std::move(value));
        break;
      }
    } else {
      if (i == bare_next) {
        throw UsageError("unexpected argument " + quoted(arg) + " (the timeout of " + bare_flag +
                         " is a number of seconds, digits only)");
      }
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
      return {{Key::kTcp, Key::kUdp, Key::kScheduler, Key::kHashKey, Key::kShardPolicy,
               Key::kRealPeername, Key::kTerminate, Key::kSkipUid, Key::kSkipCgroup, Key::kSkipMark,
               Key::kSkipNone, Key::kPersistent, Key::kUnconnected, Key::kEject, Key::kEjectTime,
               Key::kEjectTimeMax, Key::kEjectPercent},
              true,
              false};
    case Op::kDelService:
      return {{Key::kTcp, Key::kUdp}, true, false};
    case Op::kAddDest:
    case Op::kEditDest:
      return {{Key::kTcp, Key::kUdp, Key::kReal, Key::kWeight, Key::kForward, Key::kUThreshold,
               Key::kLThreshold, Key::kShards},
              true,
              true};
    case Op::kDelDest:
      return {{Key::kTcp, Key::kUdp, Key::kReal}, true, true};
    case Op::kKill:
      return {{Key::kTcp, Key::kUdp, Key::kReal, Key::kTerminate}, true, false};
    case Op::kList:
      return {{Key::kTcp, Key::kUdp, Key::kNumeric, Key::kStats, Key::kExact, Key::kThresholds,
               Key::kShardsView, Key::kJson, Key::kConnection, Key::kSort, Key::kNoSort},
              false,
              false};
    case Op::kSave:
      return {{Key::kTcp, Key::kUdp, Key::kNumeric, Key::kJson, Key::kSort, Key::kNoSort},
              false,
              false};
    case Op::kZero:
      return {{Key::kTcp, Key::kUdp}, false, false};
    case Op::kRestore:
      return {{Key::kJson, Key::kReplace}, false, false};
    case Op::kClear:
    case Op::kHelp:
    case Op::kVersion:
      return {{}, false, false};
  }
  return {};
}

// An address and port as typed: HOST:PORT, [HOST]:PORT, HOST, [HOST] or a
// bare IPv6 address; HOST numeric or a host name, PORT a number or a
// service name.
struct EndpointText {
  std::string host;
  bool bracketed = false;
  std::optional<std::string> port;
};

// `what`: "virtual service" or "real server", for the messages.
EndpointText split_endpoint(const std::string& text, const std::string& what) {
  if (text.empty()) {
    throw UsageError(what + ": empty address");
  }
  EndpointText ep;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) {
      throw UsageError(what + ": invalid address " + quoted(text) + ": missing ']'");
    }
    ep.host = text.substr(1, close - 1);
    ep.bracketed = true;
    const std::string rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        throw UsageError(what + ": invalid address " + quoted(text) +
                         ": expected ':PORT' after ']'");
      }
      ep.port = rest.substr(1);
    }
    return ep;
  }
  if (std::count(text.begin(), text.end(), ':') == 1) {
    const auto colon = text.find(':');
    ep.host = text.substr(0, colon);
    ep.port = text.substr(colon + 1);
  } else {
    ep.host = text;  // no port: IPv4 or a name, or a bare IPv6 address
  }
  return ep;
}

// A host name rather than a malformed address: not empty, no ':' (IPv6),
// not only digits and dots ("10.0.0", "10.0.0.256": no top-level domain is
// numeric, and ipvsadm takes no all-digit host either).
bool is_host_name(std::string_view host) {
  return !host.empty() && host.find(':') == std::string_view::npos &&
         !std::all_of(host.begin(), host.end(),
                      [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

// The numeric address of `ep`, nullopt if its host is a name.  Throws for a
// malformed address.
std::optional<sockvs::Address> numeric_host(const EndpointText& ep, const std::string& text,
                                            const std::string& what) {
  const auto addr = sockvs::Address::parse(ep.host);
  if (ep.bracketed) {
    if (addr && !addr->is_v6()) {
      throw UsageError(what + ": invalid IPv6 address " + quoted(ep.host) + " in " + quoted(text));
    }
    if (!addr && !is_host_name(ep.host)) {
      throw UsageError(what + ": invalid IPv6 address " + quoted(ep.host) + " in " + quoted(text));
    }
    return addr;
  }
  if (addr) {
    if (ep.port && !addr->is_v4()) {
      throw UsageError(what + ": invalid address " + quoted(text));
    }
    return addr;
  }
  if (!is_host_name(ep.host)) {
    throw UsageError(what + ": invalid address " + quoted(ep.host) +
                     " (use a numeric IPv4 address, a bracketed IPv6 address or a host name)");
  }
  return std::nullopt;
}

// The first address of `family` of host name `ep.host`, as ipvsadm takes
// the first address of a name.  `service_family`: the virtual service's
// family for a real server, AF_UNSPEC for the virtual service itself.
sockvs::Address resolve_host(const EndpointText& ep, int family, int service_family,
                             const std::string& text, const std::string& what,
                             const Resolver& names) {
  const HostLookup found = names.host_addresses(ep.host);
  if (found.addrs.empty()) {
    throw UsageError(what + ": cannot resolve host " + quoted(ep.host) + " in " + quoted(text) +
                     " (" + found.error + ")");
  }
  for (const auto& addr : found.addrs) {
    if (addr.family() == family) {
      return addr;
    }
  }
  std::string msg = what + ": host " + quoted(ep.host) + " has no " +
                    std::string(sockvs::family_name(family)) + " address";
  const std::string other(sockvs::family_name(family == AF_INET ? AF_INET6 : AF_INET));
  if (service_family != AF_UNSPEC) {
    msg += " (only " + other + " addresses), and the virtual service is " +
           std::string(sockvs::family_name(service_family));
  } else if (family == AF_INET) {
    msg += " (only " + other + " addresses: for an IPv6 virtual service give it in brackets, [" +
           ep.host + "]:PORT)";
  } else {
    msg += " (only " + other + " addresses: for an IPv4 virtual service give it without brackets)";
  }
  throw UsageError(msg);
}

// A port: 1-65535, or a service name of `protocol` (getservbyname).
std::uint16_t port_of(const std::string& port, std::uint16_t protocol, const std::string& text,
                      const std::string& what, const Resolver& names) {
  if (port.empty() ||
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    try {
      return sockvs::parse_port(port);
    } catch (const std::invalid_argument& e) {
      throw UsageError(what + ": " + e.what() + " in " + quoted(text));
    }
  }
  const auto found = names.service_port(port, protocol);
  if (!found || *found == 0) {
    throw UsageError(what + ": unknown port " + quoted(port) + " in " + quoted(text) +
                     ": neither a number 1-65535 nor a " + sockvs::protocol_name(protocol) +
                     " service name (/etc/services)");
  }
  return *found;
}

sockvs::ServiceKey parse_service(const std::string& text, std::uint16_t protocol,
                                 const Resolver& names) {
  const std::string what = "virtual service";
  const EndpointText ep = split_endpoint(text, what);
  auto addr = numeric_host(ep, text, what);
  if (!addr) {
    addr = resolve_host(ep, ep.bracketed ? AF_INET6 : AF_INET, AF_UNSPEC, text, what, names);
  }
  if (!ep.port) {
    throw UsageError("virtual service " + quoted(text) +
                     " needs a port: ADDRESS:PORT, or [ADDRESS]:PORT for IPv6");
  }
  return sockvs::ServiceKey{protocol, *addr, port_of(*ep.port, protocol, text, what, names)};
}

// Digits only in `base` (10 or 16; no sign, no spaces, no prefix), up to
// UINT32_MAX; nullopt otherwise.
std::optional<std::uint32_t> digits_value(std::string_view text, int base) {
  const auto is_digit = [base](char c) {
    return (c >= '0' && c <= '9') ||
           (base == 16 && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
  };
  if (text.empty() || !std::all_of(text.begin(), text.end(), is_digit)) {
    return std::nullopt;
  }
  std::uint32_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// A decimal number min..max (digits only: no sign, no spaces, no hex).
std::uint32_t parse_number(const std::string& text, std::uint32_t min, std::uint32_t max,
                           const std::string& what) {
  const auto value = digits_value(text, 10);
  if (!value || *value < min || *value > max) {
    throw UsageError("invalid " + what + " " + quoted(text) + ": expected " + std::to_string(min) +
                     "-" + std::to_string(max));
  }
  return *value;
}

// --skip-uid UID[-UID], decimal.
sockvs::SkipUid parse_skip_uid(const std::string& text) {
  const auto dash = text.find('-');
  const std::string_view all(text);
  const auto min = digits_value(all.substr(0, dash), 10);
  const auto max = dash == std::string::npos ? min : digits_value(all.substr(dash + 1), 10);
  if (!min || !max || *min > sockvs::kSkipUidMax || *max > sockvs::kSkipUidMax) {
    throw UsageError("invalid --skip-uid " + quoted(text) + ": expected UID or UID-UID, 0-" +
                     std::to_string(sockvs::kSkipUidMax));
  }
  const sockvs::SkipUid uid{*min, *max};
  if (const std::string problem = sockvs::skip_rule_problem(uid); !problem.empty()) {
    throw UsageError("invalid --skip-uid " + quoted(text) + ": " + problem);
  }
  return uid;
}

// A mark or mask of --skip-mark: decimal or 0x hex, up to 0xffffffff.
std::uint32_t parse_mark_number(std::string_view part, const std::string& text) {
  const bool hex = part.starts_with("0x") || part.starts_with("0X");
  const auto value = hex ? digits_value(part.substr(2), 16) : digits_value(part, 10);
  if (!value) {
    throw UsageError("invalid --skip-mark " + quoted(text) +
                     ": expected VALUE or VALUE/MASK, each decimal or 0x hex up to 0xffffffff");
  }
  return *value;
}

// --skip-mark VALUE[/MASK].
sockvs::SkipMark parse_skip_mark(const std::string& text) {
  const auto slash = text.find('/');
  const std::string_view all(text);
  sockvs::SkipMark mark;
  mark.mark = parse_mark_number(all.substr(0, slash), text);
  if (slash != std::string::npos) {
    mark.mask = parse_mark_number(all.substr(slash + 1), text);
  }
  if (const std::string problem = sockvs::skip_rule_problem(mark); !problem.empty()) {
    throw UsageError("invalid --skip-mark " + quoted(text) + ": " + problem);
  }
  return mark;
}

// --skip-uid, --skip-cgroup, --skip-mark (in the order given) and
// --skip-none of -A / -E.
std::optional<std::vector<sockvs::SkipRule>> parse_skip_options(const Raw& raw) {
  if (raw.skip_none) {
    if (!raw.skips.empty()) {
      throw UsageError("option --skip-none cannot be combined with " +
                       raw.seen.at(raw.skips.front().first) +
                       ": the --skip-* options given replace the exemptions anyway");
    }
    return std::vector<sockvs::SkipRule>{};
  }
  if (raw.skips.empty()) {
    return std::nullopt;
  }
  if (raw.skips.size() > SOCK_VS_SKIP_MAX) {
    throw UsageError("too many exemptions: at most " + std::to_string(SOCK_VS_SKIP_MAX) +
                     " per service (--skip-uid, --skip-cgroup, --skip-mark), " +
                     std::to_string(raw.skips.size()) + " given");
  }
  std::vector<sockvs::SkipRule> rules;
  for (const auto& [key, text] : raw.skips) {
    if (key == Key::kSkipUid) {
      rules.emplace_back(parse_skip_uid(text));
    } else if (key == Key::kSkipMark) {
      rules.emplace_back(parse_skip_mark(text));
    } else {
      rules.emplace_back(sockvs::SkipCgroup{cgroup_skip_path(text), 0});
    }
  }
  return rules;
}

std::uint32_t parse_weight(const std::string& text) {
  return parse_number(text, 0, SOCK_VS_WEIGHT_MAX, "weight");
}

sockvs::HashKey parse_hash_key_option(const std::string& text) {
  if (const auto key = sockvs::parse_hash_key(text)) {
    return *key;
  }
  throw UsageError("invalid hash key " + quoted(text) + ": expected tgid, local, cgroup or netns");
}

sockvs::ShardPolicy parse_shard_policy_option(const std::string& text) {
  if (const auto policy = sockvs::parse_shard_policy(text)) {
    return *policy;
  }
  throw UsageError("invalid shard policy " + quoted(text) + ": expected rr, lc, cpu or hash");
}

// -p / --persistent of -A / -E: 1..kPersistMax seconds.
std::uint32_t parse_persist(const Raw& raw) {
  return parse_number(*raw.persist, 1, sockvs::kPersistMax,
                      "persistence timeout (" + raw.seen.at(Key::kPersistent) + ")");
}

// --eject, --eject-time, --eject-time-max, --eject-max-percent of -A / -E
// into `cmd` (TCP services only).  A base time above the longest is refused
// here when both are known: both given, or -A with the longest's default.
// On -E with one of them alone the module compares with the other's value.
void parse_eject_options(const Raw& raw, Command& cmd) {
  const Key keys[] = {Key::kEject, Key::kEjectTime, Key::kEjectTimeMax, Key::kEjectPercent};
  for (const Key key : keys) {
    if (raw.seen.contains(key) && cmd.service->protocol != IPPROTO_TCP) {
      throw UsageError("option " + raw.seen.at(key) +
                       " is for TCP services (-t): passive health watches TCP handshakes");
    }
  }
  if (raw.eject) {
    cmd.eject = parse_number(*raw.eject, 0, sockvs::kEjectMax,
                             "failures before ejection (" + raw.seen.at(Key::kEject) + ")");
  }
  if (raw.eject_time) {
    cmd.eject_time = parse_number(*raw.eject_time, 1, sockvs::kEjectTimeLimit,
                                  "ejection time (" + raw.seen.at(Key::kEjectTime) + ")");
  }
  if (raw.eject_time_max) {
    cmd.eject_time_max =
        parse_number(*raw.eject_time_max, 1, sockvs::kEjectTimeLimit,
                     "longest ejection time (" + raw.seen.at(Key::kEjectTimeMax) + ")");
  }
  if (raw.eject_percent) {
    cmd.eject_max_percent = static_cast<std::uint8_t>(
        parse_number(*raw.eject_percent, 1, 100,
                     "ejection bound in percent (" + raw.seen.at(Key::kEjectPercent) + ")"));
  }
  if (cmd.eject_time && (cmd.eject_time_max || cmd.op == Op::kAddService)) {
    const std::uint32_t longest = cmd.eject_time_max.value_or(sockvs::kEjectTimeMaxDefault);
    if (*cmd.eject_time > longest) {
      throw UsageError("ejection time " + std::to_string(*cmd.eject_time) + " (" +
                       raw.seen.at(Key::kEjectTime) + ") is above the longest ejection time " +
                       std::to_string(longest) +
                       (cmd.eject_time_max ? " (" + raw.seen.at(Key::kEjectTimeMax) + ")"
                                           : std::string(" (the default: give --eject-time-max)")));
    }
  }
}

// --terminate: any policy for -A / -E; -K must terminate something.
sockvs::Terminate parse_terminate_option(const std::string& text, Op op) {
  const auto policy = sockvs::parse_terminate(text);
  if (!policy) {
    throw UsageError("invalid terminate policy " + quoted(text) + ": expected none, udp or all");
  }
  if (op == Op::kKill && *policy == sockvs::Terminate::kNone) {
    throw UsageError(
        "--terminate none is not valid with -K: it would terminate nothing (give "
        "udp or all, or no --terminate for the service's own policy)");
  }
  return *policy;
}

// -x, -y and --shards of -a / -e into `dest`.
void parse_dest_options(const Raw& raw, Op op, sockvs::RealServer& dest) {
  if (raw.u_threshold) {
    dest.u_threshold = parse_number(*raw.u_threshold, 0, sockvs::kThresholdMax,
                                    "upper threshold (" + raw.seen.at(Key::kUThreshold) + ")");
  }
  if (raw.l_threshold) {
    dest.l_threshold = parse_number(*raw.l_threshold, 0, sockvs::kThresholdMax,
                                    "lower threshold (" + raw.seen.at(Key::kLThreshold) + ")");
  }
  if (raw.shards) {
    dest.shards = static_cast<std::uint16_t>(
        parse_number(*raw.shards, 1, SOCK_VS_SHARDS_MAX, "number of shards (--shards)"));
  }
  // Both given, or -y on -a (where the upper threshold starts at 0).  On -e
  // with -y alone, the module compares with the current upper threshold.
  if (dest.l_threshold && (dest.u_threshold || op == Op::kAddDest)) {
    const std::uint32_t upper = dest.u_threshold.value_or(0);
    if (*dest.l_threshold > upper) {
      std::string msg = "lower threshold " + std::to_string(*dest.l_threshold) + " (" +
                        raw.seen.at(Key::kLThreshold) + ") is above the upper threshold " +
                        std::to_string(upper);
      msg += dest.u_threshold ? " (" + raw.seen.at(Key::kUThreshold) + ")"
                              : std::string(" (-x not given)");
      throw UsageError(msg);
    }
  }
}

// --shards is a value option for -a / -e and a view for -L: say so.
void check_shards_usage(const Raw& raw, Op op, const std::string& cmd_name) {
  const bool dest_change = op == Op::kAddDest || op == Op::kEditDest;
  if (raw.shards_view && dest_change) {
    throw UsageError("option --shards needs a value (1-" + std::to_string(SOCK_VS_SHARDS_MAX) +
                     ") with " + cmd_name);
  }
  if (raw.shards && op == Op::kList) {
    throw UsageError("option --shards takes no value with " + cmd_name);
  }
}

// -L shows one view: the default, --stats, --thresholds or --shards.
void check_one_view(const Raw& raw) {
  std::vector<std::string_view> views;
  if (raw.stats) {
    views.emplace_back("--stats");
  }
  if (raw.thresholds) {
    views.emplace_back("--thresholds");
  }
  if (raw.shards_view) {
    views.emplace_back("--shards");
  }
  if (raw.connection) {
    views.emplace_back("-c");
  }
  if (views.size() > 1) {
    throw UsageError("options " + std::string(views[0]) + " and " + std::string(views[1]) +
                     " cannot be combined: -L shows one view at a time");
  }
  if (raw.connection && raw.json) {
    throw UsageError("options -c and --json cannot be combined: -L -c lists in text only");
  }
}

sockvs::RealServer parse_real(const std::string& text, const sockvs::ServiceKey& svc,
                              const Resolver& names) {
  const std::string what = "real server";
  const EndpointText ep = split_endpoint(text, what);
  auto addr = numeric_host(ep, text, what);
  if (!addr && ep.bracketed && svc.af() != AF_INET6) {
    throw UsageError("real server " + quoted(text) +
                     " is IPv6 (a name in brackets) but the virtual service is " +
                     std::string(sockvs::family_name(svc.af())));
  }
  if (!addr) {
    addr = resolve_host(ep, svc.af(), svc.af(), text, what, names);
  }
  if (addr->family() != svc.af()) {
    throw UsageError("real server " + quoted(text) + " is " +
                     std::string(sockvs::family_name(addr->family())) +
                     " but the virtual service is " + std::string(sockvs::family_name(svc.af())));
  }
  sockvs::RealServer dest;
  dest.addr = *addr;
  dest.port = ep.port ? port_of(*ep.port, svc.protocol, text, what, names) : svc.port;
  dest.weight = SOCK_VS_WEIGHT_DEFAULT;
  return dest;
}

}  // namespace

std::string cgroup_skip_path(std::string_view text) {
  const auto bad = [&text](const std::string& why) {
    throw UsageError("invalid cgroup path " + quoted(text) + ": " + why);
  };
  if (text.empty()) {
    bad("empty");
  }
  if (text.front() != '/') {
    bad("not an absolute path (give it from the cgroup v2 root, e.g. /system.slice/x.service, or "
        "under " +
        std::string(kCgroup2Mount) + ")");
  }
  std::string_view rest = text;
  if (rest == kCgroup2Mount ||
      (rest.starts_with(kCgroup2Mount) && rest[kCgroup2Mount.size()] == '/')) {
    rest.remove_prefix(kCgroup2Mount.size());
  }
  std::string path;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty()) {
      continue;  // "//", a trailing "/"
    }
    if (part == "." || part == "..") {
      bad("'.' and '..' components are not allowed");
    }
    if (part.find_first_of(" \t\r\n") != std::string_view::npos) {
      bad("blanks are not allowed (-S could not write it for -R)");
    }
    path += '/';
    path += part;
  }
  if (path.empty()) {
    path = "/";
  }
  if (const std::string problem = sockvs::skip_rule_problem(sockvs::SkipCgroup{path, 0});
      !problem.empty()) {
    bad(problem);
  }
  return path;
}

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
    case Op::kKill:
      return "--kill";
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

Command parse_command(std::span<const std::string> args) { return parse_command(args, no_names()); }

Command parse_command(std::span<const std::string> args, const Resolver& names) {
  Raw raw = scan(args);
  Command cmd;
  cmd.op = raw.op.value_or(Op::kList);  // like ipvsadm: no command lists
  const std::string cmd_name = raw.op ? raw.op_flag : std::string("--list");

  const Rules rules = rules_for(cmd.op);
  check_shards_usage(raw, cmd.op, cmd_name);
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
    cmd.service = parse_service(*raw.service, raw.protocol, names);
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
  if (raw.hash_key) {
    cmd.hash_key = parse_hash_key_option(*raw.hash_key);
  }
  if (raw.shard_policy) {
    cmd.shard_policy = parse_shard_policy_option(*raw.shard_policy);
  }
  if (raw.terminate) {
    cmd.terminate = parse_terminate_option(*raw.terminate, cmd.op);
  }
  cmd.skip = parse_skip_options(raw);
  if (raw.unconnected && cmd.service->protocol != IPPROTO_UDP) {
    throw UsageError("option " + raw.seen.at(Key::kUnconnected) +
                     " is for UDP services (-u): a TCP socket always connects");
  }
  if (raw.persist) {
    cmd.persist = parse_persist(raw);
    if (cmd.scheduler == "port") {
      throw UsageError("option " + raw.seen.at(Key::kPersistent) +
                       " cannot be combined with the port scheduler (persistence would override "
                       "its choice by local port)");
    }
  }
  parse_eject_options(raw, cmd);
  if (raw.real) {
    cmd.dest = parse_real(*raw.real, *cmd.service, names);
    if (raw.weight) {
      cmd.dest->weight = parse_weight(*raw.weight);
    }
    parse_dest_options(raw, cmd.op, *cmd.dest);
  }
  check_one_view(raw);
  cmd.numeric = raw.numeric;
  cmd.stats = raw.stats;
  cmd.exact = raw.exact;
  cmd.thresholds = raw.thresholds;
  cmd.shards = raw.shards_view;
  cmd.json = raw.json;
  cmd.replace = raw.replace;
  cmd.connections = raw.connection;
  cmd.real_peername = raw.real_peername;
  cmd.unconnected = raw.unconnected;
  if (raw.sort && raw.seen.contains(Key::kNoSort)) {
    throw UsageError("options --sort and --nosort cannot be combined");
  }
  cmd.sort = raw.sort;
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
  sockvsadm -A|E virtual-service [-s scheduler] [-p [timeout]]
                                 [--hash-key key] [--shard-policy policy]
                                 [--real-peername] [--unconnected]
                                 [--terminate none|udp|all]
                                 [--skip-uid UID[-UID]] [--skip-cgroup PATH]
                                 [--skip-mark VALUE[/MASK]] [--skip-none]
                                 [--eject N] [--eject-time S]
                                 [--eject-time-max S] [--eject-max-percent P]
  sockvsadm -D virtual-service
  sockvsadm -C
  sockvsadm -R [--json] [--replace]
  sockvsadm -S [virtual-service] [-n] [--json]
  sockvsadm -a|e virtual-service -r server-address [-w weight]
                                 [-x upper] [-y lower] [--shards N]
  sockvsadm -d virtual-service -r server-address
  sockvsadm -K virtual-service [-r server-address] [--terminate udp|all]
  sockvsadm -L|l [virtual-service] [-n] [--stats [--exact] | --thresholds | --shards]
                 [--json]
  sockvsadm -L|l -c [virtual-service] [-n]
  sockvsadm -Z [virtual-service]
  sockvsadm -h
  sockvsadm -v

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
  --kill            -K        terminate now the balanced sockets of a real
                              server (-r) or of every real server of the
                              service; the real servers stay
  --help            -h        display this help message
  --version         -v|-V     display the versions of sockvsadm and the module

virtual-service:
  --tcp-service|-t  service-address   service-address is host:port
  --udp-service|-u  service-address   service-address is host:port
  IPv6 addresses go in brackets: -t [fd00::1]:80; host and port may be
  names: -t web.example:http, -t [web6.example]:http (IPv6)

Options:
  --scheduler    -s scheduler         one of the schedulers below; the
                                      default scheduler is wrr; -E without
                                      -s keeps the current scheduler
  --persistent   -p [timeout]         persistent service: a client's connects
                                      go to the real server its first one got
                                      until it has had no connection for
                                      timeout seconds, 1-2678400 (default
                                      300); the client is what --hash-key
                                      names.  -E without -p makes the service
                                      non-persistent, as ipvsadm -E does.
                                      Not with -s port
  --hash-key        key               what sh, mh, the "hash" shard policy and
                                      persistence key on: tgid (default),
                                      local, cgroup or netns
  --shard-policy    policy            which shard of a sharded real server a
                                      connection lands on: rr (default), lc,
                                      cpu or hash
  --real-peername                     getpeername() on the service's sockets
                                      (and recvfrom() on its connected UDP
                                      sockets) returns the real server
                                      (default: the virtual address and port
                                      connected to); -E without it turns it
                                      off again
  --unconnected                       UDP: sendto() to the virtual address on
                                      an unconnected socket is balanced too
                                      (a real server per socket and virtual
                                      address; recvfrom() shows the virtual
                                      address); -E without it turns it off
  --terminate       policy            what happens to the balanced sockets of
                                      a real server that leaves the service
                                      (-d, -D, -C, -R) or is named by -K:
                                      udp (default): its connected UDP
                                      sockets are terminated; all: UDP
                                      sockets and TCP connections; none:
                                      they stay connected.  With -K: this
                                      time's policy (udp or all) instead of
                                      the service's
  --skip-uid        UID[-UID]         exemption: sockets owned by a uid in
                                      the range (decimal; one uid: UID)
  --skip-cgroup     PATH              exemption: sockets of the cgroup v2
                                      PATH or its descendants; PATH from the
                                      cgroup v2 root (/system.slice/x.service)
                                      or under /sys/fs/cgroup
  --skip-mark       VALUE[/MASK]      exemption: sockets whose SO_MARK & MASK
                                      is VALUE (decimal or 0x hex; MASK
                                      defaults to 0xffffffff)
  --skip-none                         with -E: remove the service's exemptions
  --eject           N                 TCP: passive health: eject a real
                                      server after N failed connects in a
                                      row (refused, reset or timed out
                                      before the handshake completed),
                                      0-1000 (0: off, the default)
  --eject-time      S                 the first ejection lasts S seconds,
                                      1-86400 (default 30), doubled on each
                                      ejection in a row
  --eject-time-max  S                 up to S seconds, S-86400 (default 300)
  --eject-max-percent P               never eject more than P% of the
                                      service's real servers at once, 1-100
                                      (default 50)
  --real-server  -r server-address    server-address is host[:port]; the port
                                      defaults to the virtual service's port;
                                      a host name is resolved in the
                                      service's family
  --weight       -w weight            capacity of real server, 0-65535
                                      (default 1, also for -e); 0 quiesces it
  --u-threshold  -x uthreshold        upper threshold of connections,
                                      0-2147483647 (0: none, the default);
                                      at it the real server is overloaded
                                      and gets no new connections
  --l-threshold  -y lthreshold        lower threshold of connections, at most
                                      the upper one; an overloaded real server
                                      is used again once down to it (0, the
                                      default: below 3/4 of the upper one)
  --shards          N                 with -a/-e: the real server is N shards,
                                      1-1024 (default 1: not sharded)
  --masquerading -m, --gatewaying -g, --ipip -i
                                      accepted and ignored: sock_vs has a
                                      single forwarding method (Sock)
  --numeric      -n                   numeric output of addresses and ports
                                      (default: host and service names)
  --stats                             output of statistics information
  --exact        -X                   expand numbers (display exact values)
  --sort                              -L, -S: services sorted by protocol,
                                      address and port (real servers keep
                                      their order); default: creation order
  --nosort                            the default order (for ipvsadm)
  --connection   -c                   with -L: the open balanced connections
                                      (state, source, virtual, destination,
                                      shard, pid/command that connected),
                                      then the persistence templates
                                      (TEMPLATE); needs CAP_NET_ADMIN
  --thresholds                        output of thresholds information
  --json                              -L, -S: print JSON (schema version 1,
                                      see below); -R: read what -S --json
                                      prints
  --replace                           with -R: the input replaces the whole
                                      table (as if it began with -C), in
                                      the same one transaction
  --shards                            with -L: output of open connections per
                                      shard (Shards ActiveConn InActConn
                                      PerShard)
  -e and -E change only what they are given, except the weight (-e without
  -w sets weight 1, like ipvsadm), --real-peername (a flag: -E without it
  clears it) and -p (-E without it makes the service non-persistent, as
  ipvsadm -E does).  -x, -y and --shards given on -e change only those
  settings.

Terminating sockets (--terminate, -K):
  A terminated socket is aborted with ECONNABORTED, as ss -K does: a
  connected UDP socket is disconnected (its next recv fails with
  ECONNABORTED; a send, without a destination now, with EDESTADDRREQ, and
  SO_ERROR reads ECONNABORTED); a TCP connection is reset.  Only sockets
  sock_vs balanced to that real server and still connected to it; TIME_WAIT
  is never touched, and unloading the module terminates nothing.  -K prints
  the number terminated ("Terminated 3 sockets of 192.168.1.5:53"); -d, -D
  and -C print the same line when it is not 0.  -L --stats counts them per
  service and real server (Killed).  Quiescing (-w 0) terminates nothing:
  follow it with -K to end a drained server's open sockets.

Exemptions (--skip-uid, --skip-cgroup, --skip-mark on -A and -E):
  A connect to the service by a socket that matches one of its exemptions
  is not balanced: it goes to the virtual address itself, as if the
  service did not exist.  The uid is the socket's owner (the fsuid of the
  process that created it, as ss -e shows it) in sockvsadm's user
  namespace; a cgroup covers its descendants and is resolved when the rule
  is set (one created later under the same path is another cgroup: set the
  rule again); a mark is the socket's SO_MARK under the mask.  Repeatable,
  in any order, at most 8 per service.  The ones given replace the
  service's; -E without any keeps them, -E --skip-none removes them.

Schedulers:
  rr      round robin (skips weight 0)
  wrr     weighted round robin, in IPVS's order (the default)
  lc      least connections: fewest open connections
  wlc     weighted least connections: fewest open connections per weight
  sh      source hashing: a hash of the hash key (Maglev table)
  mh      Maglev consistent hashing of the hash key
  port    the socket's bound local port modulo the usable real servers
  fixed   the first usable real server, in the order they were added
  fo      weighted failover: the usable real server of highest weight
  p2c     power of two choices: of two usable real servers picked at random
          (by weight), the one with the lower handshake RTT (the kernel's
          smoothed RTT of its recent balanced TCP connects, decaying when
          idle) times its open connections + 1
  A real server is usable when its weight is above 0, it is not
  overloaded (-x) and not ejected (--eject).

Passive health (--eject N on -A and -E, TCP services):
  The module watches the handshakes of the sockets it balances.  After N
  failed connects in a row a real server is ejected: it gets no new
  connections for --eject-time seconds, doubled on each ejection in a row up
  to --eject-time-max.  Then one connect probes it: a completed handshake
  readmits it (and resets the doubling), a failure ejects it again.  Never
  more than --eject-max-percent of the service's real servers are ejected at
  once.  -L shows "ejected" or "probing" after such a server's line,
  -L --stats counts ejections (Ejected) and failed connects (Failed), and the
  kernel log says when a server is ejected and readmitted.  Weight,
  thresholds and sockvs-healthd keep their meanings.

Hash keys (--hash-key, for sh, mh, --shard-policy hash and -p):
  tgid    the connecting process (default)
  local   the socket's bound local address and port
  cgroup  the socket's cgroup (v2)
  netns   the socket's network namespace: the whole host (namespace) is one
          client, so with -p all its connects go to one real server

Persistence (-p, as ipvsadm's): the first connect of a client to a
persistent service is scheduled and leaves a template naming its real
server; the client's next connects go there while the template lasts.  A
template expires timeout seconds after the last connection that used it
closed, and goes at once when its real server is deleted, quiesced (-w 0)
or overloaded.  -L -c lists the templates after the connections:
  TCP TEMPLATE    tgid:1234          10.0.0.1:80        192.168.1.5:80     expire 287s conns 2
(the client: tgid:PID, cgroup:ID, netns, or local:0xHASH).

Shard policies (--shard-policy, for real servers with --shards N > 1):
  rr      round robin over the shards (default)
  lc      the shard with the fewest open connections
  cpu     the current CPU modulo the shards (thread-per-core clients)
  hash    the service's hash key modulo the shards

-L shows the options that differ from their defaults after the scheduler,
e.g. "TCP  10.0.0.1:6379 mh persistent 300 hash-key local shard-policy lc
terminate all" (-S writes -p 300), and passive health's "eject 3
eject-time 10" (its times and bound only when they differ from their
defaults; -S writes --eject 3 --eject-time 10),
then the exemptions in order, e.g.
"skip-uid 4242-4243 skip-cgroup /x skip-mark 0x10/0xf0" (a single uid as
4242, a mark as 0x10 without /MASK when the mask is 0xffffffff; -S writes
them the same way, as --skip-*).

Host and service names, as with ipvsadm: the host of -t, -u and -r may be
a host name and the port a service name, e.g. -t web.example:http or
-r backend.example:redis.  A name in -t or -u is IPv4 (its first IPv4
address: ipvsadm too takes the first address of a name) unless it is in
brackets, -t [web6.example]:80, which is IPv6; in -r a name is resolved in
the virtual service's family.  A port name is looked up for the protocol
(/etc/services: http is 80/tcp, domain 53/tcp and 53/udp).  A name that
does not resolve is a usage error and nothing is sent; -R resolves every
line before it applies any.  Without -n, -L and -S print the host name of
each address and the service name of each port (reverse lookups; the
number when there is no name), and only names that resolve back to the
same number, so that -S output restores through -R as long as the names
resolve as they did (rules files: -S -n).  -n prints numbers.  -L -c,
--json (-L, -S and -R) and the "Terminated" lines are always numeric.

-R reads lines in the format printed by -S, e.g.
  -A -t 10.0.0.1:6379 -s mh -p 300 --hash-key local --shard-policy lc
  -a -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 2 -x 100 -y 50 --shards 4
Blank lines and lines starting with '#' are ignored.  -R is all-or-nothing:
every line is checked before anything is applied, so a malformed line
changes nothing; the lines are then applied in order, and if the module
rejects one (e.g. an unknown scheduler, or a service that already exists),
the lines applied before it are undone and the error names the line.  (Undo
cannot bring back counters: a service or real server deleted and restored
this way starts from zero, and counters zeroed by a -Z line stay zeroed.)

--json: {"version":1,"services":[{"protocol":"tcp","address":"10.0.0.1",
"port":6379,"scheduler":"mh","persistent":300,"flags":[],"hash_key":"local",
"shard_policy":"lc","terminate":"udp","dests":[{"address":"192.168.1.5",
"port":6380,"weight":2,"upper":100,"lower":50,"shards":4}]}]}.  -L --json
adds each real server's active_conns, inact_conns, overloaded and
shard_conns, a "module" object, and with --stats "stats" objects
({"conns":N,"refused":N,"untracked":N,"killed":N,"ejected":N,"failed":N}
per service, {"conns":N,"killed":N,"ejected":N,"failed":N} per real
server).  A service with ejection on has "eject":{"after":3,"time":30,
"time_max":300,"max_percent":50}; -L adds each real server's "ejected"
("none", "ejected", "probing"), "eject_left_ms" and "fails".  A service with exemptions has
"skip":[{"uid":[4242,4243]},{"cgroup":"/x"},{"mark":16,"mask":240}] (-L
adds each cgroup's "cgroup_id").  "persistent" (seconds) is written only for
a persistent service: absent means not persistent (-R --json also takes 0).
-R --json rejects unknown keys, ignores the ones only -L prints, and is
all-or-nothing like -R.

-R is atomic: the lines are checked against a copy of the table, then the
module commits what they make in one transaction (connects and other
configuring programs see the old table or the new one; servers that stay
keep their counters and connections); an error names its line and applies
nothing, and so does a killed sockvsadm.  A -C line, or --replace (which
keeps the file's line numbers), makes it replace the whole table: what
sock_vs.service's reload runs, so that no connect sees the table empty.
A module older than transactions gets the lines one by one.

Long options may be abbreviated to a unique prefix (--num); "--" ends the
options.  ipvsadm options sock_vs cannot honour (-M, -f, --pe, -o, -b, -6,
--sctp-service, the sync daemon options, --timeout, --set, --tun-*,
--rate, --persistent-conn) are refused with a message saying what to use
instead.

Exit status: 0 on success, 1 if an operation failed, 2 on a usage error.
)";
}

}  // namespace sockvsadm
