// sockvs-agent: keeps this host's sock_vs table equal to the desired state
// under an etcd prefix (run), publishes a real server (register), says how
// the running agent is doing (status).  See README.md "sockvs-agent".
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "agent.h"
#include "fd.h"
#include "log.h"
#include "registrar.h"
#include "sockvs/client.h"
#include "status.h"
#include "store.h"

namespace agent {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitStale = 3;

constexpr const char* kUsage =
    "usage: sockvs-agent [run] --cell NAME --endpoints URL[,URL...] [options]\n"
    "       sockvs-agent register --cell NAME --endpoints URL[,URL...] --service NAME\n"
    "                    --endpoint ADDR:PORT [--weight N] [--ttl SECONDS] [--drain SECONDS]\n"
    "       sockvs-agent status [--status-file PATH] [--json]\n"
    "\n"
    "run: keep this network namespace's sock_vs table equal to /sockvs/v1/NAME/ in etcd.\n"
    "  --cell NAME             the prefix /sockvs/v1/NAME/\n"
    "  --endpoints LIST        etcd members' client URLs, http://HOST:PORT (comma-separated)\n"
    "  --snapshot PATH         last good table (default /var/lib/sockvs-agent/snapshot.json)\n"
    "  --status-file PATH      status for `status` (default /run/sockvs-agent/status.json)\n"
    "  --metrics-file PATH     the status in Prometheus text format (default: none)\n"
    "  --healthd-state PATH    sockvs-healthd's state file: local health wins\n"
    "                          (default /var/lib/sockvs-healthd/state; none: ignore)\n"
    "  --batch-ms N            apply changes batched over at most N ms (default 100)\n"
    "  --probe-interval S      linearizable probe of the watched member every S s (default 3)\n"
    "  --request-timeout S     timeout of one request to a member (default 5)\n"
    "  --watch-timeout S       a watch silent for S s is stalled (default: 3x the members'\n"
    "                          progress-notify interval, learned from the stream)\n"
    "  --resync S              compare the whole kernel table every S s (default 30)\n"
    "  --stale-after S         stale when the store has not answered for S s (default 10)\n"
    "  --initial-wait S        restore the snapshot if the store is not read within S s\n"
    "                          of the start (default 3)\n"
    "  --page-size N           keys per page of a listing (default 500)\n"
    "register: publish a real server under ep/SERVICE/ADDR:PORT, bound to a lease.\n"
    "  --weight N              its weight (default 1)\n"
    "  --ttl S                 the lease's TTL (default 15)\n"
    "  --drain S               on SIGTERM: weight 0 for S s, then the key goes (default 2)\n"
    "status: the running agent's state; exit 0 in sync, 3 stale or not managing, 1 not running.\n";

double now_unix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Seconds, possibly fractional: "2", "0.5".
milliseconds parse_seconds(const std::string& opt, const std::string& text) {
  double v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 0 || v > 86400) {
    throw std::invalid_argument(opt + ": expected seconds (0-86400), got '" + text + "'");
  }
  return milliseconds(static_cast<std::int64_t>(v * 1000));
}

std::int64_t parse_int(const std::string& opt, const std::string& text, std::int64_t min,
                       std::int64_t max) {
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < min || v > max) {
    throw std::invalid_argument(opt + ": expected an integer " + std::to_string(min) + "-" +
                                std::to_string(max) + ", got '" + text + "'");
  }
  return v;
}

struct Args {
  std::string command = "run";
  AgentOptions agent;
  RegisterOptions reg;
  std::string endpoints;
  std::string endpoint;
  StoreTimeouts timeouts;
  bool json = false;
};

void parse_args(int argc, char** argv, Args& a) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::size_t i = 0;
  if (!args.empty() && !args[0].starts_with("-")) {
    a.command = args[0];
    i = 1;
    if (a.command != "run" && a.command != "register" && a.command != "status") {
      throw std::invalid_argument("unknown command '" + a.command + "'");
    }
  }
  for (; i < args.size(); ++i) {
    std::string opt = args[i];
    std::string val;
    bool has_val = false;
    if (const auto eq = opt.find('='); opt.starts_with("--") && eq != std::string::npos) {
      val = opt.substr(eq + 1);
      opt.resize(eq);
      has_val = true;
    }
    const auto value = [&]() -> std::string {
      if (has_val) {
        return val;
      }
      if (i + 1 >= args.size()) {
        throw std::invalid_argument(opt + " needs a value");
      }
      return args[++i];
    };
    if (opt == "-h" || opt == "--help") {
      a.command = "help";
      return;
    }
    if (opt == "--cell") {
      a.agent.cell = a.reg.cell = value();
    } else if (opt == "--endpoints") {
      a.endpoints = value();
    } else if (opt == "--snapshot") {
      a.agent.snapshot_path = value();
    } else if (opt == "--status-file") {
      a.agent.status_path = value();
    } else if (opt == "--metrics-file") {
      a.agent.metrics_path = value();
    } else if (opt == "--healthd-state") {
      a.agent.healthd_state = value();
      if (a.agent.healthd_state == "none") {
        a.agent.healthd_state.clear();
      }
    } else if (opt == "--batch-ms") {
      a.agent.batch = milliseconds(parse_int(opt, value(), 0, 100));
    } else if (opt == "--probe-interval") {
      a.agent.probe_interval = parse_seconds(opt, value());
    } else if (opt == "--request-timeout") {
      a.timeouts.request = parse_seconds(opt, value());
      a.timeouts.connect = std::min(a.timeouts.connect, a.timeouts.request);
    } else if (opt == "--watch-timeout") {
      a.agent.watch_timeout = parse_seconds(opt, value());
    } else if (opt == "--resync") {
      a.agent.resync_interval = parse_seconds(opt, value());
    } else if (opt == "--stale-after") {
      a.agent.stale_after = parse_seconds(opt, value());
    } else if (opt == "--initial-wait") {
      a.agent.initial_wait = parse_seconds(opt, value());
    } else if (opt == "--page-size") {
      a.agent.page_size = parse_int(opt, value(), 1, 10000);
    } else if (opt == "--service") {
      a.reg.service = value();
    } else if (opt == "--endpoint") {
      a.endpoint = value();
    } else if (opt == "--weight") {
      a.reg.weight = static_cast<std::uint32_t>(parse_int(opt, value(), 0, 65535));
    } else if (opt == "--ttl") {
      a.reg.ttl = parse_int(opt, value(), 2, 86400);
    } else if (opt == "--drain") {
      a.reg.drain = parse_seconds(opt, value());
    } else if (opt == "--json") {
      a.json = true;
    } else {
      throw std::invalid_argument("unknown option '" + opt + "'");
    }
  }
  if (a.command == "status") {
    return;
  }
  if (a.agent.cell.empty()) {
    throw std::invalid_argument("--cell NAME is required");
  }
  (void)Layout(a.agent.cell);  // checks the name
  if (a.endpoints.empty()) {
    throw std::invalid_argument("--endpoints URL[,URL...] is required");
  }
  if (a.command == "register") {
    if (!valid_name(a.reg.service)) {
      throw std::invalid_argument("--service NAME is required (1-64 of [A-Za-z0-9_.-])");
    }
    if (a.endpoint.empty()) {
      throw std::invalid_argument("--endpoint ADDR:PORT is required");
    }
    const sockvs::Endpoint ep = sockvs::parse_endpoint(a.endpoint);
    if (!ep.port) {
      throw std::invalid_argument("--endpoint " + a.endpoint + ": ADDR:PORT, with a port");
    }
    a.reg.addr = ep.addr;
    a.reg.port = *ep.port;
  }
}

// "2026-11-27T21:40:01.123Z sockvs-agent[42]: warning: ..." on stderr
// (healthd's StderrLogger names sockvs-healthd).
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
    std::array<char, 32> stamp{};
    (void)std::strftime(stamp.data(), stamp.size(), "%Y-%m-%dT%H:%M:%S", &tm);
    const char* prefix = level == Level::kError     ? "error: "
                         : level == Level::kWarning ? "warning: "
                                                    : "";
    std::fprintf(stderr, "%s.%03dZ sockvs-agent[%d]: %s%s\n", stamp.data(), static_cast<int>(ms),
                 static_cast<int>(::getpid()), prefix, message.c_str());
    std::fflush(stderr);
  }
};

// Under systemd (stderr is its journal stream) priority-prefixed lines,
// else timestamped ones.
std::unique_ptr<Logger> make_logger() {
  if (healthd::is_journal_stream(std::getenv("JOURNAL_STREAM"), STDERR_FILENO)) {
    return std::make_unique<healthd::JournalLogger>();
  }
  return std::make_unique<StderrLogger>();
}

// SIGTERM, SIGINT, SIGHUP on a signalfd.
healthd::Fd signal_fd() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  if (::pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) {
    throw std::runtime_error("cannot block signals");
  }
  healthd::Fd fd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (fd.get() < 0) {
    throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));
  }
  return fd;
}

int read_signal(int fd) {
  signalfd_siginfo si{};
  if (::read(fd, &si, sizeof si) != static_cast<ssize_t>(sizeof si)) {
    return 0;
  }
  return static_cast<int>(si.ssi_signo);
}

// The owner of the netlink connection and the table over it.
class ClientKernelTable final : public KernelTable {
 public:
  ClientKernelTable() : table_(client_) {}
  ByLabel read(const std::optional<std::set<std::string>>& only) override {
    return table_.read(only);
  }
  ApplyResult apply(const ByLabel& current, const ByLabel& target,
                    const std::set<std::string>& scope) override {
    return table_.apply(current, target, scope);
  }

 private:
  sockvs::Client client_;
  ApiKernelTable table_;
};

int run_agent(Args& a) {
  auto log = make_logger();
  (void)std::signal(SIGPIPE, SIG_IGN);
  const healthd::Fd sigfd = signal_fd();
  EtcdStore store(parse_endpoints(a.endpoints), a.timeouts);
  HealthSource health;
  if (!a.agent.healthd_state.empty()) {
    health = healthd_state_source(a.agent.healthd_state, *log);
  }
  std::string eps;
  for (std::size_t i = 0; i < store.size(); ++i) {
    eps += (i == 0 ? "" : ",") + store.endpoint(i);
  }
  log->log(Level::kInfo,
           "starting: cell " + a.agent.cell + ", endpoints " + eps + ", snapshot " +
               a.agent.snapshot_path +
               (a.agent.healthd_state.empty() ? std::string(", local health ignored")
                                              : ", local health from " + a.agent.healthd_state));
  Agent agent(
      a.agent, store, [] { return std::make_unique<ClientKernelTable>(); }, std::move(health),
      *log);
  agent.start(Clock::now());
  std::uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  bool ready = false;
  Clock::time_point next_ping{};
  std::string last_state;
  for (;;) {
    const milliseconds wait = agent.step(Clock::now());
    const auto now = Clock::now();
    if (!ready && agent.ready()) {
      (void)sd_notify(0, "READY=1");
      ready = true;
    }
    if (now >= next_ping) {
      const Status st = agent.status(now);
      const std::string state = "STATUS=" + st.state + ", revision " +
                                std::to_string(st.applied_revision) + ", " +
                                std::to_string(st.services) + " services";
      if (state != last_state) {
        (void)sd_notify(0, state.c_str());
        last_state = state;
      }
      if (watchdog) {
        (void)sd_notify(0, "WATCHDOG=1");
      }
      next_ping = now + std::chrono::seconds(1);
    }
    const WatchPoll poll = store.poll(wait, sigfd.get());
    agent.on_poll(poll, Clock::now());
    if (poll.fd_ready) {
      const int sig = read_signal(sigfd.get());
      if (sig == SIGTERM || sig == SIGINT) {
        (void)sd_notify(0, "STOPPING=1");
        log->log(Level::kInfo,
                 std::string("stopping (") + strsignal(sig) + "): the table stays in the kernel");
        break;
      }
      if (sig == SIGHUP) {
        log->log(Level::kInfo, "SIGHUP: listing the prefix again");
        agent.relist();
      }
    }
  }
  agent.stop(Clock::now());
  return kExitOk;
}

int run_register(Args& a) {
  auto log = make_logger();
  (void)std::signal(SIGPIPE, SIG_IGN);
  const healthd::Fd sigfd = signal_fd();
  EtcdStore store(parse_endpoints(a.endpoints), a.timeouts);
  etcd::WatchStream waiter;  // only its poll(), on the signalfd
  Registrar reg(a.reg, store, *log);
  bool announced = false;
  for (;;) {
    const milliseconds wait = reg.step(Clock::now());
    if (!announced && reg.lease() != 0) {
      std::cout << "REGISTERED " << reg.key() << " lease " << reg.lease() << std::endl;
      (void)sd_notify(0, "READY=1");
      announced = true;
    }
    if (waiter.wait(std::min(wait, milliseconds(1000)), sigfd.get())) {
      const int sig = read_signal(sigfd.get());
      if (sig == SIGTERM || sig == SIGINT) {
        (void)sd_notify(0, "STOPPING=1");
        break;
      }
    }
  }
  reg.drain();
  const auto until = Clock::now() + a.reg.drain;
  while (Clock::now() < until) {
    const milliseconds wait = reg.step(Clock::now());
    const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now());
    if (waiter.wait(std::min(wait, left), sigfd.get())) {
      const int sig = read_signal(sigfd.get());
      if (sig == SIGTERM || sig == SIGINT) {
        break;  // a second signal: no more draining
      }
    }
  }
  reg.revoke();
  return kExitOk;
}

int run_status(const Args& a) {
  std::ifstream in(a.agent.status_path);
  if (!in) {
    std::cerr << "sockvs-agent: no status at " << a.agent.status_path
              << " (is sockvs-agent running?)\n";
    return kExitFailure;
  }
  std::ostringstream text;
  text << in.rdbuf();
  Status st;
  try {
    st = parse_status_json(text.str());
  } catch (const std::exception& e) {
    std::cerr << "sockvs-agent: " << a.agent.status_path << ": " << e.what() << "\n";
    return kExitFailure;
  }
  const double now = now_unix();
  const bool running = st.pid > 0 && (::kill(st.pid, 0) == 0 || errno == EPERM) &&
                       st.state != "stopped" && now - st.updated < 10;
  if (a.json) {
    std::cout << text.str();
  } else {
    std::cout << format_status_text(st, now);
    if (!running) {
      std::cout << "running: no (the status is " << static_cast<long>(now - st.updated)
                << "s old)\n";
    }
  }
  if (!running) {
    return kExitFailure;
  }
  return st.state == "watching" && !st.stale ? kExitOk : kExitStale;
}

int run(int argc, char** argv) {
  Args a;
  try {
    parse_args(argc, argv, a);
  } catch (const std::invalid_argument& e) {
    std::cerr << "sockvs-agent: " << e.what() << "\n" << kUsage;
    return kExitUsage;
  }
  if (a.command == "help") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (a.command == "status") {
    return run_status(a);
  }
  try {
    if (a.command == "register") {
      return run_register(a);
    }
    return run_agent(a);
  } catch (const std::invalid_argument& e) {
    std::cerr << "sockvs-agent: " << e.what() << "\n";
    return kExitUsage;
  }
}

}  // namespace
}  // namespace agent

int main(int argc, char** argv) {
  try {
    return agent::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "sockvs-agent: " << e.what() << "\n";
    return 1;
  }
}
