// sockvs-healthd at scale (issue 15): its event loop, checks and engine,
// exactly as the daemon runs them (healthd::Daemon), against N real TCP
// servers on loopback, with an in-memory module instead of netlink (the
// host has no sock_vs module; see bench/healthd_scale.sh).
//
//   phase 1: N listening servers (a child process accepts and closes);
//            the daemon's CPU time (getrusage: user + system) over the
//            measured window, as a share of one core.
//   phase 2: every server black-holed at once (SYNs dropped: an nftables
//            rule in this network namespace, run by the caller's command);
//            how long until each one is quiesced (weight 0 in the module),
//            against fall x interval + timeout.
//
//   healthd_scale [--servers N] [--interval MS] [--timeout MS] [--fall N]
//                 [--warmup S] [--measure S] --blackhole 'COMMAND'
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "daemon.h"
#include "sockvs/client.h"
#include "sockvs/error.h"

namespace {

using healthd::Clock;

constexpr std::uint16_t kBasePort = 20000;

// The module, in memory: one service, N real servers; remembers when each
// was first set to weight 0.
struct Module {
  sockvs::Service svc;
  std::vector<sockvs::RealServer> dests;
  std::map<std::uint16_t, Clock::time_point> zeroed;
  unsigned dumps = 0;
  unsigned edits = 0;
};

class MemApi final : public sockvs::Api {
 public:
  explicit MemApi(Module& m) : m_(m) {}
  void add_service(const sockvs::Service&) override { no(); }
  void edit_service(const sockvs::Service&) override { no(); }
  std::uint32_t del_service(const sockvs::ServiceKey&) override { no(); }
  sockvs::Service get_service(const sockvs::ServiceKey&) override { return m_.svc; }
  std::vector<sockvs::Service> list_services() override { return {m_.svc}; }
  void add_dest(const sockvs::ServiceKey&, const sockvs::RealServer&) override { no(); }
  void edit_dest(const sockvs::ServiceKey&, const sockvs::RealServer& d) override {
    ++m_.edits;
    for (auto& x : m_.dests) {
      if (x.port == d.port) {
        x.weight = d.weight;
        if (d.weight == 0) {
          m_.zeroed.try_emplace(d.port, Clock::now());
        }
        return;
      }
    }
    throw sockvs::Error(ENOENT, "no such real server");
  }
  std::uint32_t del_dest(const sockvs::ServiceKey&, const sockvs::RealServer&) override { no(); }
  std::vector<sockvs::RealServer> list_dests(const sockvs::ServiceKey&) override {
    ++m_.dumps;
    return m_.dests;
  }
  std::uint32_t flush() override { no(); }
  std::uint32_t kill(const sockvs::ServiceKey&, const std::optional<sockvs::RealServer>&,
                     std::optional<sockvs::Terminate>) override {
    return 0;
  }
  void zero(const std::optional<sockvs::ServiceKey>&) override { no(); }
  sockvs::Info info() override { return {}; }

 private:
  [[noreturn]] static void no() { throw sockvs::Error(EOPNOTSUPP, "not in the bench"); }
  Module& m_;
};

class Quiet final : public healthd::Logger {
 public:
  void log(healthd::Level level, const std::string& message) override {
    if (level == healthd::Level::kError && errors_++ < 5) {
      std::fprintf(stderr, "healthd error: %s\n", message.c_str());
    }
  }

 private:
  unsigned errors_ = 0;
};

void raise_nofile() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0) {
    r.rlim_cur = r.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &r);
  }
}

// The real servers: N listeners that accept and close, in a child process
// (its CPU time is not the daemon's).
pid_t start_servers(unsigned n) {
  const pid_t pid = ::fork();
  if (pid != 0) {
    return pid;
  }
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (unsigned i = 0; i < n; ++i) {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(kBasePort + i));
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(s, 512) != 0) {
      std::perror("bench server: bind/listen");
      ::_exit(1);
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = s;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  }
  epoll_event evs[256];
  for (;;) {
    const int k = ::epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < k; ++i) {
      for (;;) {
        const int c = ::accept4(evs[i].data.fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) {
          break;
        }
        ::close(c);
      }
    }
  }
}

double user_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6;
}

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The floor: the same TCP connects (one per server per interval, spread
// evenly, closed with a reset once connected) from a bare epoll loop with
// no health-check logic at all.  What any checker pays the kernel.
double floor_share(unsigned servers, unsigned interval_ms, unsigned seconds) {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  const auto period = std::chrono::microseconds(1000LL * interval_ms / servers);
  const auto start = Clock::now();
  const double cpu0 = cpu_seconds();
  auto next = start;
  unsigned i = 0;
  while (Clock::now() - start < std::chrono::seconds(seconds)) {
    const auto now = Clock::now();
    while (next <= now) {
      const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<std::uint16_t>(kBasePort + (i++ % servers)));
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
      (void)::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.fd = s;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
      next += period;
    }
    epoll_event evs[64];
    const auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
    const int k = ::epoll_wait(ep, evs, 64, static_cast<int>(std::max<long long>(wait_ms, 0)));
    for (int j = 0; j < k; ++j) {
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(evs[j].data.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      const linger l{1, 0};
      ::setsockopt(evs[j].data.fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
      ::close(evs[j].data.fd);
    }
  }
  ::close(ep);
  return (cpu_seconds() - cpu0) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned servers = 1000;
  unsigned interval_ms = 1000;
  unsigned timeout_ms = 1000;
  unsigned fall = 3;
  unsigned warmup = 5;
  unsigned measure = 30;
  std::string blackhole;
  bool floor = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const char* v = argv[i + 1];
    if (a == "--servers") {
      servers = static_cast<unsigned>(std::atoi(v));
    } else if (a == "--interval") {
      interval_ms = static_cast<unsigned>(std::atoi(v));
    } else if (a == "--timeout") {
      timeout_ms = static_cast<unsigned>(std::atoi(v));
    } else if (a == "--fall") {
      fall = static_cast<unsigned>(std::atoi(v));
    } else if (a == "--warmup") {
      warmup = static_cast<unsigned>(std::atoi(v));
    } else if (a == "--measure") {
      measure = static_cast<unsigned>(std::atoi(v));
    } else if (a == "--blackhole") {
      blackhole = v;
    } else if (a == "--floor") {
      floor = std::string(v) == "yes";
    } else {
      std::fprintf(stderr, "healthd_scale: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  raise_nofile();
  const pid_t child = start_servers(servers);
  ::usleep(300 * 1000);  // the listeners are up

  Module m;
  m.svc.addr = *sockvs::Address::parse("10.255.0.1");
  m.svc.port = 80;
  m.svc.sched_name = "rr";
  for (unsigned i = 0; i < servers; ++i) {
    sockvs::RealServer d;
    d.addr = *sockvs::Address::parse("127.0.0.1");
    d.port = static_cast<std::uint16_t>(kBasePort + i);
    d.weight = 1;
    m.dests.push_back(d);
  }
  char dir[] = "/tmp/healthd-scale-XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  std::ostringstream conf;
  conf << "state-file " << dir << "/state\ninterval " << interval_ms << "ms\ntimeout " << timeout_ms
       << "ms\nfall " << fall << "\nrise 2\nmin-up 0\nservice -t 10.255.0.1:80\n"
       << "  check tcp\n";
  std::istringstream in(conf.str());
  healthd::Config cfg = healthd::parse_config(in, "bench.conf");
  Quiet log;
  healthd::DaemonOptions opts;
  opts.engine.deferred_saves = true;
  healthd::Daemon daemon(
      std::move(cfg), [&m] { return std::make_unique<MemApi>(m); }, log, opts);
  daemon.engine().load();

  // The phases, driven by a 100 ms timer in the daemon's own loop.
  const auto t0 = Clock::now();
  const auto t_measure = t0 + std::chrono::seconds(warmup);
  const auto t_blackhole = t_measure + std::chrono::seconds(measure);
  const auto bound = std::chrono::milliseconds(fall * interval_ms + timeout_ms);
  const auto t_end = t_blackhole + bound + std::chrono::seconds(10);
  double cpu0 = 0;
  double cpu1 = 0;
  double user0 = 0;
  double user1 = 0;
  std::uint64_t checks0 = 0;
  std::uint64_t checks1 = 0;
  unsigned dumps0 = 0;
  unsigned dumps1 = 0;
  std::size_t peak_running = 0;
  unsigned down_before = 0;
  int phase = 0;
  Clock::time_point t_bh{};
  const auto checks = [&] {
    std::uint64_t n = 0;
    for (const auto& t : daemon.engine().targets()) {
      n += t.passed + t.failed;
    }
    return n;
  };
  const int tfd = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  itimerspec its{};
  its.it_value.tv_nsec = 100 * 1000 * 1000;
  its.it_interval.tv_nsec = 100 * 1000 * 1000;
  ::timerfd_settime(tfd, 0, &its, nullptr);
  daemon.loop().add(tfd, EPOLLIN, [&](std::uint32_t) {
    std::uint64_t x = 0;
    (void)!::read(tfd, &x, sizeof(x));
    const auto now = Clock::now();
    peak_running = std::max(peak_running, daemon.runner().running());
    if (phase == 0 && now >= t_measure) {
      cpu0 = cpu_seconds();
      user0 = user_seconds();
      checks0 = checks();
      dumps0 = m.dumps;
      phase = 1;
    } else if (phase == 1 && now >= t_blackhole) {
      cpu1 = cpu_seconds();
      user1 = user_seconds();
      checks1 = checks();
      dumps1 = m.dumps;
      down_before = static_cast<unsigned>(m.zeroed.size());
      if (std::system(blackhole.c_str()) != 0) {
        std::fprintf(stderr, "healthd_scale: the black-hole command failed: %s\n",
                     blackhole.c_str());
      }
      t_bh = Clock::now();
      phase = 2;
    } else if (phase == 2 && (m.zeroed.size() >= servers || now >= t_end)) {
      daemon.stop();
    }
  });
  daemon.run(-1);
  daemon.loop().remove(tfd);
  ::close(tfd);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);

  double floor_pct = -1;
  if (floor) {
    const pid_t again = start_servers(servers);
    ::usleep(300 * 1000);
    floor_pct = 100.0 * floor_share(servers, interval_ms, measure);
    ::kill(again, SIGKILL);
    ::waitpid(again, nullptr, 0);
  }
  const double wall = static_cast<double>(measure);
  const double share = (cpu1 - cpu0) / wall;
  std::printf("servers %u, interval %u ms, timeout %u ms, fall %u (check tcp)\n", servers,
              interval_ms, timeout_ms, fall);
  std::printf(
      "phase 1 (%u s after %u s warm-up): CPU %.3f s (user %.3f s, system %.3f s) = %.2f%% "
      "of one core; %.0f checks/s; %.2f snapshots/s; %u servers quiesced while up\n",
      measure, warmup, cpu1 - cpu0, user1 - user0, (cpu1 - cpu0) - (user1 - user0), 100.0 * share,
      static_cast<double>(checks1 - checks0) / wall, static_cast<double>(dumps1 - dumps0) / wall,
      down_before);
  if (floor) {
    std::printf(
        "floor (the same connects from a bare epoll loop, no checker logic): %.2f%% of one "
        "core\n",
        floor_pct);
  }
  std::vector<double> delays;
  for (const auto& [port, t] : m.zeroed) {
    if (t >= t_bh) {
      delays.push_back(secs(t - t_bh));
    }
  }
  std::sort(delays.begin(), delays.end());
  const double limit = secs(bound);
  const auto within = static_cast<unsigned>(
      std::count_if(delays.begin(), delays.end(), [&](double d) { return d <= limit; }));
  std::printf(
      "phase 2 (black hole): %zu/%u quiesced, %u within fall x interval + timeout = "
      "%.3f s; delay min %.3f s, median %.3f s, max %.3f s; peak %zu checks running\n",
      delays.size(), servers, within, limit, delays.empty() ? 0.0 : delays.front(),
      delays.empty() ? 0.0 : delays[delays.size() / 2], delays.empty() ? 0.0 : delays.back(),
      peak_running);
  std::printf(
      "RESULT cpu_share_percent=%.2f floor_percent=%.2f detected=%zu/%u within_bound=%u "
      "max_delay_s=%.3f "
      "bound_s=%.3f\n",
      100.0 * share, floor_pct, delays.size(), servers, within,
      delays.empty() ? 0.0 : delays.back(), limit);
  const std::string rm = std::string("rm -rf ") + dir;
  (void)std::system(rm.c_str());
  return (share < 0.05 && within == servers && down_before == 0) ? 0 : 1;
}
