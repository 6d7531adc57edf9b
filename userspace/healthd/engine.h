// What sockvs-healthd does each round, without the threads and the clock:
// find the real servers of a service, say which checks to run, and turn
// check results into weight changes (quiesce, then terminate the quiesced
// server's open sockets; restore), remembered in the state file.  main.cc
// runs the checks concurrently and calls apply().
#ifndef SOCKVS_HEALTHD_ENGINE_H_
#define SOCKVS_HEALTHD_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checks.h"
#include "config.h"
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
  std::size_t service = 0;  // index into Config::services
  DestId id;
  sockvs::Address addr;  // where the check connects: the real server itself
  std::uint16_t port = 0;
};

// Makes a connection to the module; throws sockvs::Error.
using ApiFactory = std::function<std::unique_ptr<sockvs::Api>()>;

struct EngineOptions {
  bool dry_run = false;  // log what would change, change nothing (no state file either)
  bool once = false;     // rise = fall = 1 and log every result
};

class Engine {
 public:
  Engine(Config config, ApiFactory connect, Logger& log, EngineOptions options = {});

  // Reads the state file (what an earlier run quiesced).
  void load();

  // Looks the service up in the kernel and returns the checks to start now:
  // one per real server that has no check running.
  std::vector<Job> plan(std::size_t service);

  // Records the result of a job returned by plan().
  void apply(const Job& job, const CheckResult& result);

  // A job returned by plan() that was not run.
  void cancel(const Job& job);

  [[nodiscard]] const Config& config() const noexcept { return cfg_; }
  [[nodiscard]] const StateMap& state() const noexcept { return state_; }
  // plan() calls that could not look their service up (no module, no such
  // service, netlink error).
  [[nodiscard]] unsigned lookup_failures() const noexcept { return lookup_failures_; }
  // Whether the real server is known and considered healthy.
  [[nodiscard]] std::optional<bool> is_up(const DestId& id) const;

 private:
  struct Target {
    Health health;
    bool in_flight = false;
    bool rewrite_warned = false;
    std::uint32_t weight = 0;  // in the kernel at the last lookup
    bool held = false;         // down, but not quiesced: min-up (retried)
  };

  sockvs::Api* api();
  void drop_api(const std::string& why);
  void save();
  void forget(const std::string& name, const std::string& why);
  std::optional<sockvs::RealServer> current(const DestId& id,
                                            std::vector<sockvs::RealServer>* all = nullptr);
  bool set_weight(const DestId& id, std::uint32_t weight);
  void terminate(const DestId& id);
  void on_down(const Job& job, Target& t, const CheckResult& result, bool retry);
  void check_everywhere(const Job& job, const CheckResult& result);
  void on_up(const Job& job, Target& t, const CheckResult& result);
  [[nodiscard]] unsigned rise(std::size_t service) const;
  [[nodiscard]] unsigned fall(std::size_t service) const;

  Config cfg_;
  ApiFactory connect_;
  Logger& log_;
  EngineOptions opts_;
  std::unique_ptr<sockvs::Api> api_;
  bool api_failed_ = false;
  unsigned lookup_failures_ = 0;           // the last connection attempt failed (logged once)
  std::map<std::string, Target> targets_;  // keyed by DestId::name()
  StateMap state_;
  std::vector<bool> missing_;         // per service: not in the kernel (logged once)
  std::set<std::string> warned_;      // configured real servers reported missing
  std::set<std::string> everywhere_;  // services whose every server fails (logged once)
};

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_ENGINE_H_
