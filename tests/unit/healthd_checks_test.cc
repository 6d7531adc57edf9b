// sockvs-healthd: the check functions against real local sockets (a tiny
// TCP server, a fake redis, a tiny HTTP responder, a port nobody listens on).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "checks.h"
#include "config.h"
#include "healthd_servers.h"

namespace healthd {
namespace {

using testing::TinyServer;

const sockvs::Address kLo = *sockvs::Address::parse("127.0.0.1");
const sockvs::Address kLo6 = *sockvs::Address::parse("::1");
constexpr Millis kTimeout{5000};

CheckSpec spec(CheckType t) {
  CheckSpec c;
  c.type = t;
  return c;
}

// A loopback port with nothing listening: bound, then closed.
std::uint16_t dead_port() {
  const Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  EXPECT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), len), 0);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  EXPECT_EQ(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  return ntohs(a.sin_port);
}

TEST(HealthdChecks, TcpConnects) {
  TinyServer srv("", "");
  const CheckResult r = run_check(spec(CheckType::kTcp), kLo, srv.port(), kTimeout);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "connected");
}

TEST(HealthdChecks, TcpRefused) {
  const CheckResult r = run_check(spec(CheckType::kTcp), kLo, dead_port(), kTimeout);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "connect: Connection refused");
}

TEST(HealthdChecks, TcpOverIpv6) {
  const Fd probe(::socket(AF_INET6, SOCK_STREAM, 0));
  if (probe.get() < 0) {
    GTEST_SKIP() << "no IPv6";
  }
  TinyServer srv("", "", true);
  const CheckResult r = run_check(spec(CheckType::kTcp), kLo6, srv.port(), kTimeout);
  EXPECT_TRUE(r.ok) << r.detail;
}

TEST(HealthdChecks, RedisPong) {
  TinyServer srv("+PONG\r\n", "PING\r\n");
  const CheckResult r = run_check(spec(CheckType::kRedis), kLo, srv.port(), kTimeout);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "+PONG");
  EXPECT_EQ(srv.last_request(), "*1\r\n$4\r\nPING\r\n");
}

TEST(HealthdChecks, RedisErrorReply) {
  TinyServer srv("-NOAUTH Authentication required.\r\n", "PING\r\n");
  const CheckResult r = run_check(spec(CheckType::kRedis), kLo, srv.port(), kTimeout);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail,
            "PING answered '-NOAUTH Authentication required.', expected '+PONG' (the server wants "
            "a password: `auth [USER] PASSWORD` in the service)");
}

TEST(HealthdChecks, RedisAuthThenPing) {
  TinyServer srv("+OK\r\n+PONG\r\n", "PING\r\n");
  CheckSpec c = spec(CheckType::kRedis);
  c.redis_password = "s3cret";
  const CheckResult r = run_check(c, kLo, srv.port(), kTimeout);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(srv.last_request(), "*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n*1\r\n$4\r\nPING\r\n");
}

TEST(HealthdChecks, RedisAuthWithUser) {
  TinyServer srv("+OK\r\n+PONG\r\n", "PING\r\n");
  CheckSpec c = spec(CheckType::kRedis);
  c.redis_user = "app";
  c.redis_password = "pw";
  EXPECT_TRUE(run_check(c, kLo, srv.port(), kTimeout).ok);
  EXPECT_EQ(srv.last_request(),
            "*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$2\r\npw\r\n*1\r\n$4\r\nPING\r\n");
}

TEST(HealthdChecks, RedisWrongPassword) {
  TinyServer srv("-WRONGPASS invalid username-password pair or user is disabled.\r\n-NOAUTH x\r\n",
                 "PING\r\n");
  CheckSpec c = spec(CheckType::kRedis);
  c.redis_password = "wrong";
  const CheckResult r = run_check(c, kLo, srv.port(), kTimeout);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail,
            "AUTH answered '-WRONGPASS invalid username-password pair or user is disabled.', "
            "expected '+OK'");
}

TEST(HealthdChecks, RedisClosesWithoutReply) {
  TinyServer srv("", "PING\r\n");
  const CheckResult r = run_check(spec(CheckType::kRedis), kLo, srv.port(), kTimeout);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "connection closed without a reply");
}

TEST(HealthdChecks, RedisSilentServerTimesOut) {
  TinyServer srv("", "", false, true);
  const CheckResult r = run_check(spec(CheckType::kRedis), kLo, srv.port(), Millis(300));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "timed out waiting for the reply");
}

TEST(HealthdChecks, HttpStatus) {
  TinyServer srv("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "\r\n\r\n");
  CheckSpec c = spec(CheckType::kHttp);
  c.http_path = "/health?full=1";
  const CheckResult r = run_check(c, kLo, srv.port(), kTimeout);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "HTTP 200");
  const std::string req = srv.last_request();
  EXPECT_TRUE(req.starts_with("GET /health?full=1 HTTP/1.0\r\n")) << req;
  EXPECT_NE(req.find("\r\nHost: 127.0.0.1:" + std::to_string(srv.port()) + "\r\n"),
            std::string::npos)
      << req;
}

TEST(HealthdChecks, HttpWrongStatus) {
  TinyServer srv("HTTP/1.0 503 Service Unavailable\r\n\r\n", "\r\n\r\n");
  const CheckResult r = run_check(spec(CheckType::kHttp), kLo, srv.port(), kTimeout);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "HTTP status 503, expected 200");
}

TEST(HealthdChecks, HttpExpectedNon200) {
  TinyServer srv("HTTP/1.1 204 No Content\r\n\r\n", "\r\n\r\n");
  CheckSpec c = spec(CheckType::kHttp);
  c.http_status = 204;
  EXPECT_TRUE(run_check(c, kLo, srv.port(), kTimeout).ok);
}

TEST(HealthdChecks, HttpGarbage) {
  TinyServer srv("+PONG\r\n", "\r\n\r\n");
  const CheckResult r = run_check(spec(CheckType::kHttp), kLo, srv.port(), kTimeout);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "not an HTTP status line: '+PONG'");
}

TEST(HealthdChecks, ConnectTimeout) {
  // A listener whose backlog is full and never accepts: further SYNs are
  // dropped, so the connect itself times out.
  const Fd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  ASSERT_EQ(::bind(l.get(), reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(::listen(l.get(), 0), 0);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  ASSERT_EQ(::getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  // Fill the backlog with connections that are never accepted.
  std::optional<Fd> fillers[4];
  for (auto& f : fillers) {
    f.emplace(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    (void)::connect(f->get(), reinterpret_cast<sockaddr*>(&a), len);
  }
  ::usleep(100 * 1000);
  const CheckResult r = run_check(spec(CheckType::kTcp), kLo, ntohs(a.sin_port), Millis(300));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "timed out connecting");
}

}  // namespace
}  // namespace healthd
