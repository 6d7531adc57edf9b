// sockvsadm command line parsing (ipvsadm's syntax for the subset sock_vs
// supports).  Pure: no I/O, so that it can be unit-tested; host and service
// names are looked up through the Resolver passed in (resolver.h).
#ifndef SOCKVSADM_CLI_H_
#define SOCKVSADM_CLI_H_

#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "resolver.h"
#include "sockvs/types.h"

namespace sockvsadm {

enum class Op {
  kAddService,   // -A
  kEditService,  // -E
  kDelService,   // -D
  kAddDest,      // -a
  kEditDest,     // -e
  kDelDest,      // -d
  kClear,        // -C
  kList,         // -L, -l
  kSave,         // -S
  kRestore,      // -R
  kZero,         // -Z
  kKill,         // -K
  kHelp,         // -h
  kVersion,      // -v (ipvsadm's), -V
};

// The long option of a command, e.g. "--add-service".
std::string_view op_name(Op op) noexcept;

// True for the commands that change the module's table (the ones -R
// accepts).  -K terminates sockets but changes no setting: not one of them.
bool is_change(Op op) noexcept;

// One parsed sockvsadm invocation (or one line of -R input).
struct Command {
  Op op = Op::kList;
  // -t / -u.  Required by the service and real server commands and -K;
  // optional for -L, -S and -Z.  Numeric: a host or service name given
  // is resolved by parse_command.
  std::optional<sockvs::ServiceKey> service;
  // -s.  -A: the given name or SOCK_VS_SCHED_DEFAULT ("wrr").  -E: the
  // given name, or empty to leave the scheduler unchanged.
  std::string scheduler;
  // --hash-key / --shard-policy for -A and -E: only when given (-A: the
  // module's defaults, tgid and rr; -E: unchanged).
  std::optional<sockvs::HashKey> hash_key;
  std::optional<sockvs::ShardPolicy> shard_policy;
  // --terminate.  -A, -E: the service's terminate policy, only when given
  // (-A: the module's default, udp; -E: unchanged).  -K: the policy for
  // this once instead of the service's (never kNone).
  std::optional<sockvs::Terminate> terminate;
  // --skip-uid / --skip-cgroup / --skip-mark for -A and -E, in the order
  // given: the service's exemptions (at most SOCK_VS_SKIP_MAX).  nullopt
  // when none is given (-A: none; -E: unchanged); empty for --skip-none
  // (clears them).
  std::optional<std::vector<sockvs::SkipRule>> skip;
  // --real-peername for -A and -E: SOCK_VS_SVC_F_REAL_PEERNAME.  Like
  // ipvsadm's service flags, -E sets the flags anew: -E without it clears it.
  bool real_peername = false;
  // --unconnected for -A and -E (UDP services): SOCK_VS_SVC_F_UNCONNECTED,
  // a flag like --real-peername (-E without it clears it).
  bool unconnected = false;
  // -p / --persistent [timeout] for -A and -E: the persistence timeout in
  // seconds (1..sockvs::kPersistMax; -p alone: sockvs::kPersistDefault),
  // 0 when not given.  Like ipvsadm, -E sets it anew: -E without -p makes
  // the service non-persistent.
  std::uint32_t persist = 0;
  // --eject N / --eject-time S / --eject-time-max S / --eject-max-percent P
  // for -A and -E (TCP services): passive health, only when given (-A: the
  // module's defaults, off, 30, 300, 50; -E: unchanged).  Ranges as in
  // sockvs::Service.
  std::optional<std::uint32_t> eject;
  std::optional<std::uint32_t> eject_time;
  std::optional<std::uint32_t> eject_time_max;
  std::optional<std::uint8_t> eject_max_percent;
  // -L -c: list the open balanced connections (then the persistence
  // templates) instead of the services.
  bool connections = false;
  // -r / -w / -x / -y / --shards for -a, -e, -d (-r alone for -K):
  // address, port (default: the service's port), weight (default
  // SOCK_VS_WEIGHT_DEFAULT, also for -e), and the thresholds and shards only
  // when given (-a: the module's defaults 0, 0, 1; -e: unchanged).
  std::optional<sockvs::RealServer> dest;
  bool numeric = false;     // -n: -L and -S print numbers, not names
  bool stats = false;       // -L --stats
  bool exact = false;       // -L --exact / -X
  bool thresholds = false;  // -L --thresholds
  bool shards = false;      // -L --shards (without a value)
  bool json = false;        // --json: -L / -S print JSON, -R reads it (json.h)
  bool replace = false;     // --replace (-R): as if the input began with -C
  // -L / -S --sort: services by protocol, address family, address, port
  // (sort_entries in format.h); real servers keep their order.  Without it
  // (or with --nosort) the module's order, the order of creation.
  bool sort = false;

  friend bool operator==(const Command&, const Command&) = default;
};

// A malformed command line: sockvsadm exits with status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses arguments (without argv[0]).  No arguments means -L, like
// ipvsadm.  Throws UsageError.
//
// The host of -t, -u and -r may be a name and the port a service name, as
// with ipvsadm: `names` resolves them (-n does not change that: it is about
// output).  A name in -t / -u is IPv4 (its first IPv4 address, as ipvsadm
// takes it) unless in brackets, "[NAME]:PORT", which is IPv6 (its first
// IPv6 address); a name in -r is resolved in the virtual service's family.
// A port name is looked up for the protocol (getservbyname "http" "tcp").
// A name that does not resolve, or has no address of the family, is a
// UsageError naming it.  All digits and dots is never a name: a malformed
// address ("10.0.0") stays an error.
Command parse_command(std::span<const std::string> args, const Resolver& names);

// The same with no_names(): numbers only.
Command parse_command(std::span<const std::string> args);

// Where cgroup v2 is mounted: --skip-cgroup accepts paths under it.
inline constexpr std::string_view kCgroup2Mount = "/sys/fs/cgroup";

// A cgroup v2 path for an exemption (--skip-cgroup, and "cgroup" in -R
// --json), as the module takes it: from the cgroup v2 root, "/x/y"; a path
// under kCgroup2Mount ("/sys/fs/cgroup/x/y") loses that prefix.  Repeated
// and trailing '/' are dropped ("/x//y/" is "/x/y").  Throws UsageError
// for an empty or relative path, a "." or ".." component, blanks, or what
// sockvs::skip_rule_problem() refuses (too long).
std::string cgroup_skip_path(std::string_view text);

// Splits a line of -R input into arguments at blanks (no quoting).
std::vector<std::string> split_words(std::string_view line);

// The text of sockvsadm --help.
std::string usage_text();

}  // namespace sockvsadm

#endif  // SOCKVSADM_CLI_H_
