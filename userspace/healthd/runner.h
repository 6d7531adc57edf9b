// Runs checks concurrently in the event loop: every running check is a
// non-blocking Probe whose descriptor is in the Loop's epoll set, with a
// deadline; no threads.
#ifndef SOCKVS_HEALTHD_RUNNER_H_
#define SOCKVS_HEALTHD_RUNNER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include "checks.h"
#include "engine.h"
#include "loop.h"

namespace healthd {

class Runner {
 public:
  // Called (from Loop::run_once() or expire()) with every finished check.
  using Done = std::function<void(const Job&, const CheckResult&)>;

  Runner(Loop& loop, Done done) : loop_(loop), done_(std::move(done)) {}
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;
  Runner(Runner&&) = delete;
  Runner& operator=(Runner&&) = delete;

  // Starts `check` for a job of Engine::due() or plan(); its result comes
  // through `done` within `timeout` (maybe at once).
  void start(const Job& job, const CheckSpec& check, Millis timeout);

  // Ends the checks whose deadline is at or before `now` (their results
  // through `done`).
  void expire(Clock::time_point now);

  // The earliest deadline of a running check.
  [[nodiscard]] std::optional<Clock::time_point> next_deadline() const;
  [[nodiscard]] std::size_t running() const noexcept { return running_.size(); }
  [[nodiscard]] bool busy() const noexcept { return !running_.empty(); }

 private:
  struct Running {
    Job job;
    std::unique_ptr<Probe> probe;
    Clock::time_point started;
    std::multimap<Clock::time_point, std::uint64_t>::iterator deadline;
    Wait registered;
  };

  void advance(std::uint64_t id, std::uint32_t events);
  void finish(std::uint64_t id, CheckResult r);
  // Puts the probe's current wait() in the loop.
  void rewait(std::uint64_t id, Running& r);

  Loop& loop_;
  Done done_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, Running> running_;
  std::multimap<Clock::time_point, std::uint64_t> deadlines_;
};

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_RUNNER_H_
