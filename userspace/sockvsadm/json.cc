// JSON for sockvsadm with Debian's nlohmann-json3-dev (header only): a
// complete, fuzzed parser with line/column in its syntax errors, UTF-8
// validation and ordered output, which a hand-written one would have to
// replicate and test.
#include "json.h"

#include <linux/sock_vs.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "sockvs/address.h"

namespace sockvsadm {

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// --- writing ---------------------------------------------------------------------

std::string protocol_text(std::uint16_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    default:
      return std::to_string(protocol);
  }
}

// SOCK_VS_SVC_F_* by name: the ones this sockvsadm knows by their option's
// name ("real-peername", "unconnected"), any other set bit as its value.
OrderedJson flags_json(std::uint32_t flags) {
  OrderedJson out = OrderedJson::array();
  for (unsigned bit = 0; bit < 32; ++bit) {
    const std::uint32_t mask = 1U << bit;
    if ((flags & mask) == 0) {
      continue;
    }
    if (mask == SOCK_VS_SVC_F_REAL_PEERNAME) {
      out.push_back("real-peername");
    } else if (mask == SOCK_VS_SVC_F_UNCONNECTED) {
      out.push_back("unconnected");
    } else {
      out.push_back(mask);
    }
  }
  return out;
}

OrderedJson dest_json(const sockvs::RealServer& d, const JsonView& view) {
  OrderedJson j;
  j["address"] = d.addr.to_string();
  j["port"] = d.port;
  j["weight"] = d.weight;
  j["upper"] = d.u_threshold.value_or(0);
  j["lower"] = d.l_threshold.value_or(0);
  j["shards"] = d.shards.value_or(1);
  if (view.runtime) {
    j["active_conns"] = d.active_conns;
    j["inact_conns"] = d.inact_conns;
    j["overloaded"] = d.overloaded;
    j["shard_conns"] = d.shard_conns;
    j["ejected"] = sockvs::eject_state_name(d.ejected);
    j["eject_left_ms"] = d.eject_left_ms;
    j["fails"] = d.fails;
  }
  if (view.stats) {
    j["stats"] = OrderedJson{{"conns", d.stats.conns},
                             {"killed", d.stats.killed},
                             {"ejected", d.stats.ejected},
                             {"failed", d.stats.failed}};
  }
  return j;
}

// {"uid": [MIN, MAX]}, {"cgroup": "/x"} (-L: and "cgroup_id"), {"mark": N,
// "mask": N}.
OrderedJson skip_json(const sockvs::SkipRule& rule, const JsonView& view) {
  OrderedJson j;
  if (const auto* uid = std::get_if<sockvs::SkipUid>(&rule)) {
    j["uid"] = OrderedJson::array({uid->min, uid->max});
  } else if (const auto* mark = std::get_if<sockvs::SkipMark>(&rule)) {
    j["mark"] = mark->mark;
    j["mask"] = mark->mask;
  } else {
    const auto& cgroup = std::get<sockvs::SkipCgroup>(rule);
    j["cgroup"] = cgroup.path;
    if (view.runtime) {
      j["cgroup_id"] = cgroup.id;
    }
  }
  return j;
}

OrderedJson service_json(const ServiceEntry& entry, const JsonView& view) {
  const auto& s = entry.service;
  OrderedJson j;
  j["protocol"] = protocol_text(s.protocol);
  j["address"] = s.addr.to_string();
  j["port"] = s.port;
  if (!s.sched_name.empty()) {
    j["scheduler"] = s.sched_name;
  }
  if (s.persist.value_or(0) != 0) {
    j["persistent"] = *s.persist;  // absent: not persistent
  }
  j["flags"] = flags_json(s.flags);
  j["hash_key"] = sockvs::hash_key_name(s.hash_key.value_or(sockvs::kDefaultHashKey));
  j["shard_policy"] =
      sockvs::shard_policy_name(s.shard_policy.value_or(sockvs::kDefaultShardPolicy));
  j["terminate"] = sockvs::terminate_name(s.terminate.value_or(sockvs::kDefaultTerminate));
  if (s.eject.value_or(0) != 0) {  // absent: ejection off
    j["eject"] =
        OrderedJson{{"after", *s.eject},
                    {"time", s.eject_time.value_or(sockvs::kEjectTimeDefault)},
                    {"time_max", s.eject_time_max.value_or(sockvs::kEjectTimeMaxDefault)},
                    {"max_percent", s.eject_max_percent.value_or(sockvs::kEjectPercentDefault)}};
  }
  if (s.skip && !s.skip->empty()) {
    OrderedJson skip = OrderedJson::array();
    for (const auto& rule : *s.skip) {
      skip.push_back(skip_json(rule, view));
    }
    j["skip"] = std::move(skip);
  }
  if (view.stats) {
    j["stats"] = OrderedJson{{"conns", s.stats.conns},         {"refused", s.stats.refused},
                             {"untracked", s.stats.untracked}, {"killed", s.stats.killed},
                             {"ejected", s.stats.ejected},     {"failed", s.stats.failed}};
  }
  OrderedJson dests = OrderedJson::array();
  for (const auto& d : entry.dests) {
    dests.push_back(dest_json(d, view));
  }
  j["dests"] = std::move(dests);
  return j;
}

// --- reading ---------------------------------------------------------------------

[[noreturn]] void bad(const std::string& where, const std::string& problem) {
  throw JsonError("JSON " + where + ": " + problem);
}

// Rejects keys that are neither in `known` nor in `ignored` (what only -L
// prints).
void check_keys(const Json& obj, const std::string& where,
                std::initializer_list<std::string_view> known,
                std::initializer_list<std::string_view> ignored) {
  for (const auto& item : obj.items()) {
    const std::string& key = item.key();
    const auto is = [&key](std::string_view k) { return k == key; };
    if (std::none_of(known.begin(), known.end(), is) &&
        std::none_of(ignored.begin(), ignored.end(), is)) {
      bad(where.empty() ? std::string("top level") : where, "unknown key '" + key + "'");
    }
  }
}

const Json* find(const Json& obj, const char* key) {
  const auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const Json& need(const Json& obj, const char* key, const std::string& where) {
  const Json* v = find(obj, key);
  if (v == nullptr) {
    bad(where.empty() ? std::string("top level") : where, std::string("missing \"") + key + "\"");
  }
  return *v;
}

std::uint64_t get_uint(const Json& v, const std::string& where, std::uint64_t min,
                       std::uint64_t max) {
  const std::string range = std::to_string(min) + "-" + std::to_string(max);
  if (!v.is_number_integer()) {
    bad(where, "expected an integer " + range + ", got " + std::string(v.type_name()));
  }
  std::uint64_t value = 0;
  if (v.is_number_unsigned()) {
    value = v.get<std::uint64_t>();
  } else {
    const auto signed_value = v.get<std::int64_t>();
    if (signed_value < 0) {
      bad(where, std::to_string(signed_value) + " out of range " + range);
    }
    value = static_cast<std::uint64_t>(signed_value);
  }
  if (value < min || value > max) {
    bad(where, std::to_string(value) + " out of range " + range);
  }
  return value;
}

const std::string& get_string(const Json& v, const std::string& where) {
  if (!v.is_string()) {
    bad(where, "expected a string, got " + std::string(v.type_name()));
  }
  return v.get_ref<const std::string&>();
}

const Json& get_array(const Json& v, const std::string& where) {
  if (!v.is_array()) {
    bad(where, "expected an array, got " + std::string(v.type_name()));
  }
  return v;
}

void need_object(const Json& v, const std::string& where) {
  if (!v.is_object()) {
    bad(where.empty() ? std::string("top level") : where,
        "expected an object, got " + std::string(v.type_name()));
  }
}

sockvs::Address get_address(const Json& v, const std::string& where) {
  const std::string& text = get_string(v, where);
  const auto addr = sockvs::Address::parse(text);
  if (!addr) {
    bad(where, "invalid address '" + text + "' (numeric IPv4 or IPv6, without brackets or port)");
  }
  return *addr;
}

std::uint16_t get_port(const Json& obj, const std::string& where) {
  return static_cast<std::uint16_t>(get_uint(need(obj, "port", where), where + ".port", 1, 65535));
}

sockvs::RealServer parse_dest(const Json& j, const std::string& where, const sockvs::Service& svc) {
  need_object(j, where);
  check_keys(j, where, {"address", "port", "weight", "upper", "lower", "shards"},
             {"active_conns", "inact_conns", "overloaded", "shard_conns", "ejected",
              "eject_left_ms", "fails", "stats"});
  sockvs::RealServer d;
  d.addr = get_address(need(j, "address", where), where + ".address");
  if (d.af() != svc.af()) {
    bad(where + ".address", "real server " + d.addr.to_string() + " is " +
                                std::string(sockvs::family_name(d.af())) + " but the service is " +
                                std::string(sockvs::family_name(svc.af())));
  }
  d.port = get_port(j, where);
  d.weight = SOCK_VS_WEIGHT_DEFAULT;
  if (const Json* v = find(j, "weight")) {
    d.weight = static_cast<std::uint32_t>(get_uint(*v, where + ".weight", 0, SOCK_VS_WEIGHT_MAX));
  }
  if (const Json* v = find(j, "upper")) {
    d.u_threshold =
        static_cast<std::uint32_t>(get_uint(*v, where + ".upper", 0, sockvs::kThresholdMax));
  }
  if (const Json* v = find(j, "lower")) {
    d.l_threshold =
        static_cast<std::uint32_t>(get_uint(*v, where + ".lower", 0, sockvs::kThresholdMax));
    // As for -a: a lower threshold without an upper one is compared with 0.
    if (*d.l_threshold > d.u_threshold.value_or(0)) {
      bad(where + ".lower", "lower threshold " + std::to_string(*d.l_threshold) +
                                " is above the upper threshold " +
                                std::to_string(d.u_threshold.value_or(0)));
    }
  }
  if (const Json* v = find(j, "shards")) {
    d.shards = static_cast<std::uint16_t>(get_uint(*v, where + ".shards", 1, SOCK_VS_SHARDS_MAX));
  }
  return d;
}

sockvs::SkipRule parse_skip_rule(const Json& j, const std::string& where) {
  need_object(j, where);
  check_keys(j, where, {"uid", "cgroup", "mark", "mask"}, {"cgroup_id"});
  const Json* uid = find(j, "uid");
  const Json* cgroup = find(j, "cgroup");
  const Json* mark = find(j, "mark");
  const Json* mask = find(j, "mask");
  const int kinds = static_cast<int>(uid != nullptr) + static_cast<int>(cgroup != nullptr) +
                    static_cast<int>(mark != nullptr);
  if (kinds != 1 || (mask != nullptr && mark == nullptr)) {
    bad(where, R"(an exemption is one of {"uid": [MIN, MAX]}, {"cgroup": "/PATH"}, )"
               R"({"mark": N, "mask": N})");
  }
  sockvs::SkipRule rule;
  if (uid != nullptr) {
    const Json& range = get_array(*uid, where + ".uid");
    if (range.empty() || range.size() > 2) {
      bad(where + ".uid", "expected [MIN, MAX] or [UID]");
    }
    const auto min =
        static_cast<std::uint32_t>(get_uint(range[0], where + ".uid[0]", 0, sockvs::kSkipUidMax));
    const auto max = range.size() == 1 ? min
                                       : static_cast<std::uint32_t>(get_uint(
                                             range[1], where + ".uid[1]", 0, sockvs::kSkipUidMax));
    rule = sockvs::SkipUid{min, max};
  } else if (mark != nullptr) {
    sockvs::SkipMark m;
    m.mark = static_cast<std::uint32_t>(get_uint(*mark, where + ".mark", 0, UINT32_MAX));
    if (mask != nullptr) {
      m.mask = static_cast<std::uint32_t>(get_uint(*mask, where + ".mask", 0, UINT32_MAX));
    }
    rule = m;
  } else {
    const std::string& text = get_string(*cgroup, where + ".cgroup");
    try {
      rule = sockvs::SkipCgroup{cgroup_skip_path(text), 0};
    } catch (const UsageError& e) {
      bad(where + ".cgroup", e.what());
    }
  }
  if (const std::string problem = sockvs::skip_rule_problem(rule); !problem.empty()) {
    bad(where, problem);
  }
  return rule;
}

// "eject": {"after": N, "time": S, "time_max": S, "max_percent": P}, each
// optional (absent: the module's default); TCP services only.
void parse_eject(const Json& j, const std::string& where, sockvs::Service& s) {
  need_object(j, where);
  check_keys(j, where, {"after", "time", "time_max", "max_percent"}, {});
  if (s.protocol != IPPROTO_TCP) {
    bad(where, "passive health (ejection) is for TCP services");
  }
  if (const Json* v = find(j, "after")) {
    s.eject = static_cast<std::uint32_t>(get_uint(*v, where + ".after", 0, sockvs::kEjectMax));
  }
  if (const Json* v = find(j, "time")) {
    s.eject_time =
        static_cast<std::uint32_t>(get_uint(*v, where + ".time", 1, sockvs::kEjectTimeLimit));
  }
  if (const Json* v = find(j, "time_max")) {
    s.eject_time_max =
        static_cast<std::uint32_t>(get_uint(*v, where + ".time_max", 1, sockvs::kEjectTimeLimit));
  }
  if (const Json* v = find(j, "max_percent")) {
    s.eject_max_percent = static_cast<std::uint8_t>(get_uint(*v, where + ".max_percent", 1, 100));
  }
  const std::uint32_t time = s.eject_time.value_or(sockvs::kEjectTimeDefault);
  const std::uint32_t longest = s.eject_time_max.value_or(sockvs::kEjectTimeMaxDefault);
  if (time > longest) {
    bad(where + ".time", "ejection time " + std::to_string(time) +
                             " is above the longest ejection time " + std::to_string(longest));
  }
}

ServiceEntry parse_service(const Json& j, const std::string& where) {
  need_object(j, where);
  check_keys(j, where,
             {"protocol", "address", "port", "scheduler", "persistent", "flags", "hash_key",
              "shard_policy", "terminate", "eject", "skip", "dests"},
             {"stats", "num_dests"});
  ServiceEntry entry;
  auto& s = entry.service;
  const std::string& proto = get_string(need(j, "protocol", where), where + ".protocol");
  if (proto == "tcp") {
    s.protocol = IPPROTO_TCP;
  } else if (proto == "udp") {
    s.protocol = IPPROTO_UDP;
  } else {
    bad(where + ".protocol", R"(expected "tcp" or "udp", got ')" + proto + "'");
  }
  s.addr = get_address(need(j, "address", where), where + ".address");
  s.port = get_port(j, where);
  if (const Json* v = find(j, "scheduler")) {
    s.sched_name = get_string(*v, where + ".scheduler");
    if (!sockvs::valid_sched_name(s.sched_name)) {
      bad(where + ".scheduler", "invalid scheduler name '" + s.sched_name + "': 1-" +
                                    std::to_string(SOCK_VS_SCHED_NAME_MAX - 1) +
                                    " letters, digits, '_' or '-'");
    }
  }
  if (const Json* v = find(j, "persistent")) {
    s.persist =
        static_cast<std::uint32_t>(get_uint(*v, where + ".persistent", 0, sockvs::kPersistMax));
    if (*s.persist != 0 && s.sched_name == "port") {
      bad(where + ".persistent",
          "persistence cannot be combined with the port scheduler (it would override its choice "
          "by local port)");
    }
  }
  if (const Json* v = find(j, "flags")) {
    const Json& flags = get_array(*v, where + ".flags");
    for (const Json& flag : flags) {
      const std::string name = flag.is_string() ? flag.get<std::string>() : std::string();
      std::uint32_t bit = 0;
      if (name == "real-peername") {
        bit = SOCK_VS_SVC_F_REAL_PEERNAME;
      } else if (name == "unconnected") {
        bit = SOCK_VS_SVC_F_UNCONNECTED;
      } else {
        bad(where + ".flags",
            "unknown flag " + flag.dump() + R"( (known: "real-peername", "unconnected"))");
      }
      if ((s.flags & bit) != 0) {
        bad(where + ".flags", "flag \"" + name + "\" is given twice");
      }
      if (bit == SOCK_VS_SVC_F_UNCONNECTED && s.protocol != IPPROTO_UDP) {
        bad(where + ".flags", R"(flag "unconnected" is for UDP services)");
      }
      s.flags |= bit;
    }
  }
  if (const Json* v = find(j, "hash_key")) {
    const std::string& name = get_string(*v, where + ".hash_key");
    s.hash_key = sockvs::parse_hash_key(name);
    if (!s.hash_key) {
      bad(where + ".hash_key",
          "invalid hash key '" + name + "': expected tgid, local, cgroup or netns");
    }
  }
  if (const Json* v = find(j, "shard_policy")) {
    const std::string& name = get_string(*v, where + ".shard_policy");
    s.shard_policy = sockvs::parse_shard_policy(name);
    if (!s.shard_policy) {
      bad(where + ".shard_policy",
          "invalid shard policy '" + name + "': expected rr, lc, cpu or hash");
    }
  }
  if (const Json* v = find(j, "terminate")) {
    const std::string& name = get_string(*v, where + ".terminate");
    s.terminate = sockvs::parse_terminate(name);
    if (!s.terminate) {
      bad(where + ".terminate",
          "invalid terminate policy '" + name + "': expected none, udp or all");
    }
  }
  if (const Json* v = find(j, "eject")) {
    parse_eject(*v, where + ".eject", s);
  }
  if (const Json* v = find(j, "skip")) {
    const Json& skip = get_array(*v, where + ".skip");
    if (skip.size() > SOCK_VS_SKIP_MAX) {
      bad(where + ".skip", "too many exemptions: at most " + std::to_string(SOCK_VS_SKIP_MAX) +
                               " per service, " + std::to_string(skip.size()) + " given");
    }
    s.skip.emplace();
    for (std::size_t i = 0; i < skip.size(); ++i) {
      s.skip->push_back(parse_skip_rule(skip[i], where + ".skip[" + std::to_string(i) + "]"));
    }
  }
  if (const Json* v = find(j, "dests")) {
    const Json& dests = get_array(*v, where + ".dests");
    for (std::size_t i = 0; i < dests.size(); ++i) {
      const std::string dwhere = where + ".dests[" + std::to_string(i) + "]";
      sockvs::RealServer d = parse_dest(dests[i], dwhere, s);
      for (const auto& prev : entry.dests) {
        if (prev.addr == d.addr && prev.port == d.port) {
          bad(dwhere, "real server " + sockvs::format_endpoint(d.addr, d.port) + " is given twice");
        }
      }
      entry.dests.push_back(std::move(d));
    }
  }
  return entry;
}

// Duplicate keys in one object are an error (nlohmann keeps the last one).
class DuplicateKeyCheck {
 public:
  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        keys_.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!keys_.empty()) {
          keys_.pop_back();
        }
        break;
      case Json::parse_event_t::key:
        if (!keys_.empty() && !keys_.back().insert(parsed.get<std::string>()).second) {
          throw JsonError("JSON: duplicate key '" + parsed.get<std::string>() + "'");
        }
        break;
      default:
        break;
    }
    return true;
  }

 private:
  std::vector<std::set<std::string>> keys_;
};

}  // namespace

std::string format_json(const std::vector<ServiceEntry>& entries, const JsonView& view,
                        const std::optional<sockvs::Info>& info) {
  OrderedJson root;
  root["version"] = kJsonVersion;
  if (view.runtime && info) {
    root["module"] = OrderedJson{{"version", info->version},
                                 {"hook", info->hook},
                                 {"kernel", info->kernel},
                                 {"services", info->num_services},
                                 {"max_services", info->max_services},
                                 {"max_dests", info->max_dests},
                                 {"untracked", info->untracked},
                                 {"templates", info->templates},
                                 {"max_templates", info->max_templates}};
  }
  OrderedJson services = OrderedJson::array();
  for (const auto& e : entries) {
    services.push_back(service_json(e, view));
  }
  root["services"] = std::move(services);
  // Bytes that are not UTF-8 (only possible in what the module reports)
  // become U+FFFD instead of failing the whole listing.
  return root.dump(2, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
}

std::vector<ServiceEntry> parse_json(std::string_view text) {
  Json root;
  try {
    root = Json::parse(text.begin(), text.end(), DuplicateKeyCheck{});
  } catch (const Json::exception& e) {
    // parse_error: "[json.exception.parse_error.101] parse error at line 1,
    // column 2: ..."; also out_of_range: "[json.exception.out_of_range.406]
    // number overflow parsing '1e999'" (found by tests/fuzz/fuzz_json).
    std::string msg = e.what();
    if (const auto close = msg.find("] "); close != std::string::npos) {
      msg.erase(0, close + 2);
    }
    throw JsonError("JSON " + msg);
  }
  need_object(root, "");
  check_keys(root, "", {"version", "services"}, {"module"});
  const Json& version = need(root, "version", "");
  if (!version.is_number_integer() || version.get<std::int64_t>() != kJsonVersion) {
    bad("version", "unsupported schema version " + version.dump() + " (this sockvsadm reads " +
                       std::to_string(kJsonVersion) + ")");
  }
  const Json& services = get_array(need(root, "services", ""), "services");
  std::vector<ServiceEntry> entries;
  for (std::size_t i = 0; i < services.size(); ++i) {
    const std::string where = "services[" + std::to_string(i) + "]";
    ServiceEntry entry = parse_service(services[i], where);
    for (const auto& prev : entries) {
      if (prev.service.key() == entry.service.key()) {
        bad(where, "service " + service_label(entry.service.key()) + " is given twice");
      }
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

JsonRules json_rules(const std::vector<ServiceEntry>& entries) {
  JsonRules rules;
  const auto add = [&rules](Command cmd, std::string label) {
    rules.lines.push_back(RestoreLine{static_cast<int>(rules.lines.size()) + 1, std::move(cmd)});
    rules.labels.push_back(std::move(label));
  };
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& svc = entries[i].service;
    const std::string where = "services[" + std::to_string(i) + "]";
    Command a;
    a.op = Op::kAddService;
    a.service = svc.key();
    a.scheduler = svc.sched_name.empty() ? std::string(SOCK_VS_SCHED_DEFAULT) : svc.sched_name;
    a.hash_key = svc.hash_key;
    a.shard_policy = svc.shard_policy;
    a.terminate = svc.terminate;
    a.skip = svc.skip;
    a.real_peername = (svc.flags & SOCK_VS_SVC_F_REAL_PEERNAME) != 0;
    a.unconnected = (svc.flags & SOCK_VS_SVC_F_UNCONNECTED) != 0;
    a.persist = svc.persist.value_or(0);
    a.eject = svc.eject;
    a.eject_time = svc.eject_time;
    a.eject_time_max = svc.eject_time_max;
    a.eject_max_percent = svc.eject_max_percent;
    add(std::move(a), where + " (" + service_label(svc.key()) + ")");
    for (std::size_t k = 0; k < entries[i].dests.size(); ++k) {
      const auto& d = entries[i].dests[k];
      Command r;
      r.op = Op::kAddDest;
      r.service = svc.key();
      sockvs::RealServer dest;
      dest.addr = d.addr;
      dest.port = d.port;
      dest.weight = d.weight;
      dest.u_threshold = d.u_threshold;
      dest.l_threshold = d.l_threshold;
      dest.shards = d.shards;
      r.dest = dest;
      add(std::move(r), where + ".dests[" + std::to_string(k) + "] (" +
                            sockvs::format_endpoint(d.addr, d.port) + ")");
    }
  }
  return rules;
}

std::string JsonRules::relabel(const std::string& message) const {
  // restore() says "line N: ...".
  constexpr std::string_view kPrefix = "line ";
  if (!message.starts_with(kPrefix)) {
    return message;
  }
  const char* first = message.data() + kPrefix.size();
  const char* last = message.data() + message.size();
  std::size_t n = 0;
  const auto [ptr, ec] = std::from_chars(first, last, n);
  if (ec != std::errc() || n < 1 || n > labels.size() || ptr == last || *ptr != ':') {
    return message;
  }
  return "JSON " + labels[n - 1] + message.substr(static_cast<std::size_t>(ptr - message.data()));
}

}  // namespace sockvsadm
