// What sockvs-healthd decides, without the event loop: which real servers
// each service has (one kernel snapshot per round), when each is checked
// next, and what check results do to weights (quiesce, then terminate the
// quiesced server's open sockets; restore), remembered in the state file.
// The daemon (daemon.cc) runs the checks and calls apply().  Time is
// passed in, so tests need no clock.
#ifndef SOCKVS_HEALTHD_ENGINE_H_
#define SOCKVS_HEALTHD_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "checks.h"
#include "config.h"
#include "fd.h"
#include "health.h"
#include "sockvs/client.h"
#include "state_file.h"

namespace healthd {

enum class Level : std::uint8_t { kInfo, kWarning, kError };

class Logger {
 public:
  Logger() = default;
  virtual ~Logger() = default;
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;
  Logger(Logger&&) = delete;
  Logger& operator=(Logger&&) = delete;

  virtual void log(Level level, const std::string& message) = 0;
};

// One check to run.
struct Job {
  std::size_t service = 0;  // index into Config::services when it was made
  DestId id;
  std::string name;      // id.name()
  sockvs::Address addr;  // where the check connects: the real server itself
  std::uint16_t port = 0;
  Clock::time_point due{};  // when it was due (the next one is an interval later)
};

// Makes a connection to the module; throws sockvs::Error.
using ApiFactory = std::function<std::unique_ptr<sockvs::Api>()>;

struct EngineOptions {
  bool dry_run = false;  // log what would change, change nothing (no state file either)
  bool once = false;     // rise = fall = 1 and log every result
  // save() only marks the state dirty; flush() writes it (the daemon calls
  // it once per loop iteration: one write for a burst of quiesces).
  bool deferred_saves = false;
};

// What the last snapshot had of one configured service.
struct ServiceSnapshot {
  bool present = false;
  sockvs::Service service;                // with its counters
  std::vector<sockvs::RealServer> dests;  // weights as healthd left them since
  Clock::time_point taken{};
};

// What the daemon knows of one checked real server (for /metrics).
struct TargetView {
  DestId id;
  bool up = true;
  bool checked = false;  // some check has finished
  bool last_ok = false;
  std::chrono::microseconds last_duration{0};
  std::uint64_t passed = 0;
  std::uint64_t failed = 0;
};

class Engine {
 public:
  Engine(Config config, ApiFactory connect, Logger& log, EngineOptions options = {});

  // Reads the state file (what an earlier run quiesced).
  void load();

  // One kernel snapshot (one service dump, one real-server dump per
  // service) for the services `services` (indexes into Config::services):
  // real servers that appeared are scheduled (offset by their jitter from
  // `now`), those gone are forgotten, weights the administrator changed
  // are noticed.
  void refresh(std::span<const std::size_t> services, Clock::time_point now);

  // The checks due at `now` (of servers with no check running).
  std::vector<Job> due(Clock::time_point now);
  // When the next check is due.
  [[nodiscard]] std::optional<Clock::time_point> next_due() const;

  // refresh() of one service, then a check of each of its real servers that
  // has none running, due or not (--once; tests).
  std::vector<Job> plan(std::size_t service);

  // Records the result of a job from due() or plan() and schedules the
  // server's next check.
  void apply(const Job& job, const CheckResult& result, Clock::time_point now);
  void apply(const Job& job, const CheckResult& result) { apply(job, result, Clock::now()); }

  // A job returned by due() or plan() that was not run.
  void cancel(const Job& job);

  // Writes the state file if a deferred save is pending.
  void flush();
  [[nodiscard]] bool dirty() const noexcept { return dirty_; }

  // A new configuration (SIGHUP): servers still checked keep their state
  // (health, streaks, remembered weights); the state file stays where it
  // was.  Running jobs of services that are gone are ignored when they end.
  void reconfigure(Config config, Clock::time_point now);

  [[nodiscard]] const Config& config() const noexcept { return cfg_; }
  [[nodiscard]] const StateMap& state() const noexcept { return state_; }
  // Services looked up that could not be (no module, no such service,
  // netlink error), in refresh() and plan().
  [[nodiscard]] unsigned lookup_failures() const noexcept { return lookup_failures_; }
  // Whether the real server is known and considered healthy.
  [[nodiscard]] std::optional<bool> is_up(const DestId& id) const;
  // Per service (Config::services order): the last snapshot.
  [[nodiscard]] const std::vector<ServiceSnapshot>& snapshots() const noexcept { return snap_; }
  [[nodiscard]] std::vector<TargetView> targets() const;
  // The connection to the module (nullptr if there is none and none can be
  // made now), for /metrics.
  sockvs::Api* api();
  void drop_api(const std::string& why);

 private:
  struct Target {
    Health health{kDefaultRise, kDefaultFall, true};
    std::size_t service = 0;
    bool in_flight = false;
    bool rewrite_warned = false;  // a virtual address: never checked
    std::uint32_t weight = 0;     // in the kernel at the last snapshot (or as healthd set it)
    bool held = false;            // down, but not quiesced: min-up (retried)
    Clock::duration offset{};     // jitter
    std::optional<Clock::time_point> due;  // in queue_ when set
    bool checked = false;
    bool last_ok = false;
    std::chrono::microseconds last_duration{0};
    std::uint64_t passed = 0;
    std::uint64_t failed = 0;
    DestId id;
  };
  using TargetMap = std::map<std::string, Target>;

  void save();
  void forget(const std::string& name, const std::string& why);
  void sync(std::size_t service, const std::vector<sockvs::Service>& services,
            std::vector<sockvs::RealServer> dests, Clock::time_point now);
  void service_missing(std::size_t service);
  void schedule(TargetMap::iterator it, std::optional<Clock::time_point> at);
  TargetMap::iterator drop(TargetMap::iterator it);
  bool set_weight(const DestId& id, std::uint32_t weight);
  void snapshot_weight(const Target& t, std::uint32_t weight);
  void terminate(const DestId& id);
  void on_down(Target& t, const CheckResult& result, bool retry);
  void on_up(Target& t, const CheckResult& result);
  void check_everywhere(const Target& t, const CheckResult& result);
  [[nodiscard]] std::optional<std::size_t> service_of(const sockvs::ServiceKey& key) const;
  [[nodiscard]] unsigned rise(std::size_t service) const;
  [[nodiscard]] unsigned fall(std::size_t service) const;
  [[nodiscard]] Clock::duration jitter_offset(std::size_t service, const std::string& name) const;

  Config cfg_;
  ApiFactory connect_;
  Logger& log_;
  EngineOptions opts_;
  std::unique_ptr<sockvs::Api> api_;
  bool api_failed_ = false;
  unsigned lookup_failures_ = 0;
  bool dirty_ = false;
  TargetMap targets_;                                          // keyed by DestId::name()
  std::set<std::pair<Clock::time_point, std::string>> queue_;  // (due, name)
  StateMap state_;
  std::vector<ServiceSnapshot> snap_;
  std::vector<bool> missing_;         // per service: not in the kernel (logged once)
  std::set<std::string> warned_;      // configured real servers reported missing
  std::set<std::string> everywhere_;  // services whose every server fails (logged once)
};

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_ENGINE_H_
