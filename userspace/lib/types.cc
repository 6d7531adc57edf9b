#include "sockvs/types.h"

#include <linux/sock_vs.h>

#include <algorithm>
#include <array>
#include <climits>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <variant>

namespace sockvs {

static_assert(kThresholdMax == static_cast<std::uint32_t>(INT_MAX));
static_assert(static_cast<int>(HashKey::kTgid) == SOCK_VS_HASH_TGID);
static_assert(static_cast<int>(HashKey::kLocal) == SOCK_VS_HASH_LOCAL);
static_assert(static_cast<int>(HashKey::kCgroup) == SOCK_VS_HASH_CGROUP);
static_assert(static_cast<int>(HashKey::kNetns) == SOCK_VS_HASH_NETNS);
static_assert(static_cast<int>(HashKey::kNetns) == SOCK_VS_HASH_MAX);
static_assert(kPersistDefault == SOCK_VS_PERSIST_DEFAULT);
static_assert(kPersistMax == SOCK_VS_PERSIST_MAX);
static_assert(static_cast<int>(ShardPolicy::kRr) == SOCK_VS_SHARD_RR);
static_assert(static_cast<int>(ShardPolicy::kLc) == SOCK_VS_SHARD_LC);
static_assert(static_cast<int>(ShardPolicy::kCpu) == SOCK_VS_SHARD_CPU);
static_assert(static_cast<int>(ShardPolicy::kHash) == SOCK_VS_SHARD_HASH);
static_assert(static_cast<int>(ShardPolicy::kHash) == SOCK_VS_SHARD_MAX);
static_assert(static_cast<int>(Terminate::kNone) == SOCK_VS_TERMINATE_NONE);
static_assert(static_cast<int>(Terminate::kUdp) == SOCK_VS_TERMINATE_UDP);
static_assert(static_cast<int>(Terminate::kAll) == SOCK_VS_TERMINATE_ALL);
static_assert(static_cast<int>(Terminate::kAll) == SOCK_VS_TERMINATE_MAX);
static_assert(static_cast<int>(kDefaultTerminate) == SOCK_VS_TERMINATE_DEFAULT);
static_assert(kSkipUidMax == static_cast<std::uint32_t>(-2));
static_assert(kEjectMax == SOCK_VS_EJECT_MAX);
static_assert(kEjectTimeDefault == SOCK_VS_EJECT_TIME_DEFAULT);
static_assert(kEjectTimeMaxDefault == SOCK_VS_EJECT_TIME_MAX_DEFAULT);
static_assert(kEjectTimeLimit == SOCK_VS_EJECT_TIME_LIMIT);
static_assert(kEjectPercentDefault == SOCK_VS_EJECT_PERCENT_DEFAULT);
static_assert(static_cast<int>(EjectState::kNone) == SOCK_VS_EJECT_NONE);
static_assert(static_cast<int>(EjectState::kOut) == SOCK_VS_EJECT_OUT);
static_assert(static_cast<int>(EjectState::kProbe) == SOCK_VS_EJECT_PROBE);

namespace {

constexpr std::array<std::string_view, SOCK_VS_HASH_MAX + 1> kHashKeyNames = {"tgid", "local",
                                                                              "cgroup", "netns"};
constexpr std::array<std::string_view, SOCK_VS_SHARD_MAX + 1> kShardPolicyNames = {"rr", "lc",
                                                                                   "cpu", "hash"};
constexpr std::array<std::string_view, SOCK_VS_TERMINATE_MAX + 1> kTerminateNames = {"none", "udp",
                                                                                     "all"};
constexpr std::array<std::string_view, SOCK_VS_EJECT_PROBE + 1> kEjectStateNames = {
    "none", "ejected", "probing"};

template <std::size_t N>
std::string enum_name(const std::array<std::string_view, N>& names, std::uint8_t value) {
  if (value < N) {
    return std::string(names.at(value));
  }
  return std::to_string(value);
}

template <std::size_t N>
std::optional<std::uint8_t> enum_value(const std::array<std::string_view, N>& names,
                                       std::string_view name) noexcept {
  for (std::size_t i = 0; i < N; ++i) {
    if (names.at(i) == name) {
      return static_cast<std::uint8_t>(i);
    }
  }
  return std::nullopt;
}

}  // namespace

Service Service::from_key(const ServiceKey& key, std::string sched_name) {
  Service svc;
  svc.protocol = key.protocol;
  svc.addr = key.addr;
  svc.port = key.port;
  svc.sched_name = std::move(sched_name);
  return svc;
}

std::string hash_key_name(HashKey key) {
  return enum_name(kHashKeyNames, static_cast<std::uint8_t>(key));
}

std::optional<HashKey> parse_hash_key(std::string_view name) noexcept {
  if (const auto v = enum_value(kHashKeyNames, name)) {
    return static_cast<HashKey>(*v);
  }
  return std::nullopt;
}

std::string shard_policy_name(ShardPolicy policy) {
  return enum_name(kShardPolicyNames, static_cast<std::uint8_t>(policy));
}

std::optional<ShardPolicy> parse_shard_policy(std::string_view name) noexcept {
  if (const auto v = enum_value(kShardPolicyNames, name)) {
    return static_cast<ShardPolicy>(*v);
  }
  return std::nullopt;
}

std::string terminate_name(Terminate policy) {
  return enum_name(kTerminateNames, static_cast<std::uint8_t>(policy));
}

std::optional<Terminate> parse_terminate(std::string_view name) noexcept {
  if (const auto v = enum_value(kTerminateNames, name)) {
    return static_cast<Terminate>(*v);
  }
  return std::nullopt;
}

std::string eject_state_name(EjectState state) {
  return enum_name(kEjectStateNames, static_cast<std::uint8_t>(state));
}

std::string_view skip_kind(const SkipRule& rule) noexcept {
  if (std::holds_alternative<SkipUid>(rule)) {
    return "uid";
  }
  if (std::holds_alternative<SkipCgroup>(rule)) {
    return "cgroup";
  }
  return "mark";
}

std::string skip_rule_problem(const SkipRule& rule) {
  if (const auto* uid = std::get_if<SkipUid>(&rule)) {
    if (uid->min > kSkipUidMax || uid->max > kSkipUidMax) {
      return "uid out of range 0-" + std::to_string(kSkipUidMax);
    }
    if (uid->max < uid->min) {
      return "uid range ends before it starts";
    }
    return {};
  }
  if (const auto* mark = std::get_if<SkipMark>(&rule)) {
    if ((mark->mark & ~mark->mask) != 0) {
      return "mark has bits outside its mask";
    }
    return {};
  }
  const std::string& path = std::get<SkipCgroup>(rule).path;
  if (path.empty()) {
    return "cgroup path is empty";
  }
  if (path.front() != '/') {
    return "cgroup path must start with /";
  }
  if (path.find('\0') != std::string::npos) {
    return "cgroup path holds a NUL byte";
  }
  if (path.size() >= SOCK_VS_SKIP_CGROUP_PATH_MAX) {
    return "cgroup path is longer than " + std::to_string(SOCK_VS_SKIP_CGROUP_PATH_MAX - 1) +
           " bytes";
  }
  return {};
}

void dedupe_templates(std::vector<Template>& templates) {
  // Up to max_templates (65536 by default) entries: a set, not a scan.
  using Key = std::tuple<std::uint16_t, int, std::array<std::uint8_t, 16>, std::uint16_t,
                         std::uint8_t, std::uint64_t>;
  std::set<Key> seen;
  std::vector<Template> unique;
  unique.reserve(templates.size());
  for (const auto& t : templates) {
    std::array<std::uint8_t, 16> vaddr{};
    const auto bytes = t.vaddr.bytes();
    std::copy(bytes.begin(), bytes.end(), vaddr.begin());
    if (seen.emplace(t.protocol, t.vaddr.family(), vaddr, t.vport,
                     static_cast<std::uint8_t>(t.client_kind), t.client)
            .second) {
      unique.push_back(t);
    }
  }
  templates = std::move(unique);
}

std::string tcp_state_name(std::uint8_t state) {
  // include/net/tcp_states.h, in order from TCP_ESTABLISHED (1).
  constexpr std::array<std::string_view, 12> kNames = {
      "ESTABLISHED", "SYN_SENT",   "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
      "CLOSE",       "CLOSE_WAIT", "LAST_ACK", "LISTEN",    "CLOSING",   "NEW_SYN_RECV"};
  if (state >= 1 && state <= kNames.size()) {
    return std::string(kNames.at(state - 1U));
  }
  return std::to_string(state);
}

std::string protocol_name(std::uint16_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP:
      return "TCP";
    case IPPROTO_UDP:
      return "UDP";
    default:
      return std::to_string(protocol);
  }
}

bool valid_sched_name(std::string_view name) noexcept {
  if (name.empty() || name.size() >= SOCK_VS_SCHED_NAME_MAX) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

}  // namespace sockvs
