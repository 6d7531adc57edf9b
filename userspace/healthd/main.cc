// sockvs-healthd: health checks for the real servers of sock_vs services.
// Quiesces (weight 0) a real server that fails `fall` checks in a row (and
// terminates its open sockets, unless `terminate-on-down no`) and
// gives it its weight back after `rise` good ones.  See README.md.
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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
#include "daemon.h"
#include "engine.h"
#include "fd.h"
#include "log.h"
#include "sockvs/client.h"

namespace healthd {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr const char* kUsage =
    "usage: sockvs-healthd -c FILE [--once] [--foreground] [--dry-run]\n"
    "       sockvs-healthd -c FILE --check-config\n"
    "\n"
    "  -c, --config FILE   the configuration (see sockvs-healthd.conf.example)\n"
    "  -1, --once          check every real server once, act as if rise = fall = 1,\n"
    "                      exit 0 if every check passed, 3 if one failed, 1 if a\n"
    "                      service could not be looked up\n"
    "  -f, --foreground    stay in the foreground and log to stderr (default:\n"
    "                      detach and log to syslog; under systemd, whose journal\n"
    "                      is stderr, priority-prefixed lines for it)\n"
    "  -n, --dry-run       log what would change, change no weight and no state file\n"
    "  -t, --check-config  read the configuration, report errors, exit\n"
    "  -h, --help          this text\n";

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
  // Started by systemd (Type=notify): its main process must stay the one
  // it started, so no detaching even without --foreground.
  const bool under_systemd = std::getenv("NOTIFY_SOCKET") != nullptr;
  if (!opts.foreground && !opts.once && !under_systemd && ::daemon(0, 0) != 0) {
    std::cerr << "sockvs-healthd: daemon: " << std::strerror(errno) << "\n";
    return kExitFailure;
  }
  // Under systemd (stderr is its journal stream), priority-prefixed
  // lines; --foreground elsewhere, timestamped lines; detached, syslog.
  std::unique_ptr<Logger> logger;
  if (is_journal_stream(std::getenv("JOURNAL_STREAM"), STDERR_FILENO)) {
    logger = std::make_unique<JournalLogger>();
  } else if (opts.foreground || opts.once) {
    logger = std::make_unique<StderrLogger>();
  } else {
    logger = std::make_unique<SyslogLogger>();
  }
  // A scraper or a check peer that goes away is an EPIPE, not the end.
  (void)std::signal(SIGPIPE, SIG_IGN);
  // A socket per running check: a thousand servers need more than the
  // usual 1024 descriptors.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &nofile);
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

  DaemonOptions dopts;
  dopts.engine = EngineOptions{opts.dry_run, opts.once, !opts.once};
  dopts.config_path = opts.config;
  Daemon daemon(
      std::move(cfg), [] { return std::make_unique<sockvs::Client>(); }, *logger, dopts);
  daemon.engine().load();
  if (opts.once) {
    return daemon.once();
  }
  return daemon.run(sigfd.get());
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
