#include "engine.h"

#include <netinet/in.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "sockvs/error.h"

namespace healthd {

namespace {

std::string weight_cmd(const DestId& id, std::uint32_t weight) {
  return std::string("sockvsadm -e ") + (id.svc.protocol == IPPROTO_UDP ? "-u " : "-t ") +
         sockvs::format_endpoint(id.svc.addr, id.svc.port) + " -r " +
         sockvs::format_endpoint(id.addr, id.port) + " -w " + std::to_string(weight);
}

std::string plural(unsigned n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

Engine::Engine(Config config, ApiFactory connect, Logger& log, EngineOptions options)
    : cfg_(std::move(config)),
      connect_(std::move(connect)),
      log_(log),
      opts_(options),
      missing_(cfg_.services.size(), false) {}

unsigned Engine::rise(std::size_t service) const {
  return opts_.once ? 1 : cfg_.services[service].rise;
}

unsigned Engine::fall(std::size_t service) const {
  return opts_.once ? 1 : cfg_.services[service].fall;
}

void Engine::load() {
  std::vector<std::string> warnings;
  try {
    state_ = load_state(cfg_.state_file, warnings);
  } catch (const std::exception& e) {
    log_.log(Level::kError, std::string(e.what()) + "; starting without remembered weights");
  }
  for (const auto& w : warnings) {
    log_.log(Level::kWarning, w);
  }
  // Entries for services this configuration does not check would never be
  // restored: say so once, with the command that restores them.
  for (auto it = state_.begin(); it != state_.end();) {
    const auto& r = it->second;
    const bool checked = std::any_of(cfg_.services.begin(), cfg_.services.end(),
                                     [&](const ServiceConfig& s) { return s.key == r.id.svc; });
    if (checked) {
      ++it;
      continue;
    }
    log_.log(Level::kWarning, r.id.name() + ": quiesced by an earlier run, but its service is " +
                                  "not in the configuration: forgetting weight " +
                                  std::to_string(r.weight) + " (restore it with `" +
                                  weight_cmd(r.id, r.weight) + "`)");
    it = state_.erase(it);
  }
  if (!state_.empty()) {
    log_.log(Level::kInfo, "state file " + cfg_.state_file + ": " +
                               plural(static_cast<unsigned>(state_.size()), "real server") +
                               " quiesced by an earlier run");
  }
  save();
}

sockvs::Api* Engine::api() {
  if (api_) {
    return api_.get();
  }
  try {
    api_ = connect_();
    if (api_failed_) {
      log_.log(Level::kInfo, "connected to the sock_vs module");
    }
    api_failed_ = false;
  } catch (const std::exception& e) {
    if (!api_failed_) {
      log_.log(Level::kError, std::string("cannot talk to the sock_vs module: ") + e.what() +
                                  " (trying again every interval)");
    }
    api_failed_ = true;
  }
  return api_.get();
}

void Engine::drop_api(const std::string& why) {
  log_.log(Level::kError, why);
  api_.reset();  // reconnect next time: the module may have been reloaded
}

void Engine::save() {
  if (opts_.dry_run) {
    return;
  }
  try {
    save_state(cfg_.state_file, state_);
  } catch (const std::exception& e) {
    log_.log(Level::kError, std::string("cannot save the state: ") + e.what());
  }
}

void Engine::forget(const std::string& name, const std::string& why) {
  auto it = state_.find(name);
  if (it == state_.end()) {
    return;
  }
  log_.log(Level::kWarning, name + ": " + why + ": forgetting remembered weight " +
                                std::to_string(it->second.weight));
  state_.erase(it);
  save();
}

std::optional<bool> Engine::is_up(const DestId& id) const {
  auto it = targets_.find(id.name());
  if (it == targets_.end()) {
    return std::nullopt;
  }
  return it->second.health.up();
}

std::vector<Job> Engine::plan(std::size_t service) {
  const ServiceConfig& sc = cfg_.services.at(service);
  const std::string sname = service_name(sc.key);
  sockvs::Api* a = api();
  if (a == nullptr) {
    ++lookup_failures_;
    return {};
  }
  std::vector<sockvs::Service> services;
  std::vector<sockvs::RealServer> dests;
  try {
    services = a->list_services();
    const bool found = std::any_of(services.begin(), services.end(),
                                   [&](const sockvs::Service& s) { return s.key() == sc.key; });
    if (!found) {
      ++lookup_failures_;
      if (!missing_[service]) {
        log_.log(Level::kWarning,
                 sname + ": no such virtual service in sock_vs (looking again every interval)");
        missing_[service] = true;
      }
      std::erase_if(targets_, [&](const auto& kv) {
        return kv.second.in_flight ? false : kv.first.starts_with(sname + " -> ");
      });
      return {};
    }
    dests = a->list_dests(sc.key);
  } catch (const sockvs::Error& e) {
    ++lookup_failures_;
    drop_api(sname + ": cannot list real servers: " + e.what());
    return {};
  }
  if (missing_[service]) {
    log_.log(Level::kInfo, sname + ": virtual service found");
    missing_[service] = false;
  }

  // Configured real servers the kernel does not have (said once each).
  for (const auto& r : sc.reals) {
    const DestId id{sc.key, r.addr, r.port};
    const bool present = std::any_of(dests.begin(), dests.end(), [&](const auto& d) {
      return d.addr == r.addr && d.port == r.port;
    });
    if (!present && warned_.insert(id.name()).second) {
      log_.log(Level::kWarning, id.name() + ": configured, but not a real server of the service");
    } else if (present) {
      warned_.erase(id.name());
    }
  }

  std::set<std::string> seen;
  std::vector<Job> jobs;
  for (const auto& d : dests) {
    if (!sc.reals.empty() &&
        std::find(sc.reals.begin(), sc.reals.end(), RealSpec{d.addr, d.port}) == sc.reals.end()) {
      continue;
    }
    const DestId id{sc.key, d.addr, d.port};
    const std::string name = id.name();
    seen.insert(name);
    auto [it, fresh] =
        targets_.try_emplace(name, Target{Health(rise(service), fall(service), true)});
    Target& t = it->second;
    auto rem = state_.find(name);
    if (rem != state_.end()) {
      if (d.weight != 0) {
        forget(name, "weight is " + std::to_string(d.weight) +
                         ", not the 0 sockvs-healthd set: the administrator changed it");
        t.health.reset(true);
      } else if (fresh) {
        t.health.reset(false);
        log_.log(Level::kInfo, name + ": quiesced by an earlier run; weight " +
                                   std::to_string(rem->second.weight) + " comes back after " +
                                   plural(rise(service), "successful check"));
      }
    } else if (fresh) {
      log_.log(Level::kInfo, name + ": checking (" + describe(sc.check) + ", weight " +
                                 std::to_string(d.weight) + ")");
    } else if (!t.health.up() && t.weight == 0 && d.weight != 0) {
      // Down at weight 0 that sockvs-healthd did not set (nothing to
      // remember), and now given a weight: it takes traffic while failing.
      // Count its failures from the start, so that `fall` more quiesce it.
      log_.log(Level::kWarning, name + ": weight is " + std::to_string(d.weight) +
                                    " now (was 0) while its checks fail: checking it as up " +
                                    "again (quiesced after " +
                                    plural(fall(service), "failed check") + ")");
      t.health.reset(true);
    }
    t.weight = d.weight;
    if (t.in_flight) {
      continue;  // the previous check of this server has not finished yet
    }
    const std::uint16_t port = sc.check.port.value_or(d.port);
    // The module balances connects to virtual addresses only: a check that
    // connected to one would measure some other real server.
    const bool virtual_addr = std::any_of(services.begin(), services.end(), [&](const auto& s) {
      return s.protocol == IPPROTO_TCP && s.addr == d.addr && s.port == port;
    });
    if (virtual_addr) {
      if (!t.rewrite_warned) {
        log_.log(Level::kError, name + ": not checked: " + sockvs::format_endpoint(d.addr, port) +
                                    " is itself a virtual service of sock_vs, so a connect to it " +
                                    "would be balanced");
        t.rewrite_warned = true;
      }
      continue;
    }
    t.rewrite_warned = false;
    t.in_flight = true;
    jobs.push_back(Job{service, id, d.addr, port});
  }

  // Real servers gone from the service.
  const std::string prefix = sname + " -> ";
  for (auto it = targets_.begin(); it != targets_.end();) {
    if (it->first.starts_with(prefix) && !seen.contains(it->first)) {
      log_.log(Level::kInfo, it->first + ": no longer checked (not a real server of the service" +
                                 std::string(sc.reals.empty() ? "" : " or not configured") + ")");
      it = targets_.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<std::string> stale;
  for (const auto& [name, r] : state_) {
    if (r.id.svc == sc.key && !seen.contains(name)) {
      stale.push_back(name);
    }
  }
  for (const auto& name : stale) {
    forget(name, "no longer a checked real server of the service");
  }
  return jobs;
}

void Engine::cancel(const Job& job) {
  auto it = targets_.find(job.id.name());
  if (it != targets_.end()) {
    it->second.in_flight = false;
  }
}

void Engine::apply(const Job& job, const CheckResult& result) {
  const std::string name = job.id.name();
  auto it = targets_.find(name);
  if (it == targets_.end()) {
    return;  // removed from the service meanwhile
  }
  Target& t = it->second;
  t.in_flight = false;
  const bool was_up = t.health.up();
  if (opts_.once) {
    log_.log(result.ok ? Level::kInfo : Level::kWarning,
             name + ": check " + (result.ok ? "passed (" : "FAILED (") + result.detail + ")");
  }
  switch (t.health.record(result.ok)) {
    case Transition::kDown:
      on_down(job, t, result, false);
      return;
    case Transition::kUp:
      everywhere_.erase(service_name(job.id.svc));
      on_up(job, t, result);
      return;
    case Transition::kNone:
      break;
  }
  if (t.held && !t.health.up() && !result.ok) {
    on_down(job, t, result, true);  // min-up kept it: maybe it can go now
  }
  if (opts_.once) {
    return;
  }
  if (was_up && !result.ok) {
    log_.log(Level::kWarning, name + ": check failed (" + std::to_string(t.health.streak()) + "/" +
                                  std::to_string(t.health.fall()) + "): " + result.detail);
  } else if (!was_up && result.ok) {
    log_.log(Level::kInfo, name + ": check passed (" + std::to_string(t.health.streak()) + "/" +
                               std::to_string(t.health.rise()) + "): " + result.detail);
  }
}

std::optional<sockvs::RealServer> Engine::current(const DestId& id,
                                                  std::vector<sockvs::RealServer>* all) {
  sockvs::Api* a = api();
  if (a == nullptr) {
    return std::nullopt;
  }
  try {
    auto dests = a->list_dests(id.svc);
    if (all != nullptr) {
      *all = dests;
    }
    for (const auto& d : dests) {
      if (d.addr == id.addr && d.port == id.port) {
        return d;
      }
    }
    log_.log(Level::kWarning, id.name() + ": no longer a real server of the service");
  } catch (const sockvs::Error& e) {
    drop_api(id.name() + ": cannot read the real server: " + e.what());
  }
  return std::nullopt;
}

bool Engine::set_weight(const DestId& id, std::uint32_t weight) {
  sockvs::Api* a = api();
  if (a == nullptr) {
    return false;
  }
  sockvs::RealServer d;
  d.addr = id.addr;
  d.port = id.port;
  d.weight = weight;
  try {
    a->edit_dest(id.svc, d);
    return true;
  } catch (const sockvs::Error& e) {
    drop_api(id.name() + ": cannot set weight " + std::to_string(weight) + ": " + e.what());
    return false;
  }
}

// After a quiesce: the server's open balanced sockets, by the service's
// own terminate policy (a failure is logged; the quiesce stands).
void Engine::terminate(const DestId& id) {
  sockvs::Api* a = api();
  if (a == nullptr) {
    return;
  }
  sockvs::RealServer d;
  d.addr = id.addr;
  d.port = id.port;
  try {
    const std::uint32_t killed = a->kill(id.svc, d, std::nullopt);
    log_.log(Level::kInfo, id.name() + ": terminated " + plural(killed, "open socket") +
                               " (the service's terminate policy)");
  } catch (const sockvs::Error& e) {
    drop_api(id.name() + ": cannot terminate its sockets: " + e.what());
  }
}

void Engine::on_down(const Job& job, Target& t, const CheckResult& result, bool retry) {
  const std::string name = job.id.name();
  const std::string why =
      "DOWN after " + plural(t.health.fall(), "failed check") + " (" + result.detail + ")";
  const ServiceConfig& sc = cfg_.services[job.service];
  std::vector<sockvs::RealServer> dests;
  auto cur = current(job.id, &dests);
  if (!cur) {
    t.health.reset(true);  // try again after `fall` more failures
    t.held = false;
    return;
  }
  if (cur->weight == 0) {
    if (!retry) {
      log_.log(Level::kWarning, name + ": " + why + "; weight is already 0, nothing to change");
    }
    t.held = false;
    check_everywhere(job, result);
    return;
  }
  // min-up: the servers that would still take connections without it.
  unsigned usable = 0;
  for (const auto& d : dests) {
    if (d.weight == 0 || (d.addr == job.id.addr && d.port == job.id.port)) {
      continue;
    }
    auto other = targets_.find(DestId{job.id.svc, d.addr, d.port}.name());
    if (other != targets_.end() && !other->second.health.up()) {
      continue;
    }
    ++usable;
  }
  if (usable < sc.min_up) {
    if (!t.held) {
      log_.log(Level::kError,
               name + ": " + why + "; NOT quiesced: the service would be left with " +
                   plural(usable, "usable real server") + " (min-up " + std::to_string(sc.min_up) +
                   "); weight " + std::to_string(cur->weight) +
                   " stays until another real server is usable");
      t.held = true;
    }
    check_everywhere(job, result);
    return;
  }
  const bool was_held = std::exchange(t.held, false);
  const std::string what = was_held ? "still DOWN (" + result.detail +
                                          "), and another real server is usable now (min-up " +
                                          std::to_string(sc.min_up) + ")"
                                    : why;
  const bool kill = sc.terminate_on_down;
  if (opts_.dry_run) {
    log_.log(Level::kWarning, name + ": " + what + "; would set weight " +
                                  std::to_string(cur->weight) + " -> 0" +
                                  (kill ? " and terminate its open sockets" : "") + " (dry run)");
    check_everywhere(job, result);
    return;
  }
  if (!set_weight(job.id, 0)) {
    t.health.reset(true);
    return;
  }
  state_[name] = Remembered{job.id, cur->weight};
  save();
  log_.log(Level::kWarning,
           name + ": " + what + "; weight " + std::to_string(cur->weight) + " -> 0 (quiesced: " +
               (kill ? "no new connections)" : "no new connections, open ones untouched)"));
  if (kill) {
    terminate(job.id);
  }
  check_everywhere(job, result);
}

// Every checked real server of the service failing the same check is more
// often a wrong check (a password, a path, a port) than a dead fleet: said
// loudly, once, until one of them passes again.
void Engine::check_everywhere(const Job& job, const CheckResult& result) {
  const std::string sname = service_name(job.id.svc);
  const std::string prefix = sname + " -> ";
  unsigned n = 0;
  for (const auto& [name, t] : targets_) {
    if (!name.starts_with(prefix)) {
      continue;
    }
    if (t.health.up()) {
      return;
    }
    ++n;
  }
  if (n == 0 || !everywhere_.insert(sname).second) {
    return;
  }
  const ServiceConfig& sc = cfg_.services[job.service];
  log_.log(Level::kError, sname + ": EVERY checked real server (" + std::to_string(n) +
                              ") fails its " + describe(sc.check) + " check (last: " +
                              result.detail + "): check the configuration of the check itself" +
                              (sc.check.type == CheckType::kRedis && sc.check.redis_password.empty()
                                   ? " (a redis with requirepass answers -NOAUTH: `auth`)"
                                   : ""));
}

void Engine::on_up(const Job& job, Target& t, const CheckResult& result) {
  const std::string name = job.id.name();
  const std::string why =
      "UP after " + plural(t.health.rise(), "successful check") + " (" + result.detail + ")";
  auto rem = state_.find(name);
  if (rem == state_.end()) {
    log_.log(Level::kInfo,
             name + ": " + why + "; weight left as it is (not set by sockvs-healthd)");
    return;
  }
  const std::uint32_t weight = rem->second.weight;
  auto cur = current(job.id);
  if (!cur) {
    t.health.reset(false);
    return;
  }
  if (cur->weight != 0) {
    log_.log(Level::kInfo, name + ": " + why);
    forget(name, "weight is " + std::to_string(cur->weight) +
                     ", not the 0 sockvs-healthd set: the administrator changed it");
    return;
  }
  if (opts_.dry_run) {
    log_.log(Level::kInfo, name + ": " + why + "; would set weight 0 -> " + std::to_string(weight) +
                               " (dry run)");
    return;
  }
  if (!set_weight(job.id, weight)) {
    t.health.reset(false);
    return;
  }
  state_.erase(name);
  save();
  log_.log(Level::kInfo,
           name + ": " + why + "; weight 0 -> " + std::to_string(weight) + " (restored)");
}

}  // namespace healthd
