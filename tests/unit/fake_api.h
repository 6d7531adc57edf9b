// An in-memory sock_vs for unit tests: the module's semantics (errnos,
// ordering) without netlink.
#ifndef SOCKVS_TESTS_UNIT_FAKE_API_H_
#define SOCKVS_TESTS_UNIT_FAKE_API_H_

#include <linux/sock_vs.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "sockvs/client.h"
#include "sockvs/error.h"

namespace sockvs::testing {

class FakeApi : public Api {
 public:
  struct Entry {
    Service svc;
    std::vector<RealServer> dests;
  };
  // One kill() call, as given.
  struct Kill {
    ServiceKey key;
    std::optional<RealServer> dest;
    std::optional<Terminate> policy;

    friend bool operator==(const Kill&, const Kill&) = default;
  };

  // Every call, by name, in order.
  std::vector<std::string> calls;
  // Fail the call with this 1-based index (counting every call) with errno.
  std::optional<std::pair<std::size_t, int>> fail_call;
  Info info_reply{"0.1.0", 0, "kprobe", "6.1.0-test", 256, 64};
  std::vector<Entry> table;
  std::vector<Connection> conns;    // what list_conns() returns
  std::vector<Template> templates;  // what list_templates() returns
  // list_templates() fails with this errno (EOPNOTSUPP: an older module).
  std::optional<int> templates_error;
  // false: a module that predates persistence: NEW/SET_SERVICE with
  // SVC_ATTR_PERSIST fail as the kernel's strict parsing fails them, and
  // services report no persistence.
  bool knows_persist = true;
  // What del_dest, del_service, flush and kill report as terminated; kill
  // also adds it to the Killed counters of the service and of the server.
  std::uint32_t killed_reply = 0;
  std::vector<Kill> kills;  // every kill() that got past its checks

  void add_service(const Service& svc) override {
    enter("add_service");
    check_knows_persist(SOCK_VS_CMD_NEW_SERVICE, svc);
    if (find(svc.key()) != nullptr) {
      throw kernel_error(SOCK_VS_CMD_NEW_SERVICE, EEXIST, "service already exists");
    }
    check_sched(SOCK_VS_CMD_NEW_SERVICE, svc.sched_name);
    Service stored = Service::from_key(svc.key(), svc.sched_name.empty() ? "wrr" : svc.sched_name);
    // Like the module, report every setting (defaults included).
    stored.hash_key = svc.hash_key.value_or(kDefaultHashKey);
    stored.shard_policy = svc.shard_policy.value_or(kDefaultShardPolicy);
    stored.terminate = svc.terminate.value_or(kDefaultTerminate);
    stored.flags = svc.flags;
    if (knows_persist) {
      stored.persist = svc.persist.value_or(0);
    }
    check_persist(SOCK_VS_CMD_NEW_SERVICE, stored);
    stored.eject = svc.eject.value_or(0);
    stored.eject_time = svc.eject_time.value_or(kEjectTimeDefault);
    stored.eject_time_max = svc.eject_time_max.value_or(kEjectTimeMaxDefault);
    stored.eject_max_percent = svc.eject_max_percent.value_or(kEjectPercentDefault);
    check_eject(SOCK_VS_CMD_NEW_SERVICE, stored);
    if (svc.skip) {
      stored.skip = checked_skip(SOCK_VS_CMD_NEW_SERVICE, *svc.skip, svc.sched_name);
    }
    table.push_back(Entry{stored, {}});
  }

  void edit_service(const Service& svc) override {
    enter("edit_service");
    check_knows_persist(SOCK_VS_CMD_SET_SERVICE, svc);
    Entry& e = must_find(SOCK_VS_CMD_SET_SERVICE, svc.key());
    check_sched(SOCK_VS_CMD_SET_SERVICE, svc.sched_name);
    Service next = e.svc;
    if (!svc.sched_name.empty()) {
      next.sched_name = svc.sched_name;
    }
    if (svc.persist) {
      next.persist = svc.persist;
    }
    check_persist(SOCK_VS_CMD_SET_SERVICE, next);
    for (auto [from, to] :
         {std::pair{&svc.eject, &next.eject}, std::pair{&svc.eject_time, &next.eject_time},
          std::pair{&svc.eject_time_max, &next.eject_time_max}}) {
      if (*from) {
        *to = *from;
      }
    }
    if (svc.eject_max_percent) {
      next.eject_max_percent = svc.eject_max_percent;
    }
    check_eject(SOCK_VS_CMD_SET_SERVICE, next);
    std::optional<std::vector<SkipRule>> skip = e.svc.skip;
    if (svc.skip) {
      skip = checked_skip(SOCK_VS_CMD_SET_SERVICE, *svc.skip, svc.sched_name);
    }
    e.svc.skip = std::move(skip);
    if (!svc.sched_name.empty()) {
      e.svc.sched_name = svc.sched_name;
    }
    if (svc.hash_key) {
      e.svc.hash_key = svc.hash_key;
    }
    if (svc.shard_policy) {
      e.svc.shard_policy = svc.shard_policy;
    }
    if (svc.terminate) {
      e.svc.terminate = svc.terminate;
    }
    e.svc.flags = svc.flags;  // always sent: -E sets the flags anew
    if (svc.persist) {
      e.svc.persist = svc.persist;
    }
    e.svc.eject = next.eject;
    e.svc.eject_time = next.eject_time;
    e.svc.eject_time_max = next.eject_time_max;
    e.svc.eject_max_percent = next.eject_max_percent;
  }

  std::uint32_t del_service(const ServiceKey& key) override {
    enter("del_service");
    must_find(SOCK_VS_CMD_DEL_SERVICE, key);
    std::erase_if(table, [&](const Entry& e) { return e.svc.key() == key; });
    return killed_reply;
  }

  Service get_service(const ServiceKey& key) override {
    enter("get_service");
    Entry& e = must_find(SOCK_VS_CMD_GET_SERVICE, key);
    Service out = e.svc;
    out.num_dests = static_cast<std::uint32_t>(e.dests.size());
    return out;
  }

  std::vector<Service> list_services() override {
    enter("list_services");
    std::vector<Service> out;
    for (const auto& e : table) {
      Service s = e.svc;
      s.num_dests = static_cast<std::uint32_t>(e.dests.size());
      out.push_back(s);
    }
    return out;
  }

  void add_dest(const ServiceKey& key, const RealServer& dest) override {
    enter("add_dest");
    Entry& e = must_find(SOCK_VS_CMD_NEW_DEST, key);
    check_family(e, dest);
    if (find_dest(e, dest) != e.dests.end()) {
      throw kernel_error(SOCK_VS_CMD_NEW_DEST, EEXIST, "real server already exists");
    }
    RealServer d;
    d.addr = dest.addr;
    d.port = dest.port;
    d.weight = dest.weight;
    d.u_threshold = 0;
    d.l_threshold = 0;
    d.shards = 1;
    apply_dest_conf(SOCK_VS_CMD_NEW_DEST, d, dest);
    e.dests.push_back(d);
  }

  void edit_dest(const ServiceKey& key, const RealServer& dest) override {
    enter("edit_dest");
    Entry& e = must_find(SOCK_VS_CMD_SET_DEST, key);
    check_family(e, dest);
    auto it = must_find_dest(SOCK_VS_CMD_SET_DEST, e, dest);
    RealServer d = *it;  // what is not given stays as it is
    d.weight = dest.weight;
    apply_dest_conf(SOCK_VS_CMD_SET_DEST, d, dest);
    *it = d;
  }

  std::uint32_t del_dest(const ServiceKey& key, const RealServer& dest) override {
    enter("del_dest");
    Entry& e = must_find(SOCK_VS_CMD_DEL_DEST, key);
    check_family(e, dest);
    e.dests.erase(must_find_dest(SOCK_VS_CMD_DEL_DEST, e, dest));
    return killed_reply;
  }

  std::vector<RealServer> list_dests(const ServiceKey& key) override {
    enter("list_dests");
    return must_find(SOCK_VS_CMD_GET_DEST, key).dests;
  }

  std::uint32_t flush() override {
    enter("flush");
    table.clear();
    return killed_reply;
  }

  std::uint32_t kill(const ServiceKey& key, const std::optional<RealServer>& dest,
                     std::optional<Terminate> policy) override {
    enter("kill");
    Entry& e = must_find(SOCK_VS_CMD_KILL, key);
    if (policy == Terminate::kNone) {
      throw kernel_error(SOCK_VS_CMD_KILL, EINVAL, "policy none terminates nothing");
    }
    RealServer* d = nullptr;
    if (dest) {
      check_family(e, *dest);
      d = &*must_find_dest(SOCK_VS_CMD_KILL, e, *dest);
    }
    kills.push_back(Kill{key, dest, policy});
    e.svc.stats.killed += killed_reply;
    if (d != nullptr) {
      d->stats.killed += killed_reply;
    }
    return killed_reply;
  }

  void zero(const std::optional<ServiceKey>& key) override {
    enter("zero");
    if (key) {
      must_find(SOCK_VS_CMD_ZERO, *key);
    }
    for (auto& e : table) {
      if (!key || e.svc.key() == *key) {
        e.svc.stats = {};
        for (auto& d : e.dests) {
          d.stats = {};
        }
      }
    }
  }

  Info info() override {
    enter("info");
    Info out = info_reply;
    out.num_services = static_cast<std::uint32_t>(table.size());
    return out;
  }

  std::vector<Connection> list_conns() override {
    enter("list_conns");
    return conns;
  }

  std::vector<Template> list_templates() override {
    enter("list_templates");
    if (templates_error) {
      throw Error(*templates_error, "the module refused GET_TEMPLATE");
    }
    return templates;
  }

 private:
  void enter(const char* name) {
    calls.emplace_back(name);
    if (fail_call && fail_call->first == calls.size()) {
      throw Error(fail_call->second, std::string("injected failure in ") + name);
    }
  }

  Entry* find(const ServiceKey& key) {
    for (auto& e : table) {
      if (e.svc.key() == key) {
        return &e;
      }
    }
    return nullptr;
  }

  Entry& must_find(std::uint8_t cmd, const ServiceKey& key) {
    Entry* e = find(key);
    if (e == nullptr) {
      throw kernel_error(cmd, ESRCH, "no such service");
    }
    return *e;
  }

  static std::vector<RealServer>::iterator find_dest(Entry& e, const RealServer& dest) {
    return std::find_if(e.dests.begin(), e.dests.end(), [&](const RealServer& d) {
      return d.addr == dest.addr && d.port == dest.port;
    });
  }

  static std::vector<RealServer>::iterator must_find_dest(std::uint8_t cmd, Entry& e,
                                                          const RealServer& dest) {
    auto it = find_dest(e, dest);
    if (it == e.dests.end()) {
      throw kernel_error(cmd, ENOENT, "no such real server");
    }
    return it;
  }

  void check_knows_persist(std::uint8_t cmd, const Service& svc) const {
    if (!knows_persist && svc.persist) {
      throw kernel_error(cmd, EINVAL, "Unknown attribute type");
    }
  }

  // As the module: at most SOCK_VS_PERSIST_MAX, and not with port.
  // The module's checks of the passive-health settings (as stored).
  static void check_eject(std::uint8_t cmd, const Service& svc) {
    if (svc.eject_time.value_or(kEjectTimeDefault) >
        svc.eject_time_max.value_or(kEjectTimeMaxDefault)) {
      throw kernel_error(cmd, EINVAL, "ejection time above the longest ejection time");
    }
    if (svc.eject.value_or(0) != 0 && svc.protocol != IPPROTO_TCP) {
      throw kernel_error(cmd, EINVAL, "ejection (passive health) is for TCP services");
    }
  }

  static void check_persist(std::uint8_t cmd, const Service& svc) {
    if (svc.persist.value_or(0) > SOCK_VS_PERSIST_MAX) {
      throw kernel_error(cmd, ERANGE, "persistence timeout out of range");
    }
    if (svc.persist.value_or(0) != 0 && svc.sched_name == "port") {
      throw kernel_error(cmd, EINVAL,
                         "persistence cannot be combined with the port scheduler (it would "
                         "override its choice by local port)");
    }
  }

  static void check_sched(std::uint8_t cmd, const std::string& name) {
    static const std::vector<std::string> known = {"rr", "wrr",  "lc",    "wlc", "sh",
                                                   "mh", "port", "fixed", "fo",  "p2c"};
    if (!name.empty() && std::find(known.begin(), known.end(), name) == known.end()) {
      throw kernel_error(cmd, ENOENT, "unknown scheduler", name);
    }
  }

  // A SKIP nest as the module stores it: nullopt for none (the dump then
  // has no nest), a cgroup rule with an id; refused like the module (a
  // path under /missing is a cgroup that does not exist).  Errors go
  // through kernel_error with the scheduler's name, as Client does.
  static std::optional<std::vector<SkipRule>> checked_skip(std::uint8_t cmd,
                                                           std::vector<SkipRule> rules,
                                                           const std::string& sched) {
    if (rules.size() > SOCK_VS_SKIP_MAX) {
      throw kernel_error(cmd, E2BIG, "too many exemptions (at most 8)", sched);
    }
    for (auto& rule : rules) {
      if (!skip_rule_problem(rule).empty()) {
        throw kernel_error(cmd, EINVAL, skip_rule_problem(rule), sched);
      }
      if (auto* cgroup = std::get_if<SkipCgroup>(&rule)) {
        if (cgroup->path.starts_with("/missing")) {
          throw kernel_error(cmd, ENOENT, "no such cgroup (v2)", sched);
        }
        cgroup->id = 1000 + cgroup->path.size();
      }
    }
    if (rules.empty()) {
      return std::nullopt;
    }
    return rules;
  }

  // The optional settings of `given` over `d`, checked like the module.
  static void apply_dest_conf(std::uint8_t cmd, RealServer& d, const RealServer& given) {
    RealServer next = d;
    if (given.u_threshold) {
      next.u_threshold = given.u_threshold;
    }
    if (given.l_threshold) {
      next.l_threshold = given.l_threshold;
    }
    if (given.shards) {
      next.shards = given.shards;
    }
    if (next.l_threshold.value_or(0) > next.u_threshold.value_or(0)) {
      throw kernel_error(cmd, EINVAL, "lower threshold above upper threshold");
    }
    next.shard_conns.resize(next.shards.value_or(1), 0);
    d = next;
  }

  static void check_family(const Entry& e, const RealServer& dest) {
    if (dest.af() != e.svc.af()) {
      throw kernel_error(SOCK_VS_CMD_NEW_DEST, EAFNOSUPPORT,
                         "real server address family differs from the service's");
    }
  }
};

// An Api that forwards to a FakeApi which outlives it: what an App's
// connect function hands out, one per run, over the same in-memory module.
class FakeProxy : public Api {
 public:
  explicit FakeProxy(FakeApi& f) : f_(f) {}
  void add_service(const Service& s) override { f_.add_service(s); }
  void edit_service(const Service& s) override { f_.edit_service(s); }
  std::uint32_t del_service(const ServiceKey& k) override { return f_.del_service(k); }
  Service get_service(const ServiceKey& k) override { return f_.get_service(k); }
  std::vector<Service> list_services() override { return f_.list_services(); }
  void add_dest(const ServiceKey& k, const RealServer& d) override { f_.add_dest(k, d); }
  void edit_dest(const ServiceKey& k, const RealServer& d) override { f_.edit_dest(k, d); }
  std::uint32_t del_dest(const ServiceKey& k, const RealServer& d) override {
    return f_.del_dest(k, d);
  }
  std::vector<RealServer> list_dests(const ServiceKey& k) override { return f_.list_dests(k); }
  std::uint32_t flush() override { return f_.flush(); }
  std::uint32_t kill(const ServiceKey& k, const std::optional<RealServer>& d,
                     std::optional<Terminate> p) override {
    return f_.kill(k, d, p);
  }
  void zero(const std::optional<ServiceKey>& k) override { f_.zero(k); }
  Info info() override { return f_.info(); }
  std::vector<Connection> list_conns() override { return f_.list_conns(); }
  std::vector<Template> list_templates() override { return f_.list_templates(); }

 private:
  FakeApi& f_;
};

}  // namespace sockvs::testing

#endif  // SOCKVS_TESTS_UNIT_FAKE_API_H_
