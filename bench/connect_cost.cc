// connect_cost: how many TCP connections per second a client can open and
// close, for the sock_vs benchmarks (bench/).
//
//   connect_cost serve PORT [THREADS]
//       listen on 0.0.0.0:PORT; THREADS threads (default 1) accept and close.
//       Prints "READY" once listening.
//   connect_cost connect THREADS SECONDS ADDR:PORT [ADDR:PORT...]
//       THREADS threads, each: socket(), connect() (blocking), close() with
//       SO_LINGER 0 (an RST: no TIME_WAIT, so the local ports never run out),
//       for SECONDS; thread i starts at address i and cycles through them.
//       Prints one line: "connects N seconds S rate R errors E p50_us P p99_us Q"
//       (P, Q: percentiles of the time one connect() took, all threads).
//       Exit 1 if no connect succeeded or more than 1% failed.
//
//   connect_cost userve PORT
//       UDP echo on 0.0.0.0:PORT.  Prints "READY" once bound.
//   connect_cost micro OP N [ADDR:PORT]
//       N operations of one kind, timed with CLOCK_MONOTONIC (guest
//       instructions under QEMU -icount); prints "op OP n N ns_per_op X".
//       OP: udp (unconnected sendto() + recvfrom() with the address, between
//       two loopback sockets), tcp (connect + accept + close with RST on
//       loopback), getpeername, getsockname (on a loopback TCP connection),
//       udpconn (send() + recv() on a UDP socket connected to ADDR:PORT, a
//       userve: balanced when ADDR is a virtual address), udpunconn
//       (sendto(ADDR:PORT) + recvfrom() on an unconnected UDP socket: balanced
//       when ADDR is a virtual address of an --unconnected service).
//
// IPv4 only (the benchmarks use IPv4).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

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

int usage() {
  std::fprintf(stderr,
               "usage: connect_cost serve PORT [THREADS]\n"
               "       connect_cost connect THREADS SECONDS ADDR:PORT [ADDR:PORT...]\n"
               "       connect_cost userve PORT\n"
               "       connect_cost micro udp|tcp|getpeername|getsockname|udpconn|udpunconn N "
               "[ADDR:PORT]\n");
  return 2;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

const sockaddr* as_sa(const sockaddr_in& sa) { return reinterpret_cast<const sockaddr*>(&sa); }

// A socket bound to 127.0.0.1 (port 0: any); its address in *out.
Fd bound(int type, sockaddr_in* out) {
  Fd s(socket(AF_INET, type, 0));
  sockaddr_in sa = loopback(0);
  socklen_t len = sizeof(sa);
  if (!s.ok() || bind(s.get(), as_sa(sa), sizeof(sa)) != 0 ||
      getsockname(s.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    std::perror("socket/bind");
    std::exit(1);
  }
  *out = sa;
  return s;
}

int userve(int port) {
  const Fd s(socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_ANY);
  if (!s.ok() || bind(s.get(), as_sa(sa), sizeof(sa)) != 0) {
    std::perror("userve: socket/bind");
    return 1;
  }
  std::printf("READY\n");
  std::fflush(stdout);
  char buf[2048];
  for (;;) {
    sockaddr_in from{};
    socklen_t len = sizeof(from);
    const ssize_t n = recvfrom(s.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n >= 0) {
      sendto(s.get(), buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }
}

double now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

// N operations of kind op; returns nanoseconds per operation.
double micro(const std::string& op, long n, const sockaddr_in* dest) {
  char buf[64] = "sock_vs micro";
  const size_t len = 32;
  sockaddr_in a_addr{};
  sockaddr_in b_addr{};
  if (op == "udp") {
    const Fd a = bound(SOCK_DGRAM, &a_addr);
    const Fd b = bound(SOCK_DGRAM, &b_addr);
    const double t = now_ns();
    for (long i = 0; i < n; i++) {
      sockaddr_in from{};
      socklen_t fl = sizeof(from);
      if (sendto(a.get(), buf, len, 0, as_sa(b_addr), sizeof(b_addr)) != static_cast<ssize_t>(len) ||
          recvfrom(b.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &fl) < 0) {
        die("udp");
      }
    }
    return (now_ns() - t) / static_cast<double>(n);
  }
  if (op == "tcp") {
    const Fd l = bound(SOCK_STREAM, &a_addr);
    if (listen(l.get(), 128) != 0) {
      die("listen");
    }
    const linger lin{1, 0};
    const double t = now_ns();
    for (long i = 0; i < n; i++) {
      const Fd c(socket(AF_INET, SOCK_STREAM, 0));
      setsockopt(c.get(), SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
      if (connect(c.get(), as_sa(a_addr), sizeof(a_addr)) != 0) {
        die("connect");
      }
      const Fd s(accept(l.get(), nullptr, nullptr));
      if (!s.ok()) {
        die("accept");
      }
    }
    return (now_ns() - t) / static_cast<double>(n);
  }
  if (op == "getpeername" || op == "getsockname") {
    const Fd l = bound(SOCK_STREAM, &a_addr);
    const Fd c(socket(AF_INET, SOCK_STREAM, 0));
    if (listen(l.get(), 1) != 0 || connect(c.get(), as_sa(a_addr), sizeof(a_addr)) != 0) {
      die("listen/connect");
    }
    const Fd s(accept(l.get(), nullptr, nullptr));
    const bool peer = op == "getpeername";
    const double t = now_ns();
    for (long i = 0; i < n; i++) {
      sockaddr_in got{};
      socklen_t gl = sizeof(got);
      const int r = peer ? getpeername(c.get(), reinterpret_cast<sockaddr*>(&got), &gl)
                         : getsockname(c.get(), reinterpret_cast<sockaddr*>(&got), &gl);
      if (r != 0) {
        die(op.c_str());
      }
    }
    return (now_ns() - t) / static_cast<double>(n);
  }
  if (op == "udpconn" && dest != nullptr) {
    const Fd u(socket(AF_INET, SOCK_DGRAM, 0));
    timeval tv{5, 0};
    setsockopt(u.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (!u.ok() || connect(u.get(), as_sa(*dest), sizeof(*dest)) != 0) {
      die("udpconn connect");
    }
    const double t = now_ns();
    for (long i = 0; i < n; i++) {
      if (send(u.get(), buf, len, 0) != static_cast<ssize_t>(len) || recv(u.get(), buf, sizeof(buf), 0) < 0) {
        die("udpconn");
      }
    }
    return (now_ns() - t) / static_cast<double>(n);
  }
  if (op == "udpunconn" && dest != nullptr) {
    const Fd u(socket(AF_INET, SOCK_DGRAM, 0));
    timeval tv{5, 0};
    setsockopt(u.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (!u.ok()) {
      die("udpunconn socket");
    }
    const double t = now_ns();
    for (long i = 0; i < n; i++) {
      sockaddr_in from{};
      socklen_t fl = sizeof(from);
      if (sendto(u.get(), buf, len, 0, as_sa(*dest), sizeof(*dest)) != static_cast<ssize_t>(len) ||
          recvfrom(u.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &fl) < 0) {
        die("udpunconn");
      }
      if (from.sin_addr.s_addr != dest->sin_addr.s_addr || from.sin_port != dest->sin_port) {
        std::fprintf(stderr, "udpunconn: reply from another address than %s\n", "the destination");
        std::exit(1);
      }
    }
    return (now_ns() - t) / static_cast<double>(n);
  }
  std::exit(usage());
}

int serve(int port, int threads) {
  const Fd lfd(socket(AF_INET, SOCK_STREAM, 0));
  if (!lfd.ok()) {
    std::perror("socket");
    return 1;
  }
  const int one = 1;
  setsockopt(lfd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(lfd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0 ||
      listen(lfd.get(), 4096) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  std::printf("READY\n");
  std::fflush(stdout);
  std::vector<std::jthread> workers;
  workers.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; i++) {
    workers.emplace_back([fd = lfd.get()] {
      for (;;) {
        const Fd c(accept(fd, nullptr, nullptr));
        if (!c.ok() && errno != EINTR && errno != ECONNABORTED && errno != EMFILE) {
          std::perror("accept");
          std::exit(1);
        }
      }
    });
  }
  return 0;  // not reached: the workers never return
}

struct Counts {
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed{0};
  std::mutex lock;
  std::vector<double> us;  // every successful connect's duration
};

void connect_loop(const std::vector<sockaddr_in>& dests, size_t first,
                  const std::atomic<bool>& stop, Counts& counts) {
  uint64_t ok = 0;
  uint64_t failed = 0;
  const linger lin{1, 0};
  std::vector<double> us;
  us.reserve(1 << 16);
  for (size_t i = first; !stop.load(std::memory_order_relaxed); i++) {
    const sockaddr_in& d = dests[i % dests.size()];
    const Fd s(socket(AF_INET, SOCK_STREAM, 0));
    if (!s.ok()) {
      failed++;
      continue;
    }
    setsockopt(s.get(), SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
    const auto t0 = std::chrono::steady_clock::now();
    if (connect(s.get(), reinterpret_cast<const sockaddr*>(&d), sizeof(d)) == 0) {
      ok++;
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    } else {
      failed++;
      if (failed == 1) {
        std::perror("connect");
      }
    }
  }
  counts.ok += ok;
  counts.failed += failed;
  const std::lock_guard<std::mutex> g(counts.lock);
  counts.us.insert(counts.us.end(), us.begin(), us.end());
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) {
    return 0;
  }
  const auto k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

int run_connect(int threads, double seconds, const std::vector<sockaddr_in>& dests) {
  Counts counts;
  std::atomic<bool> stop{false};
  const auto start = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> workers;
    workers.reserve(static_cast<size_t>(threads));
    for (int i = 0; i < threads; i++) {
      workers.emplace_back([&dests, i, &stop, &counts] {
        connect_loop(dests, static_cast<size_t>(i), stop, counts);
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
  }  // joins
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const uint64_t ok = counts.ok.load();
  const uint64_t failed = counts.failed.load();
  const double p50 = percentile(counts.us, 0.50);
  const double p99 = percentile(counts.us, 0.99);
  std::printf("connects %llu seconds %.3f rate %.1f errors %llu p50_us %.1f p99_us %.1f\n",
              static_cast<unsigned long long>(ok), elapsed, static_cast<double>(ok) / elapsed,
              static_cast<unsigned long long>(failed), p50, p99);
  return (ok == 0 || failed * 100 > ok) ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 2 && args[0] == "serve") {
    const int port = std::atoi(args[1].c_str());
    const int threads = args.size() > 2 ? std::atoi(args[2].c_str()) : 1;
    if (port <= 0 || port > 65535 || threads < 1) {
      return usage();
    }
    return serve(port, threads);
  }
  if (args.size() >= 4 && args[0] == "connect") {
    const int threads = std::atoi(args[1].c_str());
    const double seconds = std::atof(args[2].c_str());
    std::vector<sockaddr_in> dests;
    for (size_t i = 3; i < args.size(); i++) {
      sockaddr_in sa{};
      if (!parse_endpoint(args[i], sa)) {
        std::fprintf(stderr, "connect_cost: bad address %s\n", args[i].c_str());
        return 2;
      }
      dests.push_back(sa);
    }
    if (threads < 1 || seconds <= 0) {
      return usage();
    }
    return run_connect(threads, seconds, dests);
  }
  if (args.size() == 2 && args[0] == "userve") {
    const int port = std::atoi(args[1].c_str());
    return (port <= 0 || port > 65535) ? usage() : userve(port);
  }
  if (args.size() >= 3 && args[0] == "micro") {
    const long n = std::atol(args[2].c_str());
    sockaddr_in dest{};
    if (n < 1 || (args.size() > 3 && !parse_endpoint(args[3], dest))) {
      return usage();
    }
    const double ns = micro(args[1], n, args.size() > 3 ? &dest : nullptr);
    std::printf("op %s n %ld ns_per_op %.1f\n", args[1].c_str(), n, ns);
    return 0;
  }
  return usage();
}
