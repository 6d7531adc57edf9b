#include "sockvs/messages.h"

#include <linux/genetlink.h>
#include <linux/sock_vs.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "sockvs/error.h"

namespace sockvs {

void NlMsgDeleter::operator()(nl_msg* msg) const noexcept { nlmsg_free(msg); }

namespace {

// --- building ------------------------------------------------------------------

[[noreturn]] void throw_too_big() { throw Error(EMSGSIZE, "netlink request too large"); }

void put_u8(nl_msg* msg, int type, std::uint8_t value) {
  if (nla_put_u8(msg, type, value) < 0) {
    throw_too_big();
  }
}

void put_u16(nl_msg* msg, int type, std::uint16_t value) {
  if (nla_put_u16(msg, type, value) < 0) {
    throw_too_big();
  }
}

void put_u32(nl_msg* msg, int type, std::uint32_t value) {
  if (nla_put_u32(msg, type, value) < 0) {
    throw_too_big();
  }
}

void put_string(nl_msg* msg, int type, const std::string& value) {
  if (nla_put_string(msg, type, value.c_str()) < 0) {
    throw_too_big();
  }
}

void put_addr(nl_msg* msg, int type, const Address& addr) {
  const auto bytes = addr.bytes();
  if (nla_put(msg, type, static_cast<int>(bytes.size()), bytes.data()) < 0) {
    throw_too_big();
  }
}

// A nest attribute, closed by end().  The kernel parses sock_vs attributes
// strictly, which requires NLA_F_NESTED on nests.  An empty nest is kept
// (libnl's nla_nest_end would drop it): an empty SKIP nest clears the rules.
class Nest {
 public:
  Nest(nl_msg* msg, int type) : msg_(msg), attr_(nla_nest_start(msg, type)) {
    if (attr_ == nullptr) {
      throw_too_big();
    }
    attr_->nla_type |= NLA_F_NESTED;
  }
  void end() {
    const auto* tail = static_cast<const char*>(nlmsg_tail(nlmsg_hdr(msg_)));
    if (tail - reinterpret_cast<const char*>(attr_) == NLA_HDRLEN) {
      return;  // nla_nest_start made it a complete empty attribute
    }
    if (nla_nest_end(msg_, attr_) < 0) {
      throw_too_big();
    }
  }

 private:
  nl_msg* msg_;
  nlattr* attr_;
};

NlMsgPtr new_request(int family_id, std::uint8_t cmd, int flags) {
  NlMsgPtr msg(nlmsg_alloc());
  if (!msg) {
    throw Error(ENOMEM, "cannot allocate a netlink message");
  }
  if (genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family_id, 0, flags, cmd,
                  SOCK_VS_GENL_VERSION) == nullptr) {
    throw_too_big();
  }
  return msg;
}

void check_key(const ServiceKey& key) {
  if (!key.addr.is_v4() && !key.addr.is_v6()) {
    throw Error(EINVAL, "service address is not set");
  }
  if (key.protocol != IPPROTO_TCP && key.protocol != IPPROTO_UDP) {
    throw Error(EINVAL,
                "unsupported protocol " + std::to_string(key.protocol) + " (only TCP and UDP)");
  }
  if (key.port == 0) {
    throw Error(EINVAL, "service port must be 1-65535");
  }
}

void check_dest(const ServiceKey& key, const RealServer& dest, bool with_weight) {
  if (!dest.addr.is_v4() && !dest.addr.is_v6()) {
    throw Error(EINVAL, "real server address is not set");
  }
  if (dest.af() != key.af()) {
    throw Error(EAFNOSUPPORT, "real server " + dest.addr.to_string() + " is " +
                                  std::string(family_name(dest.af())) + " but the service is " +
                                  std::string(family_name(key.af())));
  }
  if (dest.port == 0) {
    throw Error(EINVAL, "real server port must be 1-65535");
  }
  if (!with_weight) {
    return;  // DEL_DEST: only the key matters
  }
  if (dest.weight > SOCK_VS_WEIGHT_MAX) {
    throw Error(EINVAL, "weight " + std::to_string(dest.weight) + " out of range 0-" +
                            std::to_string(SOCK_VS_WEIGHT_MAX));
  }
  for (const auto& [value, name] : {std::pair{dest.u_threshold, "upper threshold"},
                                    std::pair{dest.l_threshold, "lower threshold"}}) {
    if (value && *value > kThresholdMax) {
      throw Error(EINVAL, std::string(name) + " " + std::to_string(*value) + " out of range 0-" +
                              std::to_string(kThresholdMax));
    }
  }
  if (dest.u_threshold && dest.l_threshold && *dest.l_threshold > *dest.u_threshold) {
    throw Error(EINVAL, "lower threshold " + std::to_string(*dest.l_threshold) +
                            " is above the upper threshold " + std::to_string(*dest.u_threshold));
  }
  if (dest.shards && (*dest.shards < 1 || *dest.shards > SOCK_VS_SHARDS_MAX)) {
    throw Error(EINVAL, "shards " + std::to_string(*dest.shards) + " out of range 1-" +
                            std::to_string(SOCK_VS_SHARDS_MAX));
  }
}

void check_terminate(Terminate policy) {
  if (static_cast<int>(policy) > SOCK_VS_TERMINATE_MAX) {
    throw Error(EINVAL, "unknown terminate policy " + terminate_name(policy));
  }
}

// What the module's policy refuses of the passive-health options (ranges,
// and a base ejection time above the longest when both are given).  That
// ejection is for TCP services, and a base time above the module's current
// longest one, are for the module to say.
void check_eject_options(const Service& svc) {
  if (svc.eject && *svc.eject > kEjectMax) {
    throw Error(EINVAL, "ejection after " + std::to_string(*svc.eject) +
                            " failures out of range 0-" + std::to_string(kEjectMax));
  }
  for (const auto& [value, what] : {std::pair{svc.eject_time, "ejection time"},
                                    std::pair{svc.eject_time_max, "longest ejection time"}}) {
    if (value && (*value < 1 || *value > kEjectTimeLimit)) {
      throw Error(EINVAL, std::string(what) + " " + std::to_string(*value) + " out of range 1-" +
                              std::to_string(kEjectTimeLimit));
    }
  }
  if (svc.eject_time && svc.eject_time_max && *svc.eject_time > *svc.eject_time_max) {
    throw Error(EINVAL, "ejection time " + std::to_string(*svc.eject_time) +
                            " above the longest ejection time " +
                            std::to_string(*svc.eject_time_max));
  }
  if (svc.eject_max_percent && (*svc.eject_max_percent < 1 || *svc.eject_max_percent > 100)) {
    throw Error(EINVAL, "ejection bound " + std::to_string(*svc.eject_max_percent) +
                            "% out of range 1-100");
  }
}

void check_service_options(const Service& svc) {
  if (svc.hash_key && static_cast<int>(*svc.hash_key) > SOCK_VS_HASH_MAX) {
    throw Error(EINVAL, "unknown hash key " + hash_key_name(*svc.hash_key));
  }
  if (svc.shard_policy && static_cast<int>(*svc.shard_policy) > SOCK_VS_SHARD_MAX) {
    throw Error(EINVAL, "unknown shard policy " + shard_policy_name(*svc.shard_policy));
  }
  if (svc.terminate) {
    check_terminate(*svc.terminate);
  }
  if (svc.persist && *svc.persist > kPersistMax) {
    throw Error(EINVAL, "persistence timeout " + std::to_string(*svc.persist) + " out of range 0-" +
                            std::to_string(kPersistMax));
  }
  check_eject_options(svc);
  if (svc.skip) {
    if (svc.skip->size() > SOCK_VS_SKIP_MAX) {
      throw Error(E2BIG, "at most " + std::to_string(SOCK_VS_SKIP_MAX) +
                             " exemptions per service, " + std::to_string(svc.skip->size()) +
                             " given");
    }
    for (const auto& rule : *svc.skip) {
      if (const std::string problem = skip_rule_problem(rule); !problem.empty()) {
        throw Error(EINVAL, "invalid exemption (" + std::string(skip_kind(rule)) + "): " + problem);
      }
    }
  }
}

void check_sched(const std::string& name) {
  if (!valid_sched_name(name)) {
    throw Error(EINVAL, "invalid scheduler name '" + name + "'");
  }
}

// SVC_ATTR_SKIP{RULE{...}...}: uid rules with both UID_MIN and UID_MAX,
// mark rules with both MARK and MARK_MASK (the module's defaults spelt out).
void put_skip(nl_msg* msg, const std::vector<SkipRule>& rules) {
  Nest nest(msg, SOCK_VS_SVC_ATTR_SKIP);
  for (const auto& rule : rules) {
    Nest entry(msg, SOCK_VS_SKIP_RULE);
    if (const auto* uid = std::get_if<SkipUid>(&rule)) {
      put_u32(msg, SOCK_VS_SKIP_ATTR_UID_MIN, uid->min);
      put_u32(msg, SOCK_VS_SKIP_ATTR_UID_MAX, uid->max);
    } else if (const auto* mark = std::get_if<SkipMark>(&rule)) {
      put_u32(msg, SOCK_VS_SKIP_ATTR_MARK, mark->mark);
      put_u32(msg, SOCK_VS_SKIP_ATTR_MARK_MASK, mark->mask);
    } else {
      put_string(msg, SOCK_VS_SKIP_ATTR_CGROUP, std::get<SkipCgroup>(rule).path);
    }
    entry.end();
  }
  nest.end();
}

void put_key_attrs(nl_msg* msg, const ServiceKey& key) {
  put_u16(msg, SOCK_VS_SVC_ATTR_AF, static_cast<std::uint16_t>(key.af()));
  put_u16(msg, SOCK_VS_SVC_ATTR_PROTOCOL, key.protocol);
  put_addr(msg, SOCK_VS_SVC_ATTR_ADDR, key.addr);
  put_u16(msg, SOCK_VS_SVC_ATTR_PORT, key.port);
}

void put_service_key(nl_msg* msg, const ServiceKey& key) {
  check_key(key);
  Nest nest(msg, SOCK_VS_ATTR_SERVICE);
  put_key_attrs(msg, key);
  nest.end();
}

void put_dest(nl_msg* msg, const RealServer& dest, bool with_weight) {
  Nest nest(msg, SOCK_VS_ATTR_DEST);
  put_addr(msg, SOCK_VS_DEST_ATTR_ADDR, dest.addr);
  put_u16(msg, SOCK_VS_DEST_ATTR_PORT, dest.port);
  if (with_weight) {
    put_u32(msg, SOCK_VS_DEST_ATTR_WEIGHT, dest.weight);
    if (dest.u_threshold) {
      put_u32(msg, SOCK_VS_DEST_ATTR_U_THRESH, *dest.u_threshold);
    }
    if (dest.l_threshold) {
      put_u32(msg, SOCK_VS_DEST_ATTR_L_THRESH, *dest.l_threshold);
    }
    if (dest.shards) {
      put_u16(msg, SOCK_VS_DEST_ATTR_SHARDS, *dest.shards);
    }
  }
  put_u16(msg, SOCK_VS_DEST_ATTR_AF, static_cast<std::uint16_t>(dest.af()));
  nest.end();
}

NlMsgPtr build_service_change(int family_id, std::uint8_t cmd, const Service& svc) {
  const ServiceKey key = svc.key();
  check_key(key);
  if (!svc.sched_name.empty()) {
    check_sched(svc.sched_name);
  }
  check_service_options(svc);
  auto msg = new_request(family_id, cmd, NLM_F_ACK);
  Nest nest(msg.get(), SOCK_VS_ATTR_SERVICE);
  put_key_attrs(msg.get(), key);
  if (!svc.sched_name.empty()) {
    put_string(msg.get(), SOCK_VS_SVC_ATTR_SCHED_NAME, svc.sched_name);
  }
  put_u32(msg.get(), SOCK_VS_SVC_ATTR_FLAGS, svc.flags);
  if (svc.hash_key) {
    put_u8(msg.get(), SOCK_VS_SVC_ATTR_HASH_KEY, static_cast<std::uint8_t>(*svc.hash_key));
  }
  if (svc.shard_policy) {
    put_u8(msg.get(), SOCK_VS_SVC_ATTR_SHARD_POLICY, static_cast<std::uint8_t>(*svc.shard_policy));
  }
  if (svc.terminate) {
    put_u8(msg.get(), SOCK_VS_SVC_ATTR_TERMINATE, static_cast<std::uint8_t>(*svc.terminate));
  }
  if (svc.skip) {
    put_skip(msg.get(), *svc.skip);
  }
  if (svc.persist) {
    put_u32(msg.get(), SOCK_VS_SVC_ATTR_PERSIST, *svc.persist);
  }
  if (svc.eject) {
    put_u32(msg.get(), SOCK_VS_SVC_ATTR_EJECT, *svc.eject);
  }
  if (svc.eject_time) {
    put_u32(msg.get(), SOCK_VS_SVC_ATTR_EJECT_TIME, *svc.eject_time);
  }
  if (svc.eject_time_max) {
    put_u32(msg.get(), SOCK_VS_SVC_ATTR_EJECT_TIME_MAX, *svc.eject_time_max);
  }
  if (svc.eject_max_percent) {
    put_u8(msg.get(), SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT, *svc.eject_max_percent);
  }
  nest.end();
  return msg;
}

NlMsgPtr build_dest_change(int family_id, std::uint8_t cmd, const ServiceKey& key,
                           const RealServer& dest, bool with_weight) {
  check_key(key);
  check_dest(key, dest, with_weight);
  auto msg = new_request(family_id, cmd, NLM_F_ACK);
  put_service_key(msg.get(), key);
  put_dest(msg.get(), dest, with_weight);
  return msg;
}

// --- parsing ---------------------------------------------------------------------

[[noreturn]] void malformed(const std::string& what) {
  throw Error(EPROTO, "malformed reply from the sock_vs module: " + what);
}

template <std::size_t N>
using Policy = std::array<nla_policy, N>;

nla_policy typed(std::uint16_t type) {
  nla_policy p{};
  p.type = type;
  return p;
}

// Strings are NLA_UNSPEC and read with a bound (see get_string): libnl's
// NLA_STRING check would reject a string without its NUL.
Policy<SOCK_VS_ATTR_MAX + 1> top_policy() {
  Policy<SOCK_VS_ATTR_MAX + 1> p{};
  p[SOCK_VS_ATTR_SERVICE] = typed(NLA_NESTED);
  p[SOCK_VS_ATTR_DEST] = typed(NLA_NESTED);
  p[SOCK_VS_ATTR_INFO] = typed(NLA_NESTED);
  p[SOCK_VS_ATTR_CONN] = typed(NLA_NESTED);
  p[SOCK_VS_ATTR_KILLED] = typed(NLA_U32);
  p[SOCK_VS_ATTR_TEMPLATE] = typed(NLA_NESTED);
  return p;
}

Policy<SOCK_VS_SVC_ATTR_MAX + 1> svc_policy() {
  Policy<SOCK_VS_SVC_ATTR_MAX + 1> p{};
  p[SOCK_VS_SVC_ATTR_AF] = typed(NLA_U16);
  p[SOCK_VS_SVC_ATTR_PROTOCOL] = typed(NLA_U16);
  p[SOCK_VS_SVC_ATTR_PORT] = typed(NLA_U16);
  p[SOCK_VS_SVC_ATTR_FLAGS] = typed(NLA_U32);
  p[SOCK_VS_SVC_ATTR_STATS] = typed(NLA_NESTED);
  p[SOCK_VS_SVC_ATTR_NUM_DESTS] = typed(NLA_U32);
  p[SOCK_VS_SVC_ATTR_HASH_KEY] = typed(NLA_U8);
  p[SOCK_VS_SVC_ATTR_SHARD_POLICY] = typed(NLA_U8);
  p[SOCK_VS_SVC_ATTR_TERMINATE] = typed(NLA_U8);
  p[SOCK_VS_SVC_ATTR_SKIP] = typed(NLA_NESTED);
  p[SOCK_VS_SVC_ATTR_PERSIST] = typed(NLA_U32);
  p[SOCK_VS_SVC_ATTR_EJECT] = typed(NLA_U32);
  p[SOCK_VS_SVC_ATTR_EJECT_TIME] = typed(NLA_U32);
  p[SOCK_VS_SVC_ATTR_EJECT_TIME_MAX] = typed(NLA_U32);
  p[SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT] = typed(NLA_U8);
  return p;
}

// One SOCK_VS_SKIP_RULE entry (CGROUP is read with a bound, see get_string).
Policy<SOCK_VS_SKIP_ATTR_MAX + 1> skip_rule_policy() {
  Policy<SOCK_VS_SKIP_ATTR_MAX + 1> p{};
  p[SOCK_VS_SKIP_ATTR_UID_MIN] = typed(NLA_U32);
  p[SOCK_VS_SKIP_ATTR_UID_MAX] = typed(NLA_U32);
  p[SOCK_VS_SKIP_ATTR_MARK] = typed(NLA_U32);
  p[SOCK_VS_SKIP_ATTR_MARK_MASK] = typed(NLA_U32);
  p[SOCK_VS_SKIP_ATTR_CGROUP_ID] = typed(NLA_U64);
  return p;
}

Policy<SOCK_VS_DEST_ATTR_MAX + 1> dest_policy() {
  Policy<SOCK_VS_DEST_ATTR_MAX + 1> p{};
  p[SOCK_VS_DEST_ATTR_PORT] = typed(NLA_U16);
  p[SOCK_VS_DEST_ATTR_WEIGHT] = typed(NLA_U32);
  p[SOCK_VS_DEST_ATTR_AF] = typed(NLA_U16);
  p[SOCK_VS_DEST_ATTR_STATS] = typed(NLA_NESTED);
  p[SOCK_VS_DEST_ATTR_ACTIVE_CONNS] = typed(NLA_U32);
  p[SOCK_VS_DEST_ATTR_INACT_CONNS] = typed(NLA_U32);
  p[SOCK_VS_DEST_ATTR_U_THRESH] = typed(NLA_U32);
  p[SOCK_VS_DEST_ATTR_L_THRESH] = typed(NLA_U32);
  p[SOCK_VS_DEST_ATTR_SHARDS] = typed(NLA_U16);
  p[SOCK_VS_DEST_ATTR_OVERLOADED] = typed(NLA_U8);
  p[SOCK_VS_DEST_ATTR_EJECTED] = typed(NLA_U8);
  p[SOCK_VS_DEST_ATTR_EJECT_LEFT] = typed(NLA_U32);
  p[SOCK_VS_DEST_ATTR_FAILS] = typed(NLA_U32);
  // SHARD_CONNS is binary (NLA_UNSPEC): its length is checked by hand.
  return p;
}

Policy<SOCK_VS_STATS_ATTR_MAX + 1> stats_policy() {
  Policy<SOCK_VS_STATS_ATTR_MAX + 1> p{};
  p[SOCK_VS_STATS_ATTR_CONNS] = typed(NLA_U64);
  p[SOCK_VS_STATS_ATTR_REFUSED] = typed(NLA_U64);
  p[SOCK_VS_STATS_ATTR_UNTRACKED] = typed(NLA_U64);
  p[SOCK_VS_STATS_ATTR_KILLED] = typed(NLA_U64);
  p[SOCK_VS_STATS_ATTR_EJECTED] = typed(NLA_U64);
  p[SOCK_VS_STATS_ATTR_FAILED] = typed(NLA_U64);
  return p;
}

Policy<SOCK_VS_INFO_ATTR_MAX + 1> info_policy() {
  Policy<SOCK_VS_INFO_ATTR_MAX + 1> p{};
  p[SOCK_VS_INFO_ATTR_NUM_SERVICES] = typed(NLA_U32);
  p[SOCK_VS_INFO_ATTR_MAX_SERVICES] = typed(NLA_U32);
  p[SOCK_VS_INFO_ATTR_MAX_DESTS] = typed(NLA_U32);
  p[SOCK_VS_INFO_ATTR_UNTRACKED] = typed(NLA_U64);
  p[SOCK_VS_INFO_ATTR_TEMPLATES] = typed(NLA_U32);
  p[SOCK_VS_INFO_ATTR_MAX_TEMPLATES] = typed(NLA_U32);
  return p;
}

Policy<SOCK_VS_CONN_ATTR_MAX + 1> conn_policy() {
  Policy<SOCK_VS_CONN_ATTR_MAX + 1> p{};
  p[SOCK_VS_CONN_ATTR_AF] = typed(NLA_U16);
  p[SOCK_VS_CONN_ATTR_PROTOCOL] = typed(NLA_U16);
  p[SOCK_VS_CONN_ATTR_LPORT] = typed(NLA_U16);
  p[SOCK_VS_CONN_ATTR_VPORT] = typed(NLA_U16);
  p[SOCK_VS_CONN_ATTR_DPORT] = typed(NLA_U16);
  p[SOCK_VS_CONN_ATTR_SHARD] = typed(NLA_U32);
  p[SOCK_VS_CONN_ATTR_STATE] = typed(NLA_U8);
  p[SOCK_VS_CONN_ATTR_PID] = typed(NLA_U32);
  return p;
}

Policy<SOCK_VS_TMPL_ATTR_MAX + 1> tmpl_policy() {
  Policy<SOCK_VS_TMPL_ATTR_MAX + 1> p{};
  p[SOCK_VS_TMPL_ATTR_AF] = typed(NLA_U16);
  p[SOCK_VS_TMPL_ATTR_PROTOCOL] = typed(NLA_U16);
  p[SOCK_VS_TMPL_ATTR_VPORT] = typed(NLA_U16);
  p[SOCK_VS_TMPL_ATTR_DPORT] = typed(NLA_U16);
  p[SOCK_VS_TMPL_ATTR_CLIENT_KIND] = typed(NLA_U8);
  p[SOCK_VS_TMPL_ATTR_CLIENT] = typed(NLA_U64);
  p[SOCK_VS_TMPL_ATTR_CONNS] = typed(NLA_U32);
  p[SOCK_VS_TMPL_ATTR_EXPIRES] = typed(NLA_U32);
  return p;
}

// The top-level attribute `type` of a sock_vs reply.
nlattr* top_attr(const nlmsghdr* nlh, int type, const char* name) {
  if (nlh == nullptr || nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN) {
    malformed("message too short");
  }
  std::array<nlattr*, SOCK_VS_ATTR_MAX + 1> tb{};
  auto policy = top_policy();
  // libnl does not write through the header; its API is just not const.
  if (genlmsg_parse(const_cast<nlmsghdr*>(nlh), 0, tb.data(), SOCK_VS_ATTR_MAX, policy.data()) <
      0) {
    malformed("bad attributes");
  }
  if (tb.at(static_cast<std::size_t>(type)) == nullptr) {
    malformed(std::string("no ") + name + " attribute");
  }
  return tb.at(static_cast<std::size_t>(type));
}

template <std::size_t N>
std::array<nlattr*, N> parse_nest(nlattr* nest, Policy<N>& policy, const char* name) {
  std::array<nlattr*, N> tb{};
  if (nla_parse_nested(tb.data(), static_cast<int>(N - 1), nest, policy.data()) < 0) {
    malformed(std::string("bad ") + name + " attributes");
  }
  return tb;
}

std::string get_string(const nlattr* attr) {
  const auto* data = static_cast<const char*>(nla_data(attr));
  const auto len = static_cast<std::size_t>(nla_len(attr));
  return {data, strnlen(data, len)};
}

// A binary attribute holding an array of native-order u32.
std::vector<std::uint32_t> get_u32_array(const nlattr* attr, const char* what) {
  const auto len = static_cast<std::size_t>(nla_len(attr));
  if (len % sizeof(std::uint32_t) != 0) {
    malformed(std::string(what) + " is " + std::to_string(len) +
              " bytes, not a whole number of u32");
  }
  std::vector<std::uint32_t> out(len / sizeof(std::uint32_t));
  if (len != 0) {
    std::memcpy(out.data(), nla_data(attr), len);
  }
  return out;
}

template <std::size_t N>
nlattr* require(const std::array<nlattr*, N>& tb, int type, const char* name) {
  nlattr* attr = tb.at(static_cast<std::size_t>(type));
  if (attr == nullptr) {
    malformed(std::string("missing ") + name);
  }
  return attr;
}

Stats parse_stats(nlattr* nest) {
  auto policy = stats_policy();
  const auto tb = parse_nest(nest, policy, "stats");
  Stats stats;
  if (tb[SOCK_VS_STATS_ATTR_CONNS] != nullptr) {
    stats.conns = nla_get_u64(tb[SOCK_VS_STATS_ATTR_CONNS]);
  }
  if (tb[SOCK_VS_STATS_ATTR_REFUSED] != nullptr) {
    stats.refused = nla_get_u64(tb[SOCK_VS_STATS_ATTR_REFUSED]);
  }
  if (tb[SOCK_VS_STATS_ATTR_UNTRACKED] != nullptr) {
    stats.untracked = nla_get_u64(tb[SOCK_VS_STATS_ATTR_UNTRACKED]);
  }
  if (tb[SOCK_VS_STATS_ATTR_KILLED] != nullptr) {
    stats.killed = nla_get_u64(tb[SOCK_VS_STATS_ATTR_KILLED]);
  }
  if (tb[SOCK_VS_STATS_ATTR_EJECTED] != nullptr) {
    stats.ejected = nla_get_u64(tb[SOCK_VS_STATS_ATTR_EJECTED]);
  }
  if (tb[SOCK_VS_STATS_ATTR_FAILED] != nullptr) {
    stats.failed = nla_get_u64(tb[SOCK_VS_STATS_ATTR_FAILED]);
  }
  return stats;
}

// The SVC_ATTR_SKIP nest of a dump, in order.  Entries of another type than
// SOCK_VS_SKIP_RULE, and rules of no kind this version knows, are skipped
// (the protocol only grows).
std::vector<SkipRule> parse_skip(nlattr* nest) {
  std::vector<SkipRule> rules;
  auto policy = skip_rule_policy();
  nlattr* entry = nullptr;
  int rem = 0;
  nla_for_each_nested(entry, nest, rem) {
    if (nla_type(entry) != SOCK_VS_SKIP_RULE) {
      continue;
    }
    const auto tb = parse_nest(entry, policy, "exemption");
    if (tb[SOCK_VS_SKIP_ATTR_UID_MIN] != nullptr) {
      SkipUid uid;
      uid.min = nla_get_u32(tb[SOCK_VS_SKIP_ATTR_UID_MIN]);
      uid.max = tb[SOCK_VS_SKIP_ATTR_UID_MAX] != nullptr
                    ? nla_get_u32(tb[SOCK_VS_SKIP_ATTR_UID_MAX])
                    : uid.min;
      rules.emplace_back(uid);
    } else if (tb[SOCK_VS_SKIP_ATTR_CGROUP] != nullptr) {
      SkipCgroup cgroup;
      cgroup.path = get_string(tb[SOCK_VS_SKIP_ATTR_CGROUP]);
      if (tb[SOCK_VS_SKIP_ATTR_CGROUP_ID] != nullptr) {
        cgroup.id = nla_get_u64(tb[SOCK_VS_SKIP_ATTR_CGROUP_ID]);
      }
      rules.emplace_back(std::move(cgroup));
    } else if (tb[SOCK_VS_SKIP_ATTR_MARK] != nullptr) {
      SkipMark mark;
      mark.mark = nla_get_u32(tb[SOCK_VS_SKIP_ATTR_MARK]);
      if (tb[SOCK_VS_SKIP_ATTR_MARK_MASK] != nullptr) {
        mark.mask = nla_get_u32(tb[SOCK_VS_SKIP_ATTR_MARK_MASK]);
      }
      rules.emplace_back(mark);
    }
  }
  return rules;
}

// An address attribute: its family is `af_attr` if present, else implied
// by the length (4: IPv4, 16: IPv6).
Address get_address(const nlattr* addr_attr, const nlattr* af_attr, const char* what) {
  const auto len = static_cast<std::size_t>(nla_len(addr_attr));
  int af = AF_UNSPEC;
  if (af_attr != nullptr) {
    af = nla_get_u16(const_cast<nlattr*>(af_attr));
  } else if (len == 4) {
    af = AF_INET;
  } else if (len == 16) {
    af = AF_INET6;
  }
  const std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(nla_data(addr_attr)),
                                            len);
  try {
    return Address::from_bytes(af, bytes);
  } catch (const std::invalid_argument&) {
    malformed(std::string("bad ") + what + " address (family " + std::to_string(af) + ", " +
              std::to_string(len) + " bytes)");
  }
}

// The TLVs of an extended ACK: returns NLMSGERR_ATTR_MSG if present.
std::string ext_ack_message(const std::uint8_t* tlvs, std::size_t len) {
  std::string msg;
  std::uint32_t missing_type = 0;
  bool have_missing = false;
  while (len >= NLA_HDRLEN) {
    nlattr hdr{};
    std::memcpy(&hdr, tlvs, sizeof hdr);
    if (hdr.nla_len < NLA_HDRLEN || hdr.nla_len > len) {
      break;  // malformed: stop, keep what we have
    }
    const std::size_t payload = hdr.nla_len - NLA_HDRLEN;
    const auto* data = tlvs + NLA_HDRLEN;
    switch (hdr.nla_type & NLA_TYPE_MASK) {
      case NLMSGERR_ATTR_MSG:
        msg.assign(reinterpret_cast<const char*>(data),
                   strnlen(reinterpret_cast<const char*>(data), payload));
        break;
      case NLMSGERR_ATTR_MISS_TYPE:
        if (payload >= sizeof missing_type) {
          std::memcpy(&missing_type, data, sizeof missing_type);
          have_missing = true;
        }
        break;
      default:
        break;
    }
    const std::size_t step = NLA_ALIGN(hdr.nla_len);
    if (step >= len) {
      break;
    }
    tlvs += step;
    len -= step;
  }
  if (msg.empty() && have_missing) {
    msg = "missing attribute " + std::to_string(missing_type);
  }
  return msg;
}

}  // namespace

NlMsgPtr build_new_service(int family_id, const Service& svc) {
  return build_service_change(family_id, SOCK_VS_CMD_NEW_SERVICE, svc);
}

NlMsgPtr build_set_service(int family_id, const Service& svc) {
  return build_service_change(family_id, SOCK_VS_CMD_SET_SERVICE, svc);
}

NlMsgPtr build_del_service(int family_id, const ServiceKey& key) {
  check_key(key);
  auto msg = new_request(family_id, SOCK_VS_CMD_DEL_SERVICE, NLM_F_ACK);
  put_service_key(msg.get(), key);
  return msg;
}

NlMsgPtr build_get_service(int family_id, const ServiceKey& key) {
  check_key(key);
  auto msg = new_request(family_id, SOCK_VS_CMD_GET_SERVICE, NLM_F_ACK);
  put_service_key(msg.get(), key);
  return msg;
}

NlMsgPtr build_list_services(int family_id) {
  return new_request(family_id, SOCK_VS_CMD_GET_SERVICE, NLM_F_DUMP);
}

NlMsgPtr build_new_dest(int family_id, const ServiceKey& key, const RealServer& dest) {
  return build_dest_change(family_id, SOCK_VS_CMD_NEW_DEST, key, dest, true);
}

NlMsgPtr build_set_dest(int family_id, const ServiceKey& key, const RealServer& dest) {
  return build_dest_change(family_id, SOCK_VS_CMD_SET_DEST, key, dest, true);
}

NlMsgPtr build_del_dest(int family_id, const ServiceKey& key, const RealServer& dest) {
  return build_dest_change(family_id, SOCK_VS_CMD_DEL_DEST, key, dest, false);
}

NlMsgPtr build_list_dests(int family_id, const ServiceKey& key) {
  check_key(key);
  auto msg = new_request(family_id, SOCK_VS_CMD_GET_DEST, NLM_F_DUMP);
  put_service_key(msg.get(), key);
  return msg;
}

NlMsgPtr build_flush(int family_id) { return new_request(family_id, SOCK_VS_CMD_FLUSH, NLM_F_ACK); }

NlMsgPtr build_kill(int family_id, const ServiceKey& key, const std::optional<RealServer>& dest,
                    std::optional<Terminate> policy) {
  check_key(key);
  if (dest) {
    check_dest(key, *dest, false);
  }
  if (policy) {
    check_terminate(*policy);
    if (*policy == Terminate::kNone) {
      throw Error(EINVAL, "terminate policy none terminates nothing (kill needs udp or all)");
    }
  }
  auto msg = new_request(family_id, SOCK_VS_CMD_KILL, NLM_F_ACK);
  Nest nest(msg.get(), SOCK_VS_ATTR_SERVICE);
  put_key_attrs(msg.get(), key);
  if (policy) {
    put_u8(msg.get(), SOCK_VS_SVC_ATTR_TERMINATE, static_cast<std::uint8_t>(*policy));
  }
  nest.end();
  if (dest) {
    put_dest(msg.get(), *dest, false);
  }
  return msg;
}

NlMsgPtr build_zero(int family_id, const std::optional<ServiceKey>& key) {
  if (key) {
    check_key(*key);
  }
  auto msg = new_request(family_id, SOCK_VS_CMD_ZERO, NLM_F_ACK);
  if (key) {
    put_service_key(msg.get(), *key);
  }
  return msg;
}

NlMsgPtr build_get_info(int family_id) {
  return new_request(family_id, SOCK_VS_CMD_GET_INFO, NLM_F_ACK);
}

Service parse_service_reply(const nlmsghdr* nlh) {
  nlattr* nest = top_attr(nlh, SOCK_VS_ATTR_SERVICE, "service");
  auto policy = svc_policy();
  const auto tb = parse_nest(nest, policy, "service");

  Service svc;
  svc.protocol = nla_get_u16(require(tb, SOCK_VS_SVC_ATTR_PROTOCOL, "service protocol"));
  svc.addr = get_address(require(tb, SOCK_VS_SVC_ATTR_ADDR, "service address"),
                         tb[SOCK_VS_SVC_ATTR_AF], "service");
  svc.port = nla_get_u16(require(tb, SOCK_VS_SVC_ATTR_PORT, "service port"));
  if (tb[SOCK_VS_SVC_ATTR_SCHED_NAME] != nullptr) {
    svc.sched_name = get_string(tb[SOCK_VS_SVC_ATTR_SCHED_NAME]);
  }
  if (tb[SOCK_VS_SVC_ATTR_FLAGS] != nullptr) {
    svc.flags = nla_get_u32(tb[SOCK_VS_SVC_ATTR_FLAGS]);
  }
  if (tb[SOCK_VS_SVC_ATTR_STATS] != nullptr) {
    svc.stats = parse_stats(tb[SOCK_VS_SVC_ATTR_STATS]);
  }
  if (tb[SOCK_VS_SVC_ATTR_NUM_DESTS] != nullptr) {
    svc.num_dests = nla_get_u32(tb[SOCK_VS_SVC_ATTR_NUM_DESTS]);
  }
  if (tb[SOCK_VS_SVC_ATTR_HASH_KEY] != nullptr) {
    svc.hash_key = static_cast<HashKey>(nla_get_u8(tb[SOCK_VS_SVC_ATTR_HASH_KEY]));
  }
  if (tb[SOCK_VS_SVC_ATTR_SHARD_POLICY] != nullptr) {
    svc.shard_policy = static_cast<ShardPolicy>(nla_get_u8(tb[SOCK_VS_SVC_ATTR_SHARD_POLICY]));
  }
  if (tb[SOCK_VS_SVC_ATTR_TERMINATE] != nullptr) {
    svc.terminate = static_cast<Terminate>(nla_get_u8(tb[SOCK_VS_SVC_ATTR_TERMINATE]));
  }
  if (tb[SOCK_VS_SVC_ATTR_SKIP] != nullptr) {
    svc.skip = parse_skip(tb[SOCK_VS_SVC_ATTR_SKIP]);
  }
  if (tb[SOCK_VS_SVC_ATTR_PERSIST] != nullptr) {
    svc.persist = nla_get_u32(tb[SOCK_VS_SVC_ATTR_PERSIST]);
  }
  if (tb[SOCK_VS_SVC_ATTR_EJECT] != nullptr) {
    svc.eject = nla_get_u32(tb[SOCK_VS_SVC_ATTR_EJECT]);
  }
  if (tb[SOCK_VS_SVC_ATTR_EJECT_TIME] != nullptr) {
    svc.eject_time = nla_get_u32(tb[SOCK_VS_SVC_ATTR_EJECT_TIME]);
  }
  if (tb[SOCK_VS_SVC_ATTR_EJECT_TIME_MAX] != nullptr) {
    svc.eject_time_max = nla_get_u32(tb[SOCK_VS_SVC_ATTR_EJECT_TIME_MAX]);
  }
  if (tb[SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT] != nullptr) {
    svc.eject_max_percent = nla_get_u8(tb[SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT]);
  }
  return svc;
}

std::uint32_t parse_killed_reply(const nlmsghdr* nlh) {
  return nla_get_u32(top_attr(nlh, SOCK_VS_ATTR_KILLED, "killed"));
}

RealServer parse_dest_reply(const nlmsghdr* nlh) {
  nlattr* nest = top_attr(nlh, SOCK_VS_ATTR_DEST, "real server");
  auto policy = dest_policy();
  const auto tb = parse_nest(nest, policy, "real server");

  RealServer dest;
  dest.addr = get_address(require(tb, SOCK_VS_DEST_ATTR_ADDR, "real server address"),
                          tb[SOCK_VS_DEST_ATTR_AF], "real server");
  dest.port = nla_get_u16(require(tb, SOCK_VS_DEST_ATTR_PORT, "real server port"));
  dest.weight = nla_get_u32(require(tb, SOCK_VS_DEST_ATTR_WEIGHT, "real server weight"));
  if (tb[SOCK_VS_DEST_ATTR_ACTIVE_CONNS] != nullptr) {
    dest.active_conns = nla_get_u32(tb[SOCK_VS_DEST_ATTR_ACTIVE_CONNS]);
  }
  if (tb[SOCK_VS_DEST_ATTR_INACT_CONNS] != nullptr) {
    dest.inact_conns = nla_get_u32(tb[SOCK_VS_DEST_ATTR_INACT_CONNS]);
  }
  if (tb[SOCK_VS_DEST_ATTR_STATS] != nullptr) {
    dest.stats = parse_stats(tb[SOCK_VS_DEST_ATTR_STATS]);
  }
  if (tb[SOCK_VS_DEST_ATTR_U_THRESH] != nullptr) {
    dest.u_threshold = nla_get_u32(tb[SOCK_VS_DEST_ATTR_U_THRESH]);
  }
  if (tb[SOCK_VS_DEST_ATTR_L_THRESH] != nullptr) {
    dest.l_threshold = nla_get_u32(tb[SOCK_VS_DEST_ATTR_L_THRESH]);
  }
  if (tb[SOCK_VS_DEST_ATTR_SHARDS] != nullptr) {
    dest.shards = nla_get_u16(tb[SOCK_VS_DEST_ATTR_SHARDS]);
  }
  if (tb[SOCK_VS_DEST_ATTR_OVERLOADED] != nullptr) {
    dest.overloaded = nla_get_u8(tb[SOCK_VS_DEST_ATTR_OVERLOADED]) != 0;
  }
  if (tb[SOCK_VS_DEST_ATTR_EJECTED] != nullptr) {
    dest.ejected = static_cast<EjectState>(nla_get_u8(tb[SOCK_VS_DEST_ATTR_EJECTED]));
  }
  if (tb[SOCK_VS_DEST_ATTR_EJECT_LEFT] != nullptr) {
    dest.eject_left_ms = nla_get_u32(tb[SOCK_VS_DEST_ATTR_EJECT_LEFT]);
  }
  if (tb[SOCK_VS_DEST_ATTR_FAILS] != nullptr) {
    dest.fails = nla_get_u32(tb[SOCK_VS_DEST_ATTR_FAILS]);
  }
  if (tb[SOCK_VS_DEST_ATTR_SHARD_CONNS] != nullptr) {
    dest.shard_conns = get_u32_array(tb[SOCK_VS_DEST_ATTR_SHARD_CONNS], "real server shard_conns");
    if (dest.shards && dest.shard_conns.size() != *dest.shards) {
      malformed("real server shard_conns has " + std::to_string(dest.shard_conns.size()) +
                " entries for " + std::to_string(*dest.shards) + " shards");
    }
  }
  return dest;
}

Info parse_info_reply(const nlmsghdr* nlh) {
  nlattr* nest = top_attr(nlh, SOCK_VS_ATTR_INFO, "info");
  auto policy = info_policy();
  const auto tb = parse_nest(nest, policy, "info");

  Info info;
  info.version = get_string(require(tb, SOCK_VS_INFO_ATTR_VERSION, "module version"));
  if (tb[SOCK_VS_INFO_ATTR_NUM_SERVICES] != nullptr) {
    info.num_services = nla_get_u32(tb[SOCK_VS_INFO_ATTR_NUM_SERVICES]);
  }
  if (tb[SOCK_VS_INFO_ATTR_HOOK] != nullptr) {
    info.hook = get_string(tb[SOCK_VS_INFO_ATTR_HOOK]);
  }
  if (tb[SOCK_VS_INFO_ATTR_KERNEL] != nullptr) {
    info.kernel = get_string(tb[SOCK_VS_INFO_ATTR_KERNEL]);
  }
  if (tb[SOCK_VS_INFO_ATTR_MAX_SERVICES] != nullptr) {
    info.max_services = nla_get_u32(tb[SOCK_VS_INFO_ATTR_MAX_SERVICES]);
  }
  if (tb[SOCK_VS_INFO_ATTR_MAX_DESTS] != nullptr) {
    info.max_dests = nla_get_u32(tb[SOCK_VS_INFO_ATTR_MAX_DESTS]);
  }
  if (tb[SOCK_VS_INFO_ATTR_UNTRACKED] != nullptr) {
    info.untracked = nla_get_u64(tb[SOCK_VS_INFO_ATTR_UNTRACKED]);
  }
  if (tb[SOCK_VS_INFO_ATTR_TEMPLATES] != nullptr) {
    info.templates = nla_get_u32(tb[SOCK_VS_INFO_ATTR_TEMPLATES]);
  }
  if (tb[SOCK_VS_INFO_ATTR_MAX_TEMPLATES] != nullptr) {
    info.max_templates = nla_get_u32(tb[SOCK_VS_INFO_ATTR_MAX_TEMPLATES]);
  }
  return info;
}

NlMsgPtr build_list_conns(int family_id) {
  return new_request(family_id, SOCK_VS_CMD_GET_CONN, NLM_F_DUMP);
}

Connection parse_conn_reply(const nlmsghdr* nlh) {
  nlattr* nest = top_attr(nlh, SOCK_VS_ATTR_CONN, "connection");
  auto policy = conn_policy();
  const auto tb = parse_nest(nest, policy, "connection");

  Connection conn;
  const nlattr* af = tb[SOCK_VS_CONN_ATTR_AF];
  conn.protocol = nla_get_u16(require(tb, SOCK_VS_CONN_ATTR_PROTOCOL, "connection protocol"));
  conn.local = get_address(require(tb, SOCK_VS_CONN_ATTR_LADDR, "connection local address"), af,
                           "connection local");
  conn.lport = nla_get_u16(require(tb, SOCK_VS_CONN_ATTR_LPORT, "connection local port"));
  conn.vaddr = get_address(require(tb, SOCK_VS_CONN_ATTR_VADDR, "connection virtual address"), af,
                           "connection virtual");
  conn.vport = nla_get_u16(require(tb, SOCK_VS_CONN_ATTR_VPORT, "connection virtual port"));
  conn.daddr = get_address(require(tb, SOCK_VS_CONN_ATTR_DADDR, "connection real server address"),
                           af, "connection real server");
  conn.dport = nla_get_u16(require(tb, SOCK_VS_CONN_ATTR_DPORT, "connection real server port"));
  if (conn.local.family() != conn.vaddr.family() || conn.daddr.family() != conn.vaddr.family()) {
    malformed("connection addresses of different families");
  }
  if (tb[SOCK_VS_CONN_ATTR_SHARD] != nullptr) {
    conn.shard = nla_get_u32(tb[SOCK_VS_CONN_ATTR_SHARD]);
  }
  if (tb[SOCK_VS_CONN_ATTR_STATE] != nullptr) {
    conn.state = nla_get_u8(tb[SOCK_VS_CONN_ATTR_STATE]);
  }
  if (tb[SOCK_VS_CONN_ATTR_PID] != nullptr) {
    conn.pid = nla_get_u32(tb[SOCK_VS_CONN_ATTR_PID]);
  }
  if (tb[SOCK_VS_CONN_ATTR_COMM] != nullptr) {
    conn.comm = get_string(tb[SOCK_VS_CONN_ATTR_COMM]);
  }
  return conn;
}

NlMsgPtr build_list_templates(int family_id) {
  return new_request(family_id, SOCK_VS_CMD_GET_TEMPLATE, NLM_F_DUMP);
}

Template parse_template_reply(const nlmsghdr* nlh) {
  nlattr* nest = top_attr(nlh, SOCK_VS_ATTR_TEMPLATE, "template");
  auto policy = tmpl_policy();
  const auto tb = parse_nest(nest, policy, "template");

  Template t;
  const nlattr* af = tb[SOCK_VS_TMPL_ATTR_AF];
  t.protocol = nla_get_u16(require(tb, SOCK_VS_TMPL_ATTR_PROTOCOL, "template protocol"));
  t.vaddr = get_address(require(tb, SOCK_VS_TMPL_ATTR_VADDR, "template virtual address"), af,
                        "template virtual");
  t.vport = nla_get_u16(require(tb, SOCK_VS_TMPL_ATTR_VPORT, "template virtual port"));
  t.daddr = get_address(require(tb, SOCK_VS_TMPL_ATTR_DADDR, "template real server address"), af,
                        "template real server");
  t.dport = nla_get_u16(require(tb, SOCK_VS_TMPL_ATTR_DPORT, "template real server port"));
  if (t.daddr.family() != t.vaddr.family()) {
    malformed("template addresses of different families");
  }
  t.client_kind = static_cast<HashKey>(
      nla_get_u8(require(tb, SOCK_VS_TMPL_ATTR_CLIENT_KIND, "template client kind")));
  t.client = nla_get_u64(require(tb, SOCK_VS_TMPL_ATTR_CLIENT, "template client"));
  if (tb[SOCK_VS_TMPL_ATTR_CONNS] != nullptr) {
    t.conns = nla_get_u32(tb[SOCK_VS_TMPL_ATTR_CONNS]);
  }
  if (tb[SOCK_VS_TMPL_ATTR_EXPIRES] != nullptr) {
    t.expires = nla_get_u32(tb[SOCK_VS_TMPL_ATTR_EXPIRES]);
  }
  return t;
}

NetlinkStatus parse_error_message(const nlmsghdr* nlh) {
  if (nlh == nullptr || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(nlmsgerr)) {
    throw Error(EPROTO, "truncated netlink error message");
  }
  const auto* base = reinterpret_cast<const std::uint8_t*>(nlh);
  nlmsgerr err{};
  std::memcpy(&err, base + NLMSG_HDRLEN, sizeof err);

  NetlinkStatus status;
  status.error = err.error;
  if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) == 0) {
    return status;
  }
  // TLVs follow struct nlmsgerr and, unless capped, the echoed request's
  // payload (err.msg is the echoed request's header).
  std::size_t offset = sizeof(nlmsgerr);
  if ((nlh->nlmsg_flags & NLM_F_CAPPED) == 0) {
    if (err.msg.nlmsg_len < NLMSG_HDRLEN) {
      return status;
    }
    offset += err.msg.nlmsg_len - NLMSG_HDRLEN;
  }
  offset = NLMSG_HDRLEN + NLMSG_ALIGN(offset);
  if (offset >= nlh->nlmsg_len) {
    return status;
  }
  status.ext_ack = ext_ack_message(base + offset, nlh->nlmsg_len - offset);
  return status;
}

NetlinkStatus parse_done_message(const nlmsghdr* nlh) {
  NetlinkStatus status;
  if (nlh == nullptr || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(int)) {
    return status;  // an old-style DONE without payload: success
  }
  const auto* base = reinterpret_cast<const std::uint8_t*>(nlh);
  std::memcpy(&status.error, base + NLMSG_HDRLEN, sizeof(int));
  if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) != 0) {
    const std::size_t offset = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(int));
    if (offset < nlh->nlmsg_len) {
      status.ext_ack = ext_ack_message(base + offset, nlh->nlmsg_len - offset);
    }
  }
  return status;
}

}  // namespace sockvs
