// sockvs-healthd: health checks for the real servers of sock_vs services.
// Quiesces (weight 0) a real server that fails `fall` checks in a row (and
// terminates its open sockets, unless `terminate-on-down no`) and
// gives it its weight back after `rise` good ones.  See README.md.
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "checks.h"
#include "config.h"
#include "engine.h"
#include "fd.h"
#include "runner.h"
#include "sockvs/client.h"

namespace healthd {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnhealthy = 3;  // --once: some check failed

constexpr const char* kUsage =
    "usage: sockvs-healthd -c FILE [--once] [--foreground] [--dry-run]\n"
    "       sockvs-healthd -c FILE --check-config\n"
    "\n"
    "  -c, --config FILE   the configuration (see sockvs-healthd.conf.example)\n"
    "  -1, --once          check every real server once, act as if rise = fall = 1,\n"
    "                      exit 0 if every check passed, 3 if one failed, 1 if a\n"
    "                      service could not be looked up\n"
    "  -f, --foreground    stay in the foreground and log to stderr (default:\n"
    "                      detach and log to syslog)\n"
    "  -n, --dry-run       log what would change, change no weight and no state file\n"
    "  -t, --check-config  read the configuration, report errors, exit\n"
    "  -h, --help          this text\n";

// "2026-11-27T21:40:01.123Z sockvs-healthd[42]: warning: ..." on stderr.
class StderrLogger final : public Logger {
 public:
  void log(Level level, const std::string& message) override {
    const auto now = std::chrono::system_clock::now();
    const std::time_t secs = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    const char* prefix = level == Level::kError     ? "error: "
                         : level == Level::kWarning ? "warning: "
                                                    : "";
    const std::lock_guard<std::mutex> lock(mu_);
    std::fprintf(stderr, "%s.%03dZ sockvs-healthd[%d]: %s%s\n", stamp, static_cast<int>(ms),
                 static_cast<int>(::getpid()), prefix, message.c_str());
    std::fflush(stderr);
  }

 private:
  std::mutex mu_;
};

class SyslogLogger final : public Logger {
 public:
  SyslogLogger() { ::openlog("sockvs-healthd", LOG_PID, LOG_DAEMON); }
  ~SyslogLogger() override { ::closelog(); }
  SyslogLogger(const SyslogLogger&) = delete;
  SyslogLogger& operator=(const SyslogLogger&) = delete;
  SyslogLogger(SyslogLogger&&) = delete;
  SyslogLogger& operator=(SyslogLogger&&) = delete;

  void log(Level level, const std::string& message) override {
    const int prio = level == Level::kError     ? LOG_ERR
                     : level == Level::kWarning ? LOG_WARNING
                                                : LOG_INFO;
    ::syslog(prio, "%s", message.c_str());
  }
};

struct Options {
  std::string config;
  bool once = false;
  bool foreground = false;
  bool dry_run = false;
  bool check_config = false;
};

int parse_args(int argc, char** argv, Options& opts) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-c" || a == "--config") {
      if (i + 1 >= args.size()) {
        std::cerr << "sockvs-healthd: " << a << " needs a file name\n" << kUsage;
        return kExitUsage;
      }
      opts.config = args[++i];
    } else if (a.starts_with("--config=")) {
      opts.config = a.substr(9);
    } else if (a == "-1" || a == "--once") {
      opts.once = true;
    } else if (a == "-f" || a == "--foreground") {
      opts.foreground = true;
    } else if (a == "-n" || a == "--dry-run") {
      opts.dry_run = true;
    } else if (a == "-t" || a == "--check-config") {
      opts.check_config = true;
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return kExitOk;
    } else {
      std::cerr << "sockvs-healthd: unknown option '" << a << "'\n" << kUsage;
      return kExitUsage;
    }
  }
  if (opts.config.empty()) {
    std::cerr << "sockvs-healthd: -c FILE is required\n" << kUsage;
    return kExitUsage;
  }
  return -1;
}

int run(int argc, char** argv) {
  Options opts;
  if (const int rc = parse_args(argc, argv, opts); rc >= 0) {
    return rc;
  }
  Config cfg;
  try {
    cfg = load_config(opts.config);
  } catch (const ConfigError& e) {
    std::cerr << "sockvs-healthd: " << e.what() << "\n";
    return kExitUsage;
  }
  if (opts.check_config) {
    std::cout << opts.config << ": OK, " << cfg.services.size() << " service"
              << (cfg.services.size() == 1 ? "" : "s") << "\n";
    return kExitOk;
  }

  // Signals arrive on a signalfd; blocked before any thread starts.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  if (!opts.foreground && !opts.once && ::daemon(0, 0) != 0) {
    std::cerr << "sockvs-healthd: daemon: " << std::strerror(errno) << "\n";
    return kExitFailure;
  }
  std::unique_ptr<Logger> logger;
  if (opts.foreground || opts.once) {
    logger = std::make_unique<StderrLogger>();
  } else {
    logger = std::make_unique<SyslogLogger>();
  }
  // --once ends by itself (within the checks' timeout): signals keep their
  // default action there.
  if (!opts.once && ::pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) {
    logger->log(Level::kError, "cannot block signals");
    return kExitFailure;
  }
  const Fd sigfd(opts.once ? -1 : ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!opts.once && sigfd.get() < 0) {
    logger->log(Level::kError, std::string("signalfd: ") + std::strerror(errno));
    return kExitFailure;
  }

  const std::size_t nsvc = cfg.services.size();
  std::string summary = "starting: " + std::to_string(nsvc) + " service" + (nsvc == 1 ? "" : "s") +
                        ", state file " + cfg.state_file;
  if (opts.dry_run) {
    summary += " (dry run: no changes)";
  }
  logger->log(Level::kInfo, summary);
  for (const auto& s : cfg.services) {
    logger->log(Level::kInfo,
                service_name(s.key) + ": " + describe(s.check) + " every " +
                    format_duration(s.interval) + ", timeout " + format_duration(s.timeout) +
                    ", rise " + std::to_string(s.rise) + ", fall " + std::to_string(s.fall) +
                    ", real servers: " +
                    (s.reals.empty() ? std::string("all") : std::to_string(s.reals.size())) +
                    (s.terminate_on_down ? "" : ", terminate-on-down no"));
  }

  Engine engine(
      std::move(cfg), [] { return std::make_unique<sockvs::Client>(); }, *logger,
      EngineOptions{opts.dry_run, opts.once});
  engine.load();
  Runner runner(engine, *logger);

  if (opts.once) {
    for (std::size_t i = 0; i < nsvc; ++i) {
      for (const auto& job : engine.plan(i)) {
        runner.start(job);
      }
    }
    bool all_ok = true;
    while (runner.busy()) {
      pollfd p{runner.fd(), POLLIN, 0};
      (void)::poll(&p, 1, 1000);
      for (const auto& d : runner.collect()) {
        all_ok = all_ok && d.result.ok;
      }
    }
    if (engine.lookup_failures() > 0) {
      return kExitFailure;
    }
    return all_ok ? kExitOk : kExitUnhealthy;
  }

  std::vector<Clock::time_point> due(nsvc, Clock::now());
  for (;;) {
    auto now = Clock::now();
    for (std::size_t i = 0; i < nsvc; ++i) {
      if (now < due[i]) {
        continue;
      }
      for (const auto& job : engine.plan(i)) {
        runner.start(job);
      }
      // Start to start; a round that ran late does not cause a burst.
      due[i] += engine.config().services[i].interval;
      now = Clock::now();
      if (due[i] <= now) {
        due[i] = now + engine.config().services[i].interval;
      }
    }
    const auto next = *std::min_element(due.begin(), due.end());
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
    pollfd fds[2] = {{sigfd.get(), POLLIN, 0}, {runner.fd(), POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(std::clamp<long long>(wait, 0, 3600LL * 1000)));
    if (n < 0 && errno != EINTR) {
      logger->log(Level::kError, std::string("poll: ") + std::strerror(errno));
      return kExitFailure;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      signalfd_siginfo si{};
      while (::read(sigfd.get(), &si, sizeof(si)) == static_cast<ssize_t>(sizeof(si))) {
        if (si.ssi_signo == SIGHUP) {
          logger->log(Level::kInfo,
                      "SIGHUP: the configuration is read at start only; restart to reload");
          continue;
        }
        logger->log(Level::kInfo,
                    std::string("stopping on ") + ::strsignal(static_cast<int>(si.ssi_signo)) +
                        "; quiesced real servers stay at weight 0, their weights are in " +
                        engine.config().state_file);
        return kExitOk;  // ~Runner joins the running checks (each ends within its timeout)
      }
    }
    runner.collect();
  }
}

}  // namespace
}  // namespace healthd

int main(int argc, char** argv) {
  try {
    return healthd::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "sockvs-healthd: " << e.what() << "\n";
    return 1;
  }
}
