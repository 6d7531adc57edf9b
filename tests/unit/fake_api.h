// An in-memory sock_vs for unit tests: the module's semantics (errnos,
// ordering) without netlink.
#ifndef SOCKVS_TESTS_UNIT_FAKE_API_H_
#define SOCKVS_TESTS_UNIT_FAKE_API_H_

#include <linux/sock_vs.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "sockvs/client.h"
#include "sockvs/error.h"
#include "sockvs/txn.h"

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
  // false: a module that predates transactions (commit() EOPNOTSUPP,
  // no generation).  Otherwise every change moves `gen` on, as the module's.
  bool knows_txn = true;
  std::uint64_t gen = 0;
  std::vector<Transaction> commits;  // every commit() that got past its checks
  // Called by commit() before it checks the generation (a concurrent change).
  std::function<void()> before_commit;

  void add_service(const Service& svc) override {
    enter("add_service");
    check_knows_persist(SOCK_VS_CMD_NEW_SERVICE, svc);
    if (find(svc.key()) != nullptr) {
      throw kernel_error(SOCK_VS_CMD_NEW_SERVICE, EEXIST, "service already exists");
    }
    table.push_back(Entry{stored_service(SOCK_VS_CMD_NEW_SERVICE, svc), {}});
    ++gen;
  }

  // What the module stores of a NEW_SERVICE request (checked as it checks it).
  Service stored_service(std::uint8_t cmd, const Service& svc) const {
    check_sched(cmd, svc.sched_name);
    Service stored = Service::from_key(svc.key(), svc.sched_name.empty() ? "wrr" : svc.sched_name);
    // Like the module, report every setting (defaults included).
    stored.hash_key = svc.hash_key.value_or(kDefaultHashKey);
    stored.shard_policy = svc.shard_policy.value_or(kDefaultShardPolicy);
    stored.terminate = svc.terminate.value_or(kDefaultTerminate);
    stored.flags = svc.flags;
    if (knows_persist) {
      stored.persist = svc.persist.value_or(0);
    }
    check_persist(cmd, stored);
    stored.eject = svc.eject.value_or(0);
    stored.eject_time = svc.eject_time.value_or(kEjectTimeDefault);
    stored.eject_time_max = svc.eject_time_max.value_or(kEjectTimeMaxDefault);
    stored.eject_max_percent = svc.eject_max_percent.value_or(kEjectPercentDefault);
    check_eject(cmd, stored);
    if (svc.skip) {
      stored.skip = checked_skip(cmd, *svc.skip, svc.sched_name);
    }
    return stored;
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
    ++gen;
  }

  std::uint32_t del_service(const ServiceKey& key) override {
    enter("del_service");
    must_find(SOCK_VS_CMD_DEL_SERVICE, key);
    std::erase_if(table, [&](const Entry& e) { return e.svc.key() == key; });
    ++gen;
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
    ++gen;
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
    ++gen;
  }

  std::uint32_t del_dest(const ServiceKey& key, const RealServer& dest) override {
    enter("del_dest");
    Entry& e = must_find(SOCK_VS_CMD_DEL_DEST, key);
    check_family(e, dest);
    e.dests.erase(must_find_dest(SOCK_VS_CMD_DEL_DEST, e, dest));
    ++gen;
    return killed_reply;
  }

  std::vector<RealServer> list_dests(const ServiceKey& key) override {
    enter("list_dests");
    return must_find(SOCK_VS_CMD_GET_DEST, key).dests;
  }

  std::uint32_t flush() override {
    enter("flush");
    gen += table.size();
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

  std::optional<std::uint64_t> generation() override {
    if (!knows_txn) {
      return std::nullopt;
    }
    enter("generation");
    return gen;
  }

  // As the module: every staged service checked as NEW_SERVICE / NEW_DEST
  // check theirs (a refusal is a TxnError naming it), then all of it or
  // nothing; what stays keeps its counters.
  TxnResult commit(const Transaction& txn) override {
    if (!knows_txn) {
      throw Error(EOPNOTSUPP, "the sock_vs module does not support transactions");
    }
    enter("commit");
    std::vector<Entry> staged;
    for (std::size_t i = 0; i < txn.services.size(); ++i) {
      const TxnService& ts = txn.services[i];
      const std::string where = txn_service_label(ts.service.key());
      for (std::size_t j = 0; j < i; ++j) {
        if (txn.services[j].service.key() == ts.service.key()) {
          throw TxnError(EINVAL, i, std::nullopt, 0, where, "service staged twice in the transaction",
                         "service staged twice in the transaction");
        }
      }
      if (ts.remove) {
        staged.push_back(Entry{ts.service, {}});
        continue;
      }
      Entry e;
      try {
        e.svc = stored_service(SOCK_VS_CMD_NEW_SERVICE, ts.service);
      } catch (const Error& err) {
        // The attribute the module points at: the scheduler's name.
        const std::uint16_t attr = err.code() == ENOENT ? SOCK_VS_SVC_ATTR_SCHED_NAME : 0;
        throw TxnError(err.code(), i, std::nullopt, attr, where, err.what(), err.ext_ack());
      }
      for (std::size_t j = 0; j < ts.dests.size(); ++j) {
        try {
          check_family(Entry{e.svc, {}}, ts.dests[j]);
          RealServer d;
          d.addr = ts.dests[j].addr;
          d.port = ts.dests[j].port;
          d.weight = ts.dests[j].weight;
          d.u_threshold = 0;
          d.l_threshold = 0;
          d.shards = 1;
          apply_dest_conf(SOCK_VS_CMD_NEW_DEST, d, ts.dests[j]);
          e.dests.push_back(d);
        } catch (const Error& err) {
          const std::uint16_t attr =
              std::string(err.what()).find("threshold") != std::string::npos
                  ? SOCK_VS_DEST_ATTR_L_THRESH
                  : 0;
          throw TxnError(err.code(), i, j, attr,
                         where + ", real server " +
                             format_endpoint(ts.dests[j].addr, ts.dests[j].port),
                         err.what(), err.ext_ack());
        }
      }
      staged.push_back(std::move(e));
    }
    if (before_commit) {
      before_commit();
    }
    if (txn.generation && *txn.generation != gen) {
      throw kernel_error(SOCK_VS_CMD_TXN_COMMIT, EAGAIN,
                         "the table changed since the transaction's generation");
    }
    std::vector<Entry> next;
    TxnResult res;
    for (const auto& e : table) {
      const auto it = std::find_if(staged.begin(), staged.end(),
                                   [&](const Entry& s) { return s.svc.key() == e.svc.key(); });
      if (it == staged.end() && !txn.replace) {
        next.push_back(e);
      } else if (it == staged.end() || txn.services[it - staged.begin()].remove) {
        ++res.deleted;
      } else {
        Entry kept = *it;
        kept.svc.stats = e.svc.stats;  // the same service
        for (auto& d : kept.dests) {
          for (const auto& old : e.dests) {
            if (old.addr == d.addr && old.port == d.port && old.shards == d.shards) {
              d.stats = old.stats;
              d.active_conns = old.active_conns;
              d.inact_conns = old.inact_conns;
            }
          }
        }
        Entry before = e;
        if (before.svc.skip && before.svc.skip->empty()) {
          before.svc.skip.reset();
        }
        (kept.svc == before.svc && kept.dests == before.dests ? res.unchanged : res.changed)++;
        next.push_back(std::move(kept));
      }
    }
    for (std::size_t i = 0; i < staged.size(); ++i) {
      if (txn.services[i].remove) {
        continue;
      }
      const bool existed = std::any_of(table.begin(), table.end(), [&](const Entry& e) {
        return e.svc.key() == staged[i].svc.key();
      });
      if (!existed) {
        next.push_back(staged[i]);
        ++res.added;
      }
    }
    if (next.size() > info_reply.max_services) {
      throw kernel_error(SOCK_VS_CMD_TXN_COMMIT, ENOSPC, "too many services (max_services)");
    }
    table = std::move(next);
    if (res.added + res.changed + res.deleted != 0) {
      ++gen;
    }
    res.generation = gen;
    res.killed = killed_reply;
    commits.push_back(txn);
    return res;
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
  TxnResult commit(const Transaction& t) override { return f_.commit(t); }
  std::optional<std::uint64_t> generation() override { return f_.generation(); }

 private:
  FakeApi& f_;
};

}  // namespace sockvs::testing

#endif  // SOCKVS_TESTS_UNIT_FAKE_API_H_
