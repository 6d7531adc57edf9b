// sockvs-healthd's main loop: one epoll set (loop.h) for the signals, the
// running checks and the metrics listener, one timerfd for whatever is
// due next (a service's kernel snapshot, a server's check, a check's
// deadline, the systemd watchdog).  main.cc and bench/healthd_scale.cc
// run it.
#ifndef SOCKVS_HEALTHD_DAEMON_H_
#define SOCKVS_HEALTHD_DAEMON_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "engine.h"
#include "loop.h"
#include "runner.h"

namespace healthd {

class MetricsServer;

struct DaemonOptions {
  EngineOptions engine;
  // Read again on SIGHUP (empty: SIGHUP is only logged).
  std::string config_path;
};

class Daemon {
 public:
  // Throws std::runtime_error (the loop, the metrics listener).
  Daemon(Config cfg, ApiFactory connect, Logger& log, DaemonOptions opts);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  Daemon(Daemon&&) = delete;
  Daemon& operator=(Daemon&&) = delete;

  // Checks until SIGTERM or SIGINT arrives on `sigfd` (a signalfd for
  // SIGTERM, SIGINT, SIGHUP; -1: none) or stop() is called; tells systemd
  // (sd_notify) when it is ready, reloading and stopping, and pings its
  // watchdog.  Returns the exit status.
  int run(int sigfd);

  // --once: every real server checked once; 0 if all passed, 3 if one
  // failed, 1 if a service could not be looked up.
  int once();

  // Makes run() return 0 after the current iteration.
  void stop() noexcept { stop_ = true; }

  // SIGHUP: reads the configuration again; a bad one is logged and the
  // running one kept.  True if it was replaced.
  bool reload();

  [[nodiscard]] Engine& engine() noexcept { return engine_; }
  [[nodiscard]] Loop& loop() noexcept { return loop_; }
  [[nodiscard]] const Runner& runner() const noexcept { return runner_; }
  // The /metrics text right now.
  std::string metrics();

 private:
  void iteration();
  void start_metrics();
  void on_signal(int sigfd, int& exit_code);
  void notify_status();

  Logger& log_;
  DaemonOptions opts_;
  Loop loop_;
  Engine engine_;
  Runner runner_;
  std::unique_ptr<MetricsServer> metrics_;
  std::vector<Clock::time_point> refresh_due_;
  std::optional<Clock::time_point> watchdog_due_;
  Clock::time_point last_save_{};
  Clock::duration watchdog_every_{};
  bool stop_ = false;
  bool all_ok_ = true;
};

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_DAEMON_H_
