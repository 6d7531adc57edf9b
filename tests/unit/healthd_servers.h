// Tiny local servers for the sockvs-healthd unit tests.
#ifndef SOCKVS_TESTS_UNIT_HEALTHD_SERVERS_H_
#define SOCKVS_TESTS_UNIT_HEALTHD_SERVERS_H_

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "fd.h"

namespace healthd::testing {

// Listens on an ephemeral loopback port.  For each connection: reads until
// `request_end` has arrived (unless it is empty), then sends `reply` and
// closes.  With `silent`, accepts, reads (last_request() shows what came)
// and never answers.
class TinyServer {
 public:
  TinyServer(std::string reply, std::string request_end, bool v6 = false, bool silent = false)
      : reply_(std::move(reply)),
        request_end_(std::move(request_end)),
        silent_(silent),
        sock_(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    EXPECT_GE(sock_.get(), 0);
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_addr = in6addr_loopback;
      std::memcpy(&ss, &a, sizeof(a));
      len = sizeof(a);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      std::memcpy(&ss, &a, sizeof(a));
      len = sizeof(a);
    }
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    auto* sa = reinterpret_cast<sockaddr*>(&ss);
    EXPECT_EQ(::bind(sock_.get(), sa, len), 0) << std::strerror(errno);
    EXPECT_EQ(::listen(sock_.get(), 16), 0);
    EXPECT_EQ(::getsockname(sock_.get(), sa, &len), 0);
    port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port  // NOLINT
                     : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);  // NOLINT
    thread_ = std::jthread([this](const std::stop_token& st) { loop(st); });
  }

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

  std::string last_request() {
    const std::lock_guard<std::mutex> lock(mu_);
    return last_request_;
  }

  int accepted() const noexcept { return accepted_.load(); }

 private:
  void loop(const std::stop_token& st) {
    while (!st.stop_requested()) {
      pollfd p{sock_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        continue;
      }
      const Fd conn(::accept4(sock_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.get() < 0) {
        continue;
      }
      ++accepted_;
      if (silent_) {
        while (!st.stop_requested()) {
          pollfd q{conn.get(), POLLIN, 0};
          if (::poll(&q, 1, 50) > 0) {
            char sink[256];
            const ssize_t n = ::recv(conn.get(), sink, sizeof(sink), 0);
            if (n <= 0) {
              break;
            }
            const std::lock_guard<std::mutex> lock(mu_);
            last_request_.append(sink, static_cast<std::size_t>(n));
          }
        }
        continue;
      }
      std::string req;
      while (!request_end_.empty() && req.find(request_end_) == std::string::npos) {
        char buf[512];
        const ssize_t n = ::recv(conn.get(), buf, sizeof(buf), 0);
        if (n <= 0) {
          break;
        }
        req.append(buf, static_cast<std::size_t>(n));
      }
      {
        const std::lock_guard<std::mutex> lock(mu_);
        last_request_ = req;
      }
      if (!reply_.empty()) {
        (void)!::send(conn.get(), reply_.data(), reply_.size(), MSG_NOSIGNAL);
      }
    }
  }

  std::string reply_;
  std::string request_end_;
  bool silent_;
  Fd sock_;
  std::uint16_t port_ = 0;
  std::mutex mu_;
  std::string last_request_;
  std::atomic<int> accepted_{0};
  std::jthread thread_;  // last: stopped and joined first
};

}  // namespace healthd::testing

#endif  // SOCKVS_TESTS_UNIT_HEALTHD_SERVERS_H_
