#include "checks.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <initializer_list>
#include <string_view>
#include <utility>

#include "fd.h"

namespace healthd {

namespace {

struct Failure {
  std::string what;
};

std::string errno_text(const char* op, int err) {
  return std::string(op) + ": " + std::strerror(err);
}

// Waits until fd has `events` or the deadline passes.
void wait_for(int fd, short events, Clock::time_point deadline, const char* doing) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      throw Failure{std::string("timed out ") + doing};
    }
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
    if (n > 0) {
      return;
    }
    if (n < 0 && errno != EINTR) {
      throw Failure{errno_text("poll", errno)};
    }
  }
}

// A non-blocking TCP connection to addr:port, established before the deadline.
int connect_to(const Fd& sock, const sockvs::Address& addr, std::uint16_t port,
               Clock::time_point deadline) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (addr.is_v4()) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    std::memcpy(&sin.sin_addr, addr.bytes().data(), 4);
    std::memcpy(&ss, &sin, sizeof(sin));
    len = sizeof(sin);
  } else {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    std::memcpy(&sin6.sin6_addr, addr.bytes().data(), 16);
    std::memcpy(&ss, &sin6, sizeof(sin6));
    len = sizeof(sin6);
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&ss), len) == 0) {
    return 0;
  }
  if (errno != EINPROGRESS && errno != EINTR) {
    throw Failure{errno_text("connect", errno)};
  }
  wait_for(sock.get(), POLLOUT, deadline, "connecting");
  int err = 0;
  socklen_t elen = sizeof(err);
  if (::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &err, &elen) != 0) {
    throw Failure{errno_text("getsockopt(SO_ERROR)", errno)};
  }
  if (err != 0) {
    throw Failure{errno_text("connect", err)};
  }
  return 0;
}

void send_all(const Fd& sock, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(sock.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      wait_for(sock.get(), POLLOUT, deadline, "sending the request");
    } else {
      throw Failure{errno_text("send", errno)};
    }
  }
}

// The first line of the reply, without its "\r\n" (at most 1 KiB).
std::string read_line(const Fd& sock, std::string& buf, Clock::time_point deadline) {
  for (;;) {
    const auto nl = buf.find("\r\n");
    if (nl != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 2);
      return line;
    }
    if (buf.size() > 1024) {
      throw Failure{"reply line longer than 1024 bytes"};
    }
    char chunk[512];
    const ssize_t n = ::recv(sock.get(), chunk, sizeof(chunk), 0);
    if (n > 0) {
      buf.append(chunk, static_cast<std::size_t>(n));
    } else if (n == 0) {
      throw Failure{buf.empty() ? "connection closed without a reply"
                                : "connection closed inside the reply line"};
    } else if (errno == EAGAIN || errno == EINTR) {
      wait_for(sock.get(), POLLIN, deadline, "waiting for the reply");
    } else {
      throw Failure{errno_text("recv", errno)};
    }
  }
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

std::string http_host(const sockvs::Address& addr, std::uint16_t port) {
  return sockvs::format_endpoint(addr, port);
}

}  // namespace

CheckResult run_check(const CheckSpec& check, const sockvs::Address& addr, std::uint16_t port,
                      Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  try {
    const Fd sock(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (sock.get() < 0) {
      throw Failure{errno_text("socket", errno)};
    }
    connect_to(sock, addr, port, deadline);
    std::string buf;  // what was received and not consumed yet
    switch (check.type) {
      case CheckType::kTcp:
        return {true, "connected"};
      case CheckType::kRedis: {
        std::string req;
        if (!check.redis_password.empty()) {
          req = check.redis_user.empty() ? resp({"AUTH", check.redis_password})
                                         : resp({"AUTH", check.redis_user, check.redis_password});
        }
        send_all(sock, req + resp({"PING"}), deadline);
        std::string line = read_line(sock, buf, deadline);
        if (!check.redis_password.empty()) {
          if (line != "+OK") {
            return {false, "AUTH answered '" + printable(line) + "', expected '+OK'"};
          }
          line = read_line(sock, buf, deadline);
        }
        if (line != "+PONG") {
          return {false,
                  "PING answered '" + printable(line) + "', expected '+PONG'" + redis_hint(line)};
        }
        return {true, "+PONG"};
      }
      case CheckType::kHttp: {
        send_all(sock,
                 "GET " + check.http_path + " HTTP/1.0\r\nHost: " + http_host(addr, port) +
                     "\r\nUser-Agent: sockvs-healthd\r\nConnection: close\r\n\r\n",
                 deadline);
        const std::string line = read_line(sock, buf, deadline);
        // "HTTP/1.1 200 OK"
        unsigned status = 0;
        if (line.starts_with("HTTP/") && line.size() >= 12 && line[8] == ' ') {
          for (std::size_t i = 9; i < 12 && line[i] >= '0' && line[i] <= '9'; ++i) {
            status = status * 10 + static_cast<unsigned>(line[i] - '0');
          }
        }
        if (status < 100 || status > 999) {
          return {false, "not an HTTP status line: '" + printable(line) + "'"};
        }
        if (status != check.http_status) {
          return {false, "HTTP status " + std::to_string(status) + ", expected " +
                             std::to_string(check.http_status)};
        }
        return {true, "HTTP " + std::to_string(status)};
      }
    }
    return {false, "unknown check type"};
  } catch (const Failure& f) {
    return {false, f.what};
  }
}

}  // namespace healthd
