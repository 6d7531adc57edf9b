#include "daemon.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <utility>

#include "metrics.h"
#include "sockvs/error.h"

namespace healthd {

namespace {

constexpr auto kSlack = std::chrono::milliseconds(1);
// The state file (written with fsync) at most this often: a burst of
// quiesces is one write, not one per loop turn, and a slow disk does not
// hold the checks up.  A crash loses at most this much of what it knew.
constexpr auto kSaveEvery = std::chrono::milliseconds(200);

void min_into(std::optional<Clock::time_point>& acc, std::optional<Clock::time_point> t) {
  if (t && (!acc || *t < *acc)) {
    acc = t;
  }
}

}  // namespace

Daemon::Daemon(Config cfg, ApiFactory connect, Logger& log, DaemonOptions opts)
    : log_(log),
      opts_(std::move(opts)),
      engine_(std::move(cfg), std::move(connect), log, opts_.engine),
      runner_(loop_, [this](const Job& job, const CheckResult& r) {
        all_ok_ = all_ok_ && r.ok;
        engine_.apply(job, r, Clock::now());
      }) {
  start_metrics();
}

Daemon::~Daemon() = default;

void Daemon::start_metrics() {
  const auto& where = engine_.config().metrics_listen;
  metrics_.reset();
  if (!where) {
    return;
  }
  metrics_ = std::make_unique<MetricsServer>(
      loop_, *where, [this] { return metrics(); }, log_);
  log_.log(Level::kInfo,
           "serving /metrics on " + sockvs::format_endpoint(where->addr, metrics_->port()));
}

std::string Daemon::metrics() {
  MetricsInput in;
  in.targets = engine_.targets();
  in.lookup_failures = engine_.lookup_failures();
  // A fresh dump for every scrape: counters exact at the scrape, and every
  // service of the namespace, not only the checked ones.
  if (sockvs::Api* a = engine_.api()) {
    try {
      std::vector<std::pair<sockvs::Service, std::vector<sockvs::RealServer>>> m;
      for (auto& s : a->list_services()) {
        auto dests = a->list_dests(s.key());
        m.emplace_back(std::move(s), std::move(dests));
      }
      in.module = std::move(m);
    } catch (const sockvs::Error& e) {
      engine_.drop_api(std::string("/metrics: cannot read the module: ") + e.what());
    }
  }
  return render_metrics(in);
}

int Daemon::once() {
  const std::size_t n = engine_.config().services.size();
  for (std::size_t i = 0; i < n; ++i) {
    for (const auto& job : engine_.plan(i)) {
      const ServiceConfig& sc = engine_.config().services[job.service];
      runner_.start(job, sc.check, sc.timeout);
    }
  }
  while (runner_.busy()) {
    loop_.wake_at(runner_.next_deadline());
    loop_.run_once();
    runner_.expire(Clock::now());
  }
  engine_.flush();
  if (engine_.lookup_failures() > 0) {
    return 1;
  }
  return all_ok_ ? 0 : 3;
}

void Daemon::notify_status() {
  const auto targets = engine_.targets();
  const auto down =
      std::count_if(targets.begin(), targets.end(), [](const TargetView& t) { return !t.up; });
  const std::string status = "STATUS=checking " + std::to_string(targets.size()) +
                             " real servers of " +
                             std::to_string(engine_.config().services.size()) + " services, " +
                             std::to_string(down) + " down";
  (void)sd_notify(0, status.c_str());
}

bool Daemon::reload() {
  if (opts_.config_path.empty()) {
    log_.log(Level::kInfo, "SIGHUP: no configuration file to read again");
    return false;
  }
  Config cfg;
  try {
    cfg = load_config(opts_.config_path);
  } catch (const ConfigError& e) {
    log_.log(Level::kError,
             std::string("SIGHUP: ") + e.what() + "; keeping the running configuration");
    return false;
  }
  (void)sd_notify(0, "RELOADING=1");
  const bool listen_changed = cfg.metrics_listen != engine_.config().metrics_listen;
  const auto now = Clock::now();
  engine_.reconfigure(std::move(cfg), now);
  refresh_due_.assign(engine_.config().services.size(), now);
  if (listen_changed) {
    try {
      start_metrics();
    } catch (const std::exception& e) {
      log_.log(Level::kError, std::string("/metrics: ") + e.what());
    }
  }
  log_.log(Level::kInfo, "SIGHUP: configuration read again from " + opts_.config_path + ": " +
                             std::to_string(engine_.config().services.size()) +
                             " services; health and remembered weights kept");
  (void)sd_notify(0, "READY=1");
  return true;
}

void Daemon::on_signal(int sigfd, int& exit_code) {
  signalfd_siginfo si{};
  while (::read(sigfd, &si, sizeof(si)) == static_cast<ssize_t>(sizeof(si))) {
    if (si.ssi_signo == SIGHUP) {
      reload();
      continue;
    }
    log_.log(Level::kInfo, std::string("stopping on ") +
                               ::strsignal(static_cast<int>(si.ssi_signo)) +
                               "; quiesced real servers stay at weight 0, their weights are in " +
                               engine_.config().state_file);
    exit_code = 0;
    stop_ = true;
  }
}

// One turn: snapshots of the services due, checks due, deadlines, the
// state file, the watchdog; then wait for the next of them.
void Daemon::iteration() {
  const auto now = Clock::now();
  const auto& services = engine_.config().services;
  std::vector<std::size_t> due;
  for (std::size_t i = 0; i < services.size(); ++i) {
    if (now >= refresh_due_[i]) {
      due.push_back(i);
      refresh_due_[i] += services[i].interval;
      if (refresh_due_[i] <= now) {
        refresh_due_[i] = now + services[i].interval;
      }
    }
  }
  engine_.refresh(due, now);
  // Checks due within the next millisecond start now: one wakeup for
  // them, not one each (the jitter still spreads a service's servers).
  for (const auto& job : engine_.due(Clock::now() + kSlack)) {
    const ServiceConfig& sc = engine_.config().services[job.service];
    runner_.start(job, sc.check, sc.timeout);
  }
  runner_.expire(Clock::now());
  if (metrics_) {
    metrics_->expire(now);
  }
  if (engine_.dirty() && now - last_save_ >= kSaveEvery) {
    engine_.flush();
    last_save_ = now;
  }
  if (watchdog_due_ && now >= *watchdog_due_) {
    (void)sd_notify(0, "WATCHDOG=1");
    notify_status();
    watchdog_due_ = now + watchdog_every_;
  }
  std::optional<Clock::time_point> next;
  for (const auto& t : refresh_due_) {
    min_into(next, t);
  }
  min_into(next, engine_.next_due());
  min_into(next, runner_.next_deadline());
  min_into(next, watchdog_due_);
  if (engine_.dirty()) {
    min_into(next, last_save_ + kSaveEvery);
  }
  if (metrics_) {
    min_into(next, now + std::chrono::seconds(10));
  }
  loop_.wake_at(next);
  loop_.run_once();
}

int Daemon::run(int sigfd) {
  int exit_code = 0;
  if (sigfd >= 0) {
    loop_.add(sigfd, EPOLLIN,
              [this, sigfd, &exit_code](std::uint32_t) { on_signal(sigfd, exit_code); });
  }
  const auto now = Clock::now();
  refresh_due_.assign(engine_.config().services.size(), now);
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_every_ = std::chrono::microseconds(usec / 2);
    watchdog_due_ = now;
  }
  (void)sd_notify(0, "READY=1");
  notify_status();
  while (!stop_) {
    iteration();
  }
  (void)sd_notify(0, "STOPPING=1");
  engine_.flush();
  if (sigfd >= 0) {
    loop_.remove(sigfd);
  }
  return exit_code;
}

}  // namespace healthd
