#include "engine.h"

#include <netinet/in.h>

#include <algorithm>
#include <array>
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
      snap_(cfg_.services.size()),
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
  dirty_ = true;
  if (!opts_.deferred_saves) {
    flush();
  }
}

void Engine::flush() {
  if (!dirty_ || opts_.dry_run) {
    return;
  }
  dirty_ = false;
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

std::vector<TargetView> Engine::targets() const {
  std::vector<TargetView> out;
  out.reserve(targets_.size());
  for (const auto& [name, t] : targets_) {
    out.push_back(
        TargetView{t.id, t.health.up(), t.checked, t.last_ok, t.last_duration, t.passed, t.failed});
  }
  return out;
}

std::optional<std::size_t> Engine::service_of(const sockvs::ServiceKey& key) const {
  for (std::size_t i = 0; i < cfg_.services.size(); ++i) {
    if (cfg_.services[i].key == key) {
      return i;
    }
  }
  return std::nullopt;
}

// A fixed offset per server below the service's jitter (the interval by
// default), from a hash of its name (FNV-1a): the servers of a service are
// spread over the interval, each still checked exactly every interval.
Clock::duration Engine::jitter_offset(std::size_t service, const std::string& name) const {
  const ServiceConfig& sc = cfg_.services[service];
  const auto window =
      std::chrono::duration_cast<std::chrono::microseconds>(sc.jitter.value_or(sc.interval));
  if (opts_.once || window.count() <= 0) {
    return Clock::duration::zero();
  }
  std::uint64_t h = 14695981039346656037ULL;
  for (const unsigned char c : name) {
    h = (h ^ c) * 1099511628211ULL;
  }
  return std::chrono::microseconds(
      static_cast<std::int64_t>(h % static_cast<std::uint64_t>(window.count())));
}

void Engine::schedule(TargetMap::iterator it, std::optional<Clock::time_point> at) {
  Target& t = it->second;
  if (t.due) {
    queue_.erase({*t.due, it->first});
  }
  t.due = at;
  if (at) {
    queue_.emplace(*at, it->first);
  }
}

Engine::TargetMap::iterator Engine::drop(TargetMap::iterator it) {
  schedule(it, std::nullopt);
  return targets_.erase(it);
}

std::vector<Job> Engine::due(Clock::time_point now) {
  std::vector<Job> jobs;
  while (!queue_.empty() && queue_.begin()->first <= now) {
    const auto [when, name] = *queue_.begin();
    queue_.erase(queue_.begin());
    auto it = targets_.find(name);
    if (it == targets_.end()) {
      continue;
    }
    Target& t = it->second;
    t.due.reset();
    if (t.in_flight || t.rewrite_warned) {
      continue;
    }
    const ServiceConfig& sc = cfg_.services[t.service];
    t.in_flight = true;
    jobs.push_back(Job{t.service, t.id, name, t.id.addr, sc.check.port.value_or(t.id.port), when});
  }
  return jobs;
}

std::optional<Clock::time_point> Engine::next_due() const {
  if (queue_.empty()) {
    return std::nullopt;
  }
  return queue_.begin()->first;
}

void Engine::service_missing(std::size_t service) {
  const std::string sname = service_name(cfg_.services[service].key);
  ++lookup_failures_;
  snap_[service].present = false;
  snap_[service].dests.clear();
  if (!missing_[service]) {
    log_.log(Level::kWarning,
             sname + ": no such virtual service in sock_vs (looking again every interval)");
    missing_[service] = true;
  }
  const std::string prefix = sname + " -> ";
  for (auto it = targets_.begin(); it != targets_.end();) {
    if (it->first.starts_with(prefix) && !it->second.in_flight) {
      it = drop(it);
    } else {
      ++it;
    }
  }
}

void Engine::refresh(std::span<const std::size_t> services, Clock::time_point now) {
  if (services.empty()) {
    return;
  }
  sockvs::Api* a = api();
  if (a == nullptr) {
    lookup_failures_ += static_cast<unsigned>(services.size());
    return;
  }
  std::vector<sockvs::Service> all;
  try {
    all = a->list_services();
  } catch (const sockvs::Error& e) {
    lookup_failures_ += static_cast<unsigned>(services.size());
    drop_api(std::string("cannot list the virtual services: ") + e.what());
    return;
  }
  for (const std::size_t service : services) {
    const ServiceConfig& sc = cfg_.services.at(service);
    auto found = std::find_if(all.begin(), all.end(),
                              [&](const sockvs::Service& s) { return s.key() == sc.key; });
    if (found == all.end()) {
      service_missing(service);
      continue;
    }
    std::vector<sockvs::RealServer> dests;
    try {
      dests = a->list_dests(sc.key);
    } catch (const sockvs::Error& e) {
      ++lookup_failures_;
      drop_api(service_name(sc.key) + ": cannot list real servers: " + e.what());
      return;
    }
    snap_[service].present = true;
    snap_[service].service = *found;
    snap_[service].taken = now;
    sync(service, all, std::move(dests), now);
  }
}

void Engine::sync(std::size_t service, const std::vector<sockvs::Service>& services,
                  std::vector<sockvs::RealServer> dests, Clock::time_point now) {
  const ServiceConfig& sc = cfg_.services[service];
  const std::string sname = service_name(sc.key);
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
  for (const auto& d : dests) {
    if (!sc.reals.empty() &&
        std::find(sc.reals.begin(), sc.reals.end(), RealSpec{d.addr, d.port}) == sc.reals.end()) {
      continue;
    }
    const DestId id{sc.key, d.addr, d.port};
    const std::string name = id.name();
    seen.insert(name);
    auto [it, fresh] = targets_.try_emplace(name);
    Target& t = it->second;
    if (fresh) {
      t.health = Health(rise(service), fall(service), true);
      t.id = id;
      t.service = service;
      t.offset = jitter_offset(service, name);
    }
    t.service = service;
    auto rem = state_.find(name);
    if (rem != state_.end()) {
      if (d.weight != 0) {
        forget(name, "weight is " + std::to_string(d.weight) +
                         ", not the 0 sockvs-healthd set: the administrator changed it");
        t.health.reset(true);
        t.held = false;
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
      schedule(it, std::nullopt);
      continue;
    }
    if (t.rewrite_warned) {
      t.rewrite_warned = false;
      fresh = true;
    }
    if (fresh && !t.in_flight) {
      schedule(it, now + t.offset);
    }
  }

  // Real servers gone from the service.
  const std::string prefix = sname + " -> ";
  for (auto it = targets_.begin(); it != targets_.end();) {
    if (it->first.starts_with(prefix) && !seen.contains(it->first)) {
      log_.log(Level::kInfo, it->first + ": no longer checked (not a real server of the service" +
                                 std::string(sc.reals.empty() ? "" : " or not configured") + ")");
      it = drop(it);
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
  snap_[service].dests = std::move(dests);
}

std::vector<Job> Engine::plan(std::size_t service) {
  const auto now = Clock::now();
  const std::array<std::size_t, 1> one{service};
  const unsigned failures = lookup_failures_;
  refresh(one, now);
  if (lookup_failures_ != failures) {
    return {};
  }
  std::vector<Job> jobs;
  const ServiceConfig& sc = cfg_.services[service];
  for (auto it = targets_.begin(); it != targets_.end(); ++it) {
    Target& t = it->second;
    if (t.service != service || !(t.id.svc == sc.key) || t.in_flight || t.rewrite_warned) {
      continue;
    }
    schedule(it, std::nullopt);
    t.in_flight = true;
    jobs.push_back(
        Job{service, t.id, it->first, t.id.addr, sc.check.port.value_or(t.id.port), now});
  }
  return jobs;
}

void Engine::cancel(const Job& job) {
  auto it = targets_.find(job.name.empty() ? job.id.name() : job.name);
  if (it != targets_.end()) {
    it->second.in_flight = false;
    schedule(it, job.due + cfg_.services[it->second.service].interval);
  }
}

void Engine::reconfigure(Config config, Clock::time_point now) {
  if (config.state_file != cfg_.state_file) {
    log_.log(Level::kWarning, "state-file changed to " + config.state_file + ": a reload keeps " +
                                  cfg_.state_file + " (restart to move it)");
    config.state_file = cfg_.state_file;
  }
  cfg_ = std::move(config);
  snap_.assign(cfg_.services.size(), ServiceSnapshot{});
  missing_.assign(cfg_.services.size(), false);
  everywhere_.clear();
  // Servers of services still configured keep their health; rise, fall and
  // the schedule follow the new configuration.
  for (auto it = targets_.begin(); it != targets_.end();) {
    Target& t = it->second;
    auto svc = service_of(t.id.svc);
    const bool listed =
        svc && (cfg_.services[*svc].reals.empty() ||
                std::find(cfg_.services[*svc].reals.begin(), cfg_.services[*svc].reals.end(),
                          RealSpec{t.id.addr, t.id.port}) != cfg_.services[*svc].reals.end());
    if (!listed) {
      log_.log(Level::kInfo, it->first + ": no longer checked (not in the configuration)");
      it = drop(it);
      continue;
    }
    t.service = *svc;
    const bool up = t.health.up();
    t.health = Health(rise(*svc), fall(*svc), up);
    t.offset = jitter_offset(*svc, it->first);
    if (!t.in_flight) {
      schedule(it, now + t.offset);
    }
    ++it;
  }
  // Remembered weights of services no longer checked: said, then dropped.
  for (auto it = state_.begin(); it != state_.end();) {
    if (service_of(it->second.id.svc)) {
      ++it;
      continue;
    }
    log_.log(Level::kWarning, it->first + ": quiesced, but its service is no longer in the " +
                                  "configuration: forgetting weight " +
                                  std::to_string(it->second.weight) + " (restore it with `" +
                                  weight_cmd(it->second.id, it->second.weight) + "`)");
    it = state_.erase(it);
    save();
  }
}

void Engine::apply(const Job& job, const CheckResult& result, Clock::time_point now) {
  const std::string& name = job.name.empty() ? job.id.name() : job.name;
  auto it = targets_.find(name);
  if (it == targets_.end()) {
    return;  // removed from the service meanwhile
  }
  Target& t = it->second;
  t.in_flight = false;
  if (!service_of(job.id.svc)) {
    return;
  }
  const ServiceConfig& sc = cfg_.services[t.service];
  t.checked = true;
  t.last_ok = result.ok;
  t.last_duration = result.duration;
  ++(result.ok ? t.passed : t.failed);
  const bool was_up = t.health.up();
  if (opts_.once) {
    log_.log(result.ok ? Level::kInfo : Level::kWarning,
             name + ": check " + (result.ok ? "passed (" : "FAILED (") + result.detail + ")");
  }
  const Transition tr = t.health.record(result.ok);
  // Start to start; a check that ended late does not cause a burst.
  auto next = job.due + sc.interval;
  if (tr == Transition::kNone && t.health.up() && !result.ok && sc.delay_before_retry) {
    next = now + *sc.delay_before_retry;
  }
  schedule(it, std::max(next, now));
  switch (tr) {
    case Transition::kDown:
      on_down(t, result, false);
      return;
    case Transition::kUp:
      everywhere_.erase(service_name(job.id.svc));
      on_up(t, result);
      return;
    case Transition::kNone:
      break;
  }
  if (t.held && !t.health.up() && !result.ok) {
    on_down(t, result, true);  // min-up kept it: maybe it can go now
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

// What healthd set is what the snapshot has until the next one.
void Engine::snapshot_weight(const Target& t, std::uint32_t weight) {
  for (auto& d : snap_[t.service].dests) {
    if (d.addr == t.id.addr && d.port == t.id.port) {
      d.weight = weight;
    }
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

// The weight it acts on is the last snapshot's (at most an interval old,
// plus what healthd itself set since): no dump per transition.
void Engine::on_down(Target& t, const CheckResult& result, bool retry) {
  const std::string name = t.id.name();
  const std::string why =
      "DOWN after " + plural(t.health.fall(), "failed check") + " (" + result.detail + ")";
  const ServiceConfig& sc = cfg_.services[t.service];
  if (t.weight == 0) {
    if (!retry) {
      log_.log(Level::kWarning, name + ": " + why + "; weight is already 0, nothing to change");
    }
    t.held = false;
    check_everywhere(t, result);
    return;
  }
  // min-up: the servers that would still take connections without it.
  unsigned usable = 0;
  for (const auto& d : snap_[t.service].dests) {
    if (d.weight == 0 || (d.addr == t.id.addr && d.port == t.id.port)) {
      continue;
    }
    auto other = targets_.find(DestId{t.id.svc, d.addr, d.port}.name());
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
                   "); weight " + std::to_string(t.weight) +
                   " stays until another real server is usable");
      t.held = true;
    }
    check_everywhere(t, result);
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
                                  std::to_string(t.weight) + " -> 0" +
                                  (kill ? " and terminate its open sockets" : "") + " (dry run)");
    check_everywhere(t, result);
    return;
  }
  if (!set_weight(t.id, 0)) {
    t.health.reset(true);
    return;
  }
  const std::uint32_t old = t.weight;
  state_[name] = Remembered{t.id, old};
  t.weight = 0;
  snapshot_weight(t, 0);
  save();
  log_.log(Level::kWarning,
           name + ": " + what + "; weight " + std::to_string(old) + " -> 0 (quiesced: " +
               (kill ? "no new connections)" : "no new connections, open ones untouched)"));
  if (kill) {
    terminate(t.id);
  }
  check_everywhere(t, result);
}

// Every checked real server of the service failing the same check is more
// often a wrong check (a password, a path, a port) than a dead fleet: said
// loudly, once, until one of them passes again.
void Engine::check_everywhere(const Target& t, const CheckResult& result) {
  const std::string sname = service_name(t.id.svc);
  const std::string prefix = sname + " -> ";
  unsigned n = 0;
  for (auto it = targets_.lower_bound(prefix); it != targets_.end(); ++it) {
    if (!it->first.starts_with(prefix)) {
      break;
    }
    if (it->second.health.up()) {
      return;
    }
    ++n;
  }
  if (n == 0 || !everywhere_.insert(sname).second) {
    return;
  }
  const ServiceConfig& sc = cfg_.services[t.service];
  log_.log(Level::kError, sname + ": EVERY checked real server (" + std::to_string(n) +
                              ") fails its " + describe(sc.check) + " check (last: " +
                              result.detail + "): check the configuration of the check itself" +
                              (sc.check.type == CheckType::kRedis && sc.check.redis_password.empty()
                                   ? " (a redis with requirepass answers -NOAUTH: `auth`)"
                                   : ""));
}

void Engine::on_up(Target& t, const CheckResult& result) {
  const std::string name = t.id.name();
  const std::string why =
      "UP after " + plural(t.health.rise(), "successful check") + " (" + result.detail + ")";
  t.held = false;
  auto rem = state_.find(name);
  if (rem == state_.end()) {
    log_.log(Level::kInfo,
             name + ": " + why + "; weight left as it is (not set by sockvs-healthd)");
    return;
  }
  const std::uint32_t weight = rem->second.weight;
  if (t.weight != 0) {
    log_.log(Level::kInfo, name + ": " + why);
    forget(name, "weight is " + std::to_string(t.weight) +
                     ", not the 0 sockvs-healthd set: the administrator changed it");
    return;
  }
  if (opts_.dry_run) {
    log_.log(Level::kInfo, name + ": " + why + "; would set weight 0 -> " + std::to_string(weight) +
                               " (dry run)");
    return;
  }
  if (!set_weight(t.id, weight)) {
    t.health.reset(false);
    return;
  }
  t.weight = weight;
  snapshot_weight(t, weight);
  state_.erase(name);
  save();
  log_.log(Level::kInfo,
           name + ": " + why + "; weight 0 -> " + std::to_string(weight) + " (restored)");
}

}  // namespace healthd
