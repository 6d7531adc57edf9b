#include "checks.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "fd.h"

extern char** environ;  // NOLINT: posix_spawn's environment

namespace healthd {

namespace {

std::string errno_text(const char* op, int err) {
  return std::string(op) + ": " + std::strerror(err);
}

std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 80)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

// A RESP array of bulk strings: what redis-cli sends.
std::string resp(std::initializer_list<std::string_view> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

// What to do about a refused PING.
std::string redis_hint(std::string_view line) {
  if (line.starts_with("-NOAUTH")) {
    return " (the server wants a password: `auth [USER] PASSWORD` in the service)";
  }
  return "";
}

// The oldest error OpenSSL queued for this thread, as text (and clears the
// queue).
std::string ssl_error_text() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) {
    return "unknown error";
  }
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  // "error:0A000086:SSL routines::certificate verify failed": the reason.
  std::string_view s(buf);
  const auto colon = s.rfind(':');
  return std::string(colon == std::string_view::npos ? s : s.substr(colon + 1));
}

struct SslCtxFree {
  void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const noexcept { SSL_free(s); }
};

// One client context per (verify, CA file): loading a CA store is far too
// slow to do per check.  nullptr (and `error`) if the CA file is unusable.
SSL_CTX* tls_context(const CheckSpec& c, std::string& error) {
  static std::mutex mu;
  static std::map<std::pair<bool, std::string>, std::unique_ptr<SSL_CTX, SslCtxFree>> cache;
  const std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_pair(c.tls_verify, c.tls_ca);
  auto it = cache.find(key);
  if (it != cache.end()) {
    return it->second.get();
  }
  // OpenSSL writes to the socket with write(2): a peer that closed must be
  // an EPIPE, not a SIGPIPE that ends the daemon.
  (void)::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    error = "TLS: " + ssl_error_text();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // The result is checked after the handshake, for a clearer message.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (c.tls_verify) {
    const int ok = c.tls_ca.empty()
                       ? SSL_CTX_set_default_verify_paths(ctx.get())
                       : SSL_CTX_load_verify_locations(ctx.get(), c.tls_ca.c_str(), nullptr);
    if (ok != 1) {
      error = "TLS: cannot load CA certificates" + (c.tls_ca.empty() ? "" : " from " + c.tls_ca) +
              ": " + ssl_error_text();
      return nullptr;
    }
  }
  return cache.emplace(key, std::move(ctx)).first->second.get();
}

std::string verify_text(long v) { return X509_verify_cert_error_string(v); }

// TCP (and TLS over it) checks.
class StreamProbe final : public Probe {
 public:
  StreamProbe(CheckSpec c, ProbeTarget t) : c_(std::move(c)), t_(std::move(t)) {}
  ~StreamProbe() override {
    // Closed with a reset, as HAProxy closes its checks: no FIN exchange,
    // no TIME_WAIT on either side for a connection that carried nothing
    // the server must finish.
    if (sock_.get() >= 0) {
      const linger l{1, 0};
      (void)::setsockopt(sock_.get(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
  }
  StreamProbe(const StreamProbe&) = delete;
  StreamProbe& operator=(const StreamProbe&) = delete;
  StreamProbe(StreamProbe&&) = delete;
  StreamProbe& operator=(StreamProbe&&) = delete;

  std::optional<CheckResult> step(std::uint32_t events) override {
    if (!started_) {
      started_ = true;
      return start();
    }
    switch (phase_) {
      case Phase::kConnect:
        return connecting(events);
      case Phase::kHandshake:
        return handshake();
      case Phase::kSend:
        return send_more();
      case Phase::kRecv:
        return recv_more();
    }
    return fail("bad state");
  }

  [[nodiscard]] Wait wait() const override { return {sock_.get(), want_}; }

  CheckResult expire() override {
    switch (phase_) {
      case Phase::kConnect:
        return {false, "timed out connecting"};
      case Phase::kHandshake:
        return {false, "timed out in the TLS handshake"};
      case Phase::kSend:
        return {false, "timed out sending the request"};
      case Phase::kRecv:
        break;
    }
    return {false, "timed out waiting for the reply"};
  }

 private:
  enum class Phase : std::uint8_t { kConnect, kHandshake, kSend, kRecv };

  [[nodiscard]] bool over_tls() const { return c_.type == CheckType::kTls || c_.tls; }

  static CheckResult fail(std::string why) { return {false, std::move(why)}; }

  std::optional<CheckResult> start() {
    sock_.reset(::socket(t_.addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (sock_.get() < 0) {
      return fail(errno_text("socket", errno));
    }
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (t_.addr.is_v4()) {
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = htons(t_.port);
      std::memcpy(&sin.sin_addr, t_.addr.bytes().data(), 4);
      std::memcpy(&ss, &sin, sizeof(sin));
      len = sizeof(sin);
    } else {
      sockaddr_in6 sin6{};
      sin6.sin6_family = AF_INET6;
      sin6.sin6_port = htons(t_.port);
      std::memcpy(&sin6.sin6_addr, t_.addr.bytes().data(), 16);
      std::memcpy(&ss, &sin6, sizeof(sin6));
      len = sizeof(sin6);
    }
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    if (::connect(sock_.get(), reinterpret_cast<const sockaddr*>(&ss), len) == 0) {
      return connected();
    }
    if (errno != EINPROGRESS) {
      return fail(errno_text("connect", errno));
    }
    want_ = EPOLLOUT;
    return std::nullopt;
  }

  std::optional<CheckResult> connecting(std::uint32_t events) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) {
      return std::nullopt;
    }
    if ((events & (EPOLLERR | EPOLLHUP)) == 0) {
      return connected();  // writable without an error: connected (one system call less)
    }
    int err = 0;
    socklen_t elen = sizeof(err);
    if (::getsockopt(sock_.get(), SOL_SOCKET, SO_ERROR, &err, &elen) != 0) {
      return fail(errno_text("getsockopt(SO_ERROR)", errno));
    }
    if (err != 0) {
      return fail(errno_text("connect", err));
    }
    return connected();
  }

  std::optional<CheckResult> connected() {
    if (over_tls()) {
      std::string error;
      SSL_CTX* ctx = tls_context(c_, error);
      if (ctx == nullptr) {
        return fail(error);
      }
      ssl_.reset(SSL_new(ctx));
      if (!ssl_ || SSL_set_fd(ssl_.get(), sock_.get()) != 1) {
        return fail("TLS: " + ssl_error_text());
      }
      if (!c_.tls_sni.empty()) {
        SSL_set_tlsext_host_name(ssl_.get(), c_.tls_sni.c_str());
      }
      if (c_.tls_verify) {
        if (!c_.tls_sni.empty()) {
          SSL_set1_host(ssl_.get(), c_.tls_sni.c_str());
        } else {
          X509_VERIFY_PARAM_set1_ip(SSL_get0_param(ssl_.get()), t_.addr.bytes().data(),
                                    t_.addr.bytes().size());
        }
      }
      phase_ = Phase::kHandshake;
      return handshake();
    }
    return after_connect("connected");
  }

  // An SSL call returned `rc`: wait for what it wants, or the failure.
  std::optional<CheckResult> ssl_wait(int rc, const char* doing) {
    const int e = SSL_get_error(ssl_.get(), rc);
    if (e == SSL_ERROR_WANT_READ) {
      want_ = EPOLLIN;
      return std::nullopt;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
      want_ = EPOLLOUT;
      return std::nullopt;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
      return fail(std::string(doing) + ": connection closed");
    }
    if (e == SSL_ERROR_SYSCALL) {
      const int err = errno;
      ERR_clear_error();
      return fail(std::string(doing) + ": " +
                  (err == 0 ? std::string("connection closed") : std::strerror(err)));
    }
    return fail(std::string(doing) + ": " + ssl_error_text());
  }

  std::optional<CheckResult> handshake() {
    ERR_clear_error();
    const int rc = SSL_connect(ssl_.get());
    if (rc != 1) {
      return ssl_wait(rc, "TLS handshake");
    }
    std::string what = std::string("TLS handshake (") + SSL_get_version(ssl_.get());
    if (c_.tls_verify) {
      X509* peer = SSL_get0_peer_certificate(ssl_.get());
      if (peer == nullptr) {
        return fail("TLS certificate: none sent");
      }
      const long v = SSL_get_verify_result(ssl_.get());
      if (v != X509_V_OK) {
        return fail("TLS certificate: " + verify_text(v));
      }
      what += ", certificate verified";
    }
    what += ")";
    return after_connect(what);
  }

  std::optional<CheckResult> after_connect(const std::string& what) {
    switch (c_.type) {
      case CheckType::kTcp:
      case CheckType::kTls:
        return CheckResult{true, what};
      case CheckType::kRedis:
        if (!c_.redis_password.empty()) {
          out_ = c_.redis_user.empty() ? resp({"AUTH", c_.redis_password})
                                       : resp({"AUTH", c_.redis_user, c_.redis_password});
        }
        out_ += resp({"PING"});
        break;
      case CheckType::kHttp: {
        const std::string host =
            c_.tls_sni.empty() ? sockvs::format_endpoint(t_.addr, t_.port) : c_.tls_sni;
        out_ = "GET " + c_.http_path + " HTTP/1.0\r\nHost: " + host +
               "\r\nUser-Agent: sockvs-healthd\r\nConnection: close\r\n\r\n";
        break;
      }
      case CheckType::kExec:
        return fail("not a network check");
    }
    phase_ = Phase::kSend;
    return send_more();
  }

  std::optional<CheckResult> send_more() {
    while (sent_ < out_.size()) {
      const char* p = out_.data() + sent_;
      const std::size_t left = out_.size() - sent_;
      if (ssl_) {
        ERR_clear_error();
        const int n = SSL_write(ssl_.get(), p, static_cast<int>(left));
        if (n <= 0) {
          return ssl_wait(n, "TLS send");
        }
        sent_ += static_cast<std::size_t>(n);
        continue;
      }
      const ssize_t n = ::send(sock_.get(), p, left, MSG_NOSIGNAL);
      if (n > 0) {
        sent_ += static_cast<std::size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        want_ = EPOLLOUT;
        return std::nullopt;
      } else {
        return fail(errno_text("send", errno));
      }
    }
    phase_ = Phase::kRecv;
    return recv_more();
  }

  std::optional<CheckResult> recv_more() {
    for (;;) {
      if (auto r = lines()) {
        return r;
      }
      if (in_.size() > 1024) {
        return fail("reply line longer than 1024 bytes");
      }
      char chunk[512];
      if (ssl_) {
        ERR_clear_error();
        const int n = SSL_read(ssl_.get(), chunk, sizeof(chunk));
        if (n > 0) {
          in_.append(chunk, static_cast<std::size_t>(n));
          continue;
        }
        const int e = SSL_get_error(ssl_.get(), n);
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) {
          return closed();
        }
        return ssl_wait(n, "TLS receive");
      }
      const ssize_t n = ::recv(sock_.get(), chunk, sizeof(chunk), 0);
      if (n > 0) {
        in_.append(chunk, static_cast<std::size_t>(n));
      } else if (n == 0) {
        return closed();
      } else if (errno == EAGAIN || errno == EINTR) {
        want_ = EPOLLIN;
        return std::nullopt;
      } else {
        return fail(errno_text("recv", errno));
      }
    }
  }

  CheckResult closed() const {
    return {false, in_.empty() && lines_ == 0 ? "connection closed without a reply"
                                              : "connection closed inside the reply"};
  }

  // The complete lines received so far, each decided on in turn.
  std::optional<CheckResult> lines() {
    for (;;) {
      const auto nl = in_.find("\r\n");
      if (nl == std::string::npos) {
        return std::nullopt;
      }
      const std::string line = in_.substr(0, nl);
      in_.erase(0, nl + 2);
      ++lines_;
      if (auto r = on_line(line)) {
        return r;
      }
    }
  }

  [[nodiscard]] std::optional<CheckResult> on_line(const std::string& line) const {
    if (c_.type == CheckType::kRedis) {
      if (!c_.redis_password.empty() && lines_ == 1) {
        if (line != "+OK") {
          return fail("AUTH answered '" + printable(line) + "', expected '+OK'");
        }
        return std::nullopt;
      }
      if (line != "+PONG") {
        return fail("PING answered '" + printable(line) + "', expected '+PONG'" + redis_hint(line));
      }
      return CheckResult{true, "+PONG"};
    }
    // "HTTP/1.1 200 OK"
    unsigned status = 0;
    if (line.starts_with("HTTP/") && line.size() >= 12 && line[8] == ' ') {
      for (std::size_t i = 9; i < 12 && line[i] >= '0' && line[i] <= '9'; ++i) {
        status = status * 10 + static_cast<unsigned>(line[i] - '0');
      }
    }
    if (status < 100 || status > 999) {
      return fail("not an HTTP status line: '" + printable(line) + "'");
    }
    if (status != c_.http_status) {
      return fail("HTTP status " + std::to_string(status) + ", expected " +
                  std::to_string(c_.http_status));
    }
    return CheckResult{true, std::string(c_.tls ? "HTTPS " : "HTTP ") + std::to_string(status)};
  }

  CheckSpec c_;
  ProbeTarget t_;
  Fd sock_;
  std::unique_ptr<SSL, SslFree> ssl_;
  Phase phase_ = Phase::kConnect;
  bool started_ = false;
  std::uint32_t want_ = 0;
  std::string out_;
  std::size_t sent_ = 0;
  std::string in_;
  int lines_ = 0;
};

// Children killed on a timeout that had not been reaped yet: tried again
// whenever a command check starts or ends.
std::vector<pid_t>& unreaped() {
  static std::vector<pid_t> pids;
  return pids;
}

void reap_leftovers() {
  std::erase_if(unreaped(), [](pid_t pid) {
    int st = 0;
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    return r == pid || (r < 0 && errno == ECHILD);
  });
}

// `check exec`: /bin/sh -c COMMAND in its own process group, stdin from
// /dev/null, stdout and stderr into a memfd (the first line of it explains
// a failure); the pidfd says when it exits.
class ExecProbe final : public Probe {
 public:
  ExecProbe(CheckSpec c, ProbeTarget t) : c_(std::move(c)), t_(std::move(t)) {}

  ~ExecProbe() override {
    if (pid_ > 0) {
      kill_group();
    }
    reap_leftovers();
  }

  std::optional<CheckResult> step(std::uint32_t /*events*/) override {
    if (pid_ == 0) {
      return start();
    }
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == 0) {
      return std::nullopt;  // not yet
    }
    pid_ = 0;
    if (r < 0) {
      return CheckResult{false, errno_text("waitpid", errno)};
    }
    // Anything it left running in its group goes with it.
    (void)::kill(-r, SIGKILL);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
      return CheckResult{true, "exit 0"};
    }
    std::string why = WIFEXITED(st) ? "exit " + std::to_string(WEXITSTATUS(st))
                                    : std::string("killed by ") + ::strsignal(WTERMSIG(st));
    const std::string out = output();
    if (!out.empty()) {
      why += ": " + out;
    }
    return CheckResult{false, why};
  }

  [[nodiscard]] Wait wait() const override { return {pidfd_.get(), EPOLLIN}; }

  CheckResult expire() override {
    kill_group();
    return {false, "timed out: killed"};
  }

 private:
  std::optional<CheckResult> start() {
    reap_leftovers();
    out_.reset(::memfd_create("sockvs-healthd-exec", MFD_CLOEXEC));
    if (out_.get() < 0) {
      return CheckResult{false, errno_text("memfd_create", errno)};
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, out_.get(), 2);
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (const int s : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD}) {
      sigaddset(&defaults, s);
    }
    posix_spawnattr_setsigmask(&attr, &none);  // the daemon blocks some
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      if (!std::string_view(*e).starts_with("SOCKVS_")) {
        env.emplace_back(*e);
      }
    }
    env.push_back("SOCKVS_SERVICE=" + t_.service);
    env.push_back("SOCKVS_REAL_SERVER=" + t_.real);
    env.push_back("SOCKVS_CHECK_ADDR=" + t_.addr.to_string());
    env.push_back("SOCKVS_CHECK_PORT=" + std::to_string(t_.port));
    std::vector<char*> envp;
    envp.reserve(env.size() + 1);
    for (auto& e : env) {
      envp.push_back(e.data());
    }
    envp.push_back(nullptr);
    std::string sh = "/bin/sh";
    std::string dash_c = "-c";
    std::string cmd = c_.command;
    char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      return CheckResult{false, errno_text("posix_spawn /bin/sh", rc)};
    }
    pid_ = pid;
    // glibc 2.36's <sys/pidfd.h> lacks extern "C": the system call itself.
    pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (pidfd_.get() < 0) {
      const int err = errno;
      kill_group();
      return CheckResult{false, errno_text("pidfd_open", err)};
    }
    return std::nullopt;
  }

  void kill_group() {
    (void)::kill(-pid_, SIGKILL);
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == 0) {
      unreaped().push_back(pid_);
    }
    pid_ = 0;
  }

  // The first line of what it printed, at most 200 bytes.
  [[nodiscard]] std::string output() const {
    char buf[200];
    const ssize_t n = ::pread(out_.get(), buf, sizeof(buf), 0);
    if (n <= 0) {
      return "";
    }
    std::string_view s(buf, static_cast<std::size_t>(n));
    s = s.substr(0, s.find('\n'));
    std::string out;
    for (const char c : s) {
      out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return out;
  }

  CheckSpec c_;
  ProbeTarget t_;
  pid_t pid_ = 0;
  Fd pidfd_;
  Fd out_;
};

}  // namespace

std::unique_ptr<Probe> make_probe(const CheckSpec& check, const ProbeTarget& target) {
  if (check.type == CheckType::kExec) {
    return std::make_unique<ExecProbe>(check, target);
  }
  return std::make_unique<StreamProbe>(check, target);
}

CheckResult run_check(const CheckSpec& check, const ProbeTarget& target, Millis timeout) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  const auto probe = make_probe(check, target);
  auto r = probe->step(0);
  while (!r) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      r = probe->expire();
      break;
    }
    const Wait w = probe->wait();
    short want = 0;
    want |= (w.events & EPOLLIN) != 0 ? POLLIN : 0;
    want |= (w.events & EPOLLOUT) != 0 ? POLLOUT : 0;
    pollfd p{w.fd, want, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
    if (n < 0 && errno != EINTR) {
      r = CheckResult{false, errno_text("poll", errno)};
      break;
    }
    if (n > 0) {
      std::uint32_t ev = 0;
      ev |= (p.revents & POLLIN) != 0 ? static_cast<std::uint32_t>(EPOLLIN) : 0U;
      ev |= (p.revents & POLLOUT) != 0 ? static_cast<std::uint32_t>(EPOLLOUT) : 0U;
      ev |= (p.revents & POLLERR) != 0 ? static_cast<std::uint32_t>(EPOLLERR) : 0U;
      ev |= (p.revents & POLLHUP) != 0 ? static_cast<std::uint32_t>(EPOLLHUP) : 0U;
      r = probe->step(ev);
    }
  }
  r->duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  return *r;
}

CheckResult run_check(const CheckSpec& check, const sockvs::Address& addr, std::uint16_t port,
                      Millis timeout) {
  return run_check(check, ProbeTarget{addr, port, "", sockvs::format_endpoint(addr, port)},
                   timeout);
}

}  // namespace healthd
