// Plain data types of libsockvs: what the sock_vs module stores and reports.
#ifndef SOCKVS_TYPES_H_
#define SOCKVS_TYPES_H_

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sockvs/address.h"

namespace sockvs {

// Connection counters (the module has no packet path, so no byte counters).
struct Stats {
  std::uint64_t conns = 0;    // connect() calls scheduled to a real server
  std::uint64_t refused = 0;  // connect() calls refused: no usable real server
  // Scheduled sockets the module could not record (no memory...): they
  // connected but are missing from ActiveConn/InActConn and -L -c.
  std::uint64_t untracked = 0;
  // Balanced sockets terminated: their real server left the service, or
  // Api::kill named it (SOCK_VS_STATS_ATTR_KILLED).
  std::uint64_t killed = 0;
  // Passive health (a service with ejection on): ejections of its real
  // servers, and balanced TCP connects that failed before the handshake
  // completed (refused, reset, timed out).
  std::uint64_t ejected = 0;
  std::uint64_t failed = 0;

  friend bool operator==(const Stats&, const Stats&) = default;
};

// What sh/mh and the "hash" shard policy hash (enum sock_vs_hash_key).
enum class HashKey : std::uint8_t {
  kTgid = 0,    // the connecting process (the module's default)
  kLocal = 1,   // the socket's bound local address and port
  kCgroup = 2,  // the socket's cgroup (v2)
  kNetns = 3,   // the socket's network namespace: every socket of it is one client
};

// Which shard of a sharded real server a connection lands on (enum
// sock_vs_shard_policy).
enum class ShardPolicy : std::uint8_t {
  kRr = 0,    // round robin over the shards (the module's default)
  kLc = 1,    // the shard with the fewest open connections
  kCpu = 2,   // current CPU % shards
  kHash = 3,  // the service's hash key % shards
};

// What happens to the balanced sockets of a real server that leaves its
// service (deleted, its service deleted, flushed) or is named by
// Api::kill (enum sock_vs_terminate).  Terminated sockets are aborted
// with ECONNABORTED: a connected UDP socket is disconnected, a TCP
// connection reset.
enum class Terminate : std::uint8_t {
  kNone = 0,  // leave them connected
  kUdp = 1,   // connected UDP sockets (the module's default)
  kAll = 2,   // UDP sockets and TCP connections
};

// Largest connection threshold (INT_MAX, as in IPVS and the module).
inline constexpr std::uint32_t kThresholdMax = 2147483647U;

inline constexpr HashKey kDefaultHashKey = HashKey::kTgid;
inline constexpr ShardPolicy kDefaultShardPolicy = ShardPolicy::kRr;
inline constexpr Terminate kDefaultTerminate = Terminate::kUdp;

// Persistence (SOCK_VS_SVC_ATTR_PERSIST): a timeout in seconds, 0 = not
// persistent.  ipvsadm's -p without a value is kPersistDefault.
inline constexpr std::uint32_t kPersistDefault = 300;
inline constexpr std::uint32_t kPersistMax = 2678400;  // 31 days

// Passive health (outlier ejection, SOCK_VS_SVC_ATTR_EJECT*), TCP services
// only: after `eject` failed connects in a row a real server is ejected for
// `eject_time` seconds, doubled on each ejection in a row up to
// `eject_time_max`; never more than `eject_max_percent`% of a service's
// real servers at once.  eject 0: off (the module's default).
inline constexpr std::uint32_t kEjectMax = 1000;
inline constexpr std::uint32_t kEjectTimeDefault = 30;
inline constexpr std::uint32_t kEjectTimeMaxDefault = 300;
inline constexpr std::uint32_t kEjectTimeLimit = 86400;
inline constexpr std::uint8_t kEjectPercentDefault = 50;

// Where a real server stands (enum sock_vs_eject_state).
enum class EjectState : std::uint8_t {
  kNone = 0,   // usable
  kOut = 1,    // ejected: no new connections until its time is up
  kProbe = 2,  // its time is up: one connect is probing it
};

// Exemptions of a service (SOCK_VS_SVC_ATTR_SKIP): a connect to the virtual
// address that matches one of its rules is not balanced; it goes to the
// virtual address itself, as if the service did not exist.

// Largest uid a rule may name ((uid_t)-1 is never a uid).
inline constexpr std::uint32_t kSkipUidMax = 4294967294U;
// A mark rule's default mask: the whole mark.
inline constexpr std::uint32_t kSkipMarkMaskAll = 0xffffffffU;

// The socket's owner uid (the fsuid of the process that created it) in
// min..max, in the requester's user namespace.
struct SkipUid {
  std::uint32_t min = 0;
  std::uint32_t max = 0;

  friend bool operator==(const SkipUid&, const SkipUid&) = default;
};

// The socket's cgroup (v2) or a descendant of it: `path` from the root of
// the requester's cgroup namespace ("/system.slice/x.service"), resolved
// by the module when the rule is set.
struct SkipCgroup {
  std::string path;
  std::uint64_t id = 0;  // output only: the cgroup's id (0: not reported)

  friend bool operator==(const SkipCgroup&, const SkipCgroup&) = default;
};

// (SO_MARK & mask) == mark.
struct SkipMark {
  std::uint32_t mark = 0;
  std::uint32_t mask = kSkipMarkMaskAll;

  friend bool operator==(const SkipMark&, const SkipMark&) = default;
};

// One rule (a SOCK_VS_SKIP_RULE nest): exactly one kind of match.
using SkipRule = std::variant<SkipUid, SkipCgroup, SkipMark>;

// What identifies a virtual service: (af, protocol, addr, port).
struct ServiceKey {
  std::uint16_t protocol = IPPROTO_TCP;  // IPPROTO_TCP or IPPROTO_UDP
  Address addr;                          // its family is the service's af
  std::uint16_t port = 0;                // 1..65535

  [[nodiscard]] int af() const noexcept { return addr.family(); }

  friend bool operator==(const ServiceKey&, const ServiceKey&) = default;
};

// A virtual service.  The address family is addr.family() (see af()).
struct Service {
  std::uint16_t protocol = IPPROTO_TCP;
  Address addr;
  std::uint16_t port = 0;
  // Scheduler.  On add: empty means the module's default (wrr).  On edit:
  // empty means "leave unchanged".
  std::string sched_name;
  std::uint32_t flags = 0;  // SOCK_VS_SVC_F_* (SOCK_VS_SVC_F_REAL_PEERNAME)
  // On add: nullopt means the module's default (tgid, rr, udp).  On edit:
  // nullopt means "leave unchanged" (the attribute is not sent).  In
  // replies: what the module reported (nullopt if it did not: the default).
  std::optional<HashKey> hash_key;
  std::optional<ShardPolicy> shard_policy;
  std::optional<Terminate> terminate;
  // Exemptions, at most SOCK_VS_SKIP_MAX, in order.  On add and edit: nullopt
  // sends no SKIP nest (add: none; edit: unchanged), an empty vector clears
  // them.  In replies: nullopt when the service has none.
  std::optional<std::vector<SkipRule>> skip;
  // Persistence timeout in seconds, 0..kPersistMax (0: not persistent).
  // On add: nullopt is the module's default (0) and sends nothing.  On
  // edit: nullopt leaves it unchanged (sockvsadm -E always sets it, like
  // ipvsadm's -E).  In replies: nullopt from a module without persistence.
  std::optional<std::uint32_t> persist;
  // Passive health: failures in a row that eject (0..kEjectMax, 0 off), the
  // base and longest ejection in seconds (1..kEjectTimeLimit, base <=
  // longest) and the bound in percent (1..100).  On add: nullopt is the
  // module's default (off, kEjectTimeDefault, kEjectTimeMaxDefault,
  // kEjectPercentDefault).  On edit: nullopt leaves it unchanged.  In
  // replies: nullopt from a module without passive health.
  std::optional<std::uint32_t> eject;
  std::optional<std::uint32_t> eject_time;
  std::optional<std::uint32_t> eject_time_max;
  std::optional<std::uint8_t> eject_max_percent;
  Stats stats;                  // output only
  std::uint32_t num_dests = 0;  // output only

  [[nodiscard]] int af() const noexcept { return addr.family(); }
  [[nodiscard]] ServiceKey key() const { return ServiceKey{protocol, addr, port}; }
  static Service from_key(const ServiceKey& key, std::string sched_name = {});

  friend bool operator==(const Service&, const Service&) = default;
};

// A real server (destination) of a service.  Its family must be the
// service's.  (addr, port) identifies it within the service.
struct RealServer {
  Address addr;
  std::uint16_t port = 0;
  std::uint32_t weight = 1;  // 0..65535; 0 = quiesced
  // Connection thresholds (0..INT_MAX; upper 0 = none; lower <= upper) and
  // shards (1..SOCK_VS_SHARDS_MAX; 1 = not sharded).  On add: nullopt means
  // the module's default (0, 0, 1).  On edit: nullopt means "leave
  // unchanged" (the attribute is not sent).  In replies: what the module
  // reported (nullopt if it did not).
  std::optional<std::uint32_t> u_threshold;
  std::optional<std::uint32_t> l_threshold;
  std::optional<std::uint16_t> shards;
  std::uint32_t active_conns = 0;          // output only
  std::uint32_t inact_conns = 0;           // output only
  std::vector<std::uint32_t> shard_conns;  // output only: open connections per shard
  bool overloaded = false;                 // output only: over its upper threshold
  // Output only (passive health): ejected or probing, the milliseconds until
  // a probe may readmit it, its failed connects in a row.
  EjectState ejected = EjectState::kNone;
  std::uint32_t eject_left_ms = 0;
  std::uint32_t fails = 0;
  Stats stats;  // output only (conns, killed)

  [[nodiscard]] int af() const noexcept { return addr.family(); }

  friend bool operator==(const RealServer&, const RealServer&) = default;
};

// What the module says about itself (SOCK_VS_CMD_GET_INFO).
struct Info {
  std::string version;  // module version, e.g. "0.1.0"
  std::uint32_t num_services = 0;
  std::string hook;    // connect hook mechanism, e.g. "kprobe"
  std::string kernel;  // running kernel release
  std::uint32_t max_services = 0;
  std::uint32_t max_dests = 0;
  std::uint64_t untracked = 0;      // untracked sockets, all namespaces
  std::uint32_t templates = 0;      // persistence templates in this namespace
  std::uint32_t max_templates = 0;  // their limit (0 from a module without persistence)

  friend bool operator==(const Info&, const Info&) = default;
};

// An open balanced socket (SOCK_VS_CMD_GET_CONN).  All addresses are of
// the service's family.
struct Connection {
  std::uint16_t protocol = IPPROTO_TCP;
  Address local;  // the socket's local address and port
  std::uint16_t lport = 0;
  Address vaddr;  // the virtual service it connected to
  std::uint16_t vport = 0;
  Address daddr;  // the real server it went to
  std::uint16_t dport = 0;
  std::optional<std::uint32_t> shard;  // only for a sharded real server
  std::uint8_t state = 0;              // TCP state (1 = ESTABLISHED, ...)
  std::uint32_t pid = 0;               // process (tgid) that connected
  std::string comm;                    // its command name at connect

  [[nodiscard]] int af() const noexcept { return vaddr.family(); }

  friend bool operator==(const Connection&, const Connection&) = default;
};

// A persistence template (SOCK_VS_CMD_GET_TEMPLATE): a client of a
// persistent service and the real server its connects go to.  Both
// addresses are of the service's family.
struct Template {
  std::uint16_t protocol = IPPROTO_TCP;
  Address vaddr;  // the virtual service
  std::uint16_t vport = 0;
  Address daddr;  // the real server the client sticks to
  std::uint16_t dport = 0;
  // What `client` is, by the service's hash key: a tgid (kTgid), a cgroup
  // id (kCgroup), 0 (kNetns: the whole namespace), a hash of the bound
  // local address and port (kLocal).
  HashKey client_kind = HashKey::kTgid;
  std::uint64_t client = 0;
  std::uint32_t conns = 0;    // open connections that use it
  std::uint32_t expires = 0;  // seconds until it expires (the timeout while conns > 0)

  [[nodiscard]] int af() const noexcept { return vaddr.family(); }

  friend bool operator==(const Template&, const Template&) = default;
};

// Drops the templates that appear again (same protocol, virtual address
// and port, client kind and client), keeping the first: a dump that runs
// while the module resizes its table may list one twice.
void dedupe_templates(std::vector<Template>& templates);

// The name of a TCP state as ss and ipvsadm write it: "ESTABLISHED",
// "SYN_SENT", "FIN_WAIT1", ..., "CLOSE"; the number for an unknown value.
std::string tcp_state_name(std::uint8_t state);

// "tgid", "local", "cgroup", "netns"; the number for a value this version does not know.
std::string hash_key_name(HashKey key);
// The inverse of hash_key_name for the known names; nullopt otherwise.
std::optional<HashKey> parse_hash_key(std::string_view name) noexcept;

// "rr", "lc", "cpu", "hash"; the number for a value this version does not know.
std::string shard_policy_name(ShardPolicy policy);
// The inverse of shard_policy_name for the known names; nullopt otherwise.
std::optional<ShardPolicy> parse_shard_policy(std::string_view name) noexcept;

// "none", "udp", "all"; the number for a value this version does not know.
std::string terminate_name(Terminate policy);
// The inverse of terminate_name for the known names; nullopt otherwise.
std::optional<Terminate> parse_terminate(std::string_view name) noexcept;

// "none", "ejected", "probing"; the number for a value this version does not know.
std::string eject_state_name(EjectState state);

// The kind of an exemption, as its option says it (--skip-KIND): "uid",
// "cgroup", "mark".
std::string_view skip_kind(const SkipRule& rule) noexcept;
// Why the module would refuse `rule` for what it holds (not for the
// system's state, like a cgroup that does not exist), or "" if it would
// not: a uid above kSkipUidMax, a uid range that ends before it starts, a
// mark with bits outside its mask, a cgroup path that is empty, does not
// start with '/', holds a NUL or is longer than SOCK_VS_SKIP_CGROUP_PATH_MAX
// - 1 bytes.
std::string skip_rule_problem(const SkipRule& rule);

// "TCP", "UDP", or the protocol number for anything else.
std::string protocol_name(std::uint16_t protocol);

// True if `name` is a syntactically valid scheduler name: 1 to
// SOCK_VS_SCHED_NAME_MAX - 1 characters from [A-Za-z0-9_-].  Whether the
// module knows the scheduler is for the module to say.
bool valid_sched_name(std::string_view name) noexcept;

}  // namespace sockvs

#endif  // SOCKVS_TYPES_H_
