// feedback_load: a closed-loop redis PING load generator that counts every
// failed connect and times every request, for the passive-health / p2c
// benchmark (bench/guest/feedback.py, issue 18).
//
//   feedback_load connect|pool CONC N ADDR:PORT [TIMEOUT_MS]
//
// CONC requests in flight at all times (one thread, epoll, non-blocking
// sockets) until N requests have been issued; each request is "PING\r\n",
// answered by "+PONG\r\n".
//   connect  a new connection per request (redis-benchmark -k 0): socket(),
//            connect(), PING, PONG, close().  A failed connect (refused,
//            reset, timed out) fails its request; the slot goes on with the
//            next one.  Latency: from socket() to the reply, connect
//            included (what the application waits).
//   pool     CONC connections opened at the start and kept (-k 1); a failed
//            connect is retried at once (a pool that reconnects), counted,
//            and its time is part of the waiting request's latency; a
//            connection that breaks fails its request and is reopened.
//            A request fails after 100 failed connects in a row.
// TIMEOUT_MS (default 5000): a connect or reply not done by then fails.
//
// The client's local address tells which real server a connection went to
// (the benchmark gives every server its own link and subnet), so requests
// and failures are also counted per local address.
//
// Prints one line of "key value" pairs:
//   mode M conc C requests N ok K failed_requests F connects X
//   failed_connects Y refused R reset S timeout T other O seconds S rps R
//   p50_us p90_us p99_us p999_us max_us mean_us connect_p50_us connect_p99_us
// then one line per local address:
//   local A requests N ok K failed_connects Y p50_us p99_us
// Exit 0 if the run completed (failures are results, not errors).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

double now_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

bool parse_endpoint(const std::string& s, sockaddr_in& out) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) {
    return false;
  }
  out = {};
  out.sin_family = AF_INET;
  if (inet_pton(AF_INET, s.substr(0, colon).c_str(), &out.sin_addr) != 1) {
    return false;
  }
  char* end = nullptr;
  const long port = std::strtol(s.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535) {
    return false;
  }
  out.sin_port = htons(static_cast<uint16_t>(port));
  return true;
}

enum class St { kIdle, kConnecting, kReading };

struct Slot {
  int fd = -1;
  St st = St::kIdle;
  double req_t0 = 0;      // request issued
  double conn_t0 = 0;     // this connect attempt started
  double deadline = 0;
  uint32_t local = 0;     // local IPv4 (network order) of the connection
  int conn_fails = 0;     // failed connects in a row for the waiting request
  bool has_req = false;   // a request is waiting on this slot
  std::string buf;
};

struct PerLocal {
  long requests = 0, ok = 0, failed_connects = 0;
  std::vector<double> lat;
};

struct Stats {
  long issued = 0, ok = 0, failed_requests = 0, connects = 0, failed_connects = 0;
  long refused = 0, reset = 0, timeout = 0, other = 0;
  std::vector<double> lat, conn_lat;
  std::map<uint32_t, PerLocal> per;
};

double pct(std::vector<double>& v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  auto i = static_cast<size_t>(p * static_cast<double>(v.size()));  // nearest rank
  if (i >= v.size()) {
    i = v.size() - 1;
  }
  return v[i];
}

class Load {
 public:
  Load(bool pool, int conc, long n, sockaddr_in dest, double timeout_us)
      : pool_(pool), n_(n), dest_(dest), timeout_us_(timeout_us), slots_(static_cast<size_t>(conc)) {
    ep_ = epoll_create1(0);
    if (ep_ < 0) {
      std::perror("epoll_create1");
      std::exit(1);
    }
  }

  int run() {
    const double t0 = now_us();
    for (size_t i = 0; i < slots_.size(); i++) {
      next_request(i);
    }
    std::vector<epoll_event> evs(slots_.size() + 1);
    while (active() > 0) {
      const int k = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 50);
      if (k < 0 && errno != EINTR) {
        std::perror("epoll_wait");
        return 1;
      }
      for (int j = 0; j < k; j++) {
        handle(evs[static_cast<size_t>(j)].data.u32);
      }
      const double now = now_us();
      for (size_t i = 0; i < slots_.size(); i++) {
        Slot& s = slots_[i];
        if (s.st != St::kIdle && now > s.deadline) {
          if (s.st == St::kConnecting) {
            connect_failed(i, ETIMEDOUT);
          } else {
            request_failed(i, ETIMEDOUT);
          }
        }
      }
    }
    const double secs = (now_us() - t0) / 1e6;
    report(secs);
    return 0;
  }

 private:
  [[nodiscard]] long active() const {
    long a = 0;
    for (const Slot& s : slots_) {
      a += s.has_req ? 1 : 0;
    }
    return a;
  }

  PerLocal& per(uint32_t local) { return st_.per[local]; }

  void drop_fd(Slot& s) {
    if (s.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, s.fd, nullptr);
      close(s.fd);
    }
    s.fd = -1;
    s.st = St::kIdle;
    s.buf.clear();
  }

  // Issue the slot's next request, if any are left.
  void next_request(size_t i) {
    Slot& s = slots_[i];
    s.has_req = false;
    if (st_.issued >= n_) {
      drop_fd(s);
      return;
    }
    st_.issued++;
    s.has_req = true;
    s.req_t0 = now_us();
    s.conn_fails = 0;
    if (s.fd >= 0 && pool_) {
      send_ping(i);
    } else {
      start_connect(i);
    }
  }

  void start_connect(size_t i) {
    Slot& s = slots_[i];
    drop_fd(s);
    s.conn_t0 = now_us();
    s.deadline = s.conn_t0 + timeout_us_;
    st_.connects++;
    s.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) {
      std::perror("socket");
      std::exit(1);
    }
    s.st = St::kConnecting;
    const int r = connect(s.fd, reinterpret_cast<const sockaddr*>(&dest_), sizeof(dest_));
    const int err = r == 0 ? 0 : errno;
    sockaddr_in la{};
    socklen_t ll = sizeof(la);
    s.local = getsockname(s.fd, reinterpret_cast<sockaddr*>(&la), &ll) == 0 ? la.sin_addr.s_addr : 0;
    if (r != 0 && err != EINPROGRESS) {
      connect_failed(i, err);
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u32 = static_cast<uint32_t>(i);
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, s.fd, &ev) != 0) {
      std::perror("epoll_ctl");
      std::exit(1);
    }
  }

  void count_error(int err) {
    switch (err) {
      case ECONNREFUSED: st_.refused++; break;
      case ECONNRESET: st_.reset++; break;
      case ETIMEDOUT: st_.timeout++; break;
      default: st_.other++; break;
    }
  }

  void connect_failed(size_t i, int err) {
    Slot& s = slots_[i];
    st_.failed_connects++;
    per(s.local).failed_connects++;
    count_error(err);
    drop_fd(s);
    s.conn_fails++;
    if (pool_ && s.conn_fails < 100) {
      start_connect(i);   // the pool reconnects; the request keeps waiting
      return;
    }
    per(s.local).requests++;
    st_.failed_requests++;
    next_request(i);
  }

  void request_failed(size_t i, int err) {
    Slot& s = slots_[i];
    per(s.local).requests++;
    st_.failed_requests++;
    if (err == ETIMEDOUT) {
      st_.timeout++;
    }
    drop_fd(s);
    next_request(i);
  }

  void send_ping(size_t i) {
    Slot& s = slots_[i];
    static const char kPing[] = "PING\r\n";
    const ssize_t w = send(s.fd, kPing, sizeof(kPing) - 1, MSG_NOSIGNAL);
    if (w != static_cast<ssize_t>(sizeof(kPing) - 1)) {
      request_failed(i, errno);
      return;
    }
    s.st = St::kReading;
    s.deadline = now_us() + timeout_us_;
    s.buf.clear();
  }

  void handle(uint32_t i) {
    Slot& s = slots_[i];
    if (s.fd < 0) {
      return;
    }
    if (s.st == St::kConnecting) {
      int err = 0;
      socklen_t el = sizeof(err);
      if (getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) {
        err = errno;
      }
      if (err != 0) {
        connect_failed(i, err);
        return;
      }
      st_.conn_lat.push_back(now_us() - s.conn_t0);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = i;
      epoll_ctl(ep_, EPOLL_CTL_MOD, s.fd, &ev);
      send_ping(i);
      return;
    }
    if (s.st != St::kReading) {
      return;
    }
    char b[256];
    const ssize_t r = recv(s.fd, b, sizeof(b), 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
      return;
    }
    if (r <= 0) {
      request_failed(i, r == 0 ? ECONNRESET : errno);
      return;
    }
    s.buf.append(b, static_cast<size_t>(r));
    if (s.buf.find("\r\n") == std::string::npos) {
      return;
    }
    if (s.buf.rfind("+PONG", 0) != 0) {
      request_failed(i, EPROTO);
      return;
    }
    const double lat = now_us() - s.req_t0;
    st_.ok++;
    st_.lat.push_back(lat);
    PerLocal& p = per(s.local);
    p.requests++;
    p.ok++;
    p.lat.push_back(lat);
    s.buf.clear();
    if (!pool_) {
      drop_fd(s);
    } else {
      s.st = St::kIdle;   // keeps its fd
    }
    next_request(i);
  }

  void report(double secs) {
    // Sorted once before the arguments are read (their order is unspecified).
    std::sort(st_.lat.begin(), st_.lat.end());
    const double max_us = st_.lat.empty() ? 0.0 : st_.lat.back();
    std::printf(
        "mode %s conc %zu requests %ld ok %ld failed_requests %ld connects %ld failed_connects %ld "
        "refused %ld reset %ld timeout %ld other %ld seconds %.3f rps %.1f p50_us %.0f p90_us %.0f "
        "p99_us %.0f p999_us %.0f max_us %.0f mean_us %.0f connect_p50_us %.0f connect_p99_us %.0f\n",
        pool_ ? "pool" : "connect", slots_.size(), st_.issued, st_.ok, st_.failed_requests, st_.connects,
        st_.failed_connects, st_.refused, st_.reset, st_.timeout, st_.other, secs,
        static_cast<double>(st_.ok) / secs, pct(st_.lat, 0.50), pct(st_.lat, 0.90), pct(st_.lat, 0.99),
        pct(st_.lat, 0.999), max_us, mean(st_.lat), pct(st_.conn_lat, 0.50),
        pct(st_.conn_lat, 0.99));
    for (auto& [addr, p] : st_.per) {
      char a[INET_ADDRSTRLEN] = "0.0.0.0";
      in_addr ia{};
      ia.s_addr = addr;
      inet_ntop(AF_INET, &ia, a, sizeof(a));
      std::printf("local %s requests %ld ok %ld failed_connects %ld p50_us %.0f p99_us %.0f\n", a, p.requests,
                  p.ok, p.failed_connects, pct(p.lat, 0.50), pct(p.lat, 0.99));
    }
  }

  static double mean(const std::vector<double>& v) {
    double s = 0;
    for (const double x : v) {
      s += x;
    }
    return v.empty() ? 0 : s / static_cast<double>(v.size());
  }

  bool pool_;
  long n_;
  sockaddr_in dest_;
  double timeout_us_;
  std::vector<Slot> slots_;
  Stats st_;
  int ep_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6) {
    std::fprintf(stderr, "usage: feedback_load connect|pool CONC N ADDR:PORT [TIMEOUT_MS]\n");
    return 2;
  }
  const std::string mode = argv[1];
  const int conc = std::atoi(argv[2]);
  const long n = std::atol(argv[3]);
  sockaddr_in dest{};
  if ((mode != "connect" && mode != "pool") || conc <= 0 || n <= 0 || !parse_endpoint(argv[4], dest)) {
    std::fprintf(stderr, "feedback_load: bad arguments\n");
    return 2;
  }
  const double timeout_ms = argc == 6 ? std::atof(argv[5]) : 5000.0;
  Load load(mode == "pool", conc, n, dest, timeout_ms * 1000.0);
  return load.run();
}
