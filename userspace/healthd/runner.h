// Runs checks concurrently, one thread per check, and hands their results
// back to the thread that owns the Engine (main.cc's loop).
#ifndef SOCKVS_HEALTHD_RUNNER_H_
#define SOCKVS_HEALTHD_RUNNER_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "checks.h"
#include "engine.h"

namespace healthd {

// Finished checks, handed from the worker threads to the main loop; fd()
// becomes readable when there are some.
class Results {
 public:
  struct Done {
    std::uint64_t worker = 0;
    Job job;
    CheckResult result;
  };

  // Throws std::runtime_error if the eventfd cannot be made.
  Results();
  ~Results();
  Results(const Results&) = delete;
  Results& operator=(const Results&) = delete;
  Results(Results&&) = delete;
  Results& operator=(Results&&) = delete;

  void push(Done done);
  std::vector<Done> take();
  [[nodiscard]] int fd() const noexcept { return wake_; }

 private:
  int wake_;
  std::mutex mu_;
  std::vector<Done> done_;
};

class Runner {
 public:
  Runner(Engine& engine, Logger& log) : engine_(engine), log_(log) {}

  // Starts the check of a job returned by Engine::plan() in its own thread:
  // it ends within the service's timeout.
  void start(const Job& job);

  // Hands the results of finished checks to Engine::apply(); returns them.
  std::vector<Results::Done> collect();

  // Some check has not been collected yet.
  [[nodiscard]] bool busy() const noexcept { return !workers_.empty(); }
  // Readable when collect() has something to do.
  [[nodiscard]] int fd() const noexcept { return results_.fd(); }

 private:
  Engine& engine_;
  Logger& log_;
  Results results_;  // declared before workers_: outlives the threads
  std::map<std::uint64_t, std::jthread> workers_;
  std::uint64_t next_id_ = 0;
};

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_RUNNER_H_
