// sockvs-healthd: `check tls`, `check https` against a local TLS server
// with a fresh self-signed certificate, and `check exec`.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "checks.h"
#include "config.h"
#include "healthd_servers.h"
#include "healthd_tls_server.h"

namespace healthd {
namespace {

using testing::TinyServer;
using testing::TlsServer;

const sockvs::Address kLo = *sockvs::Address::parse("127.0.0.1");
constexpr Millis kTimeout{5000};

class HealthdTls : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "healthd-tls-XXXXXX").string();
    dir_ = ::mkdtemp(templ.data());
    cert_ = dir_ + "/cert.pem";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static CheckSpec tls(const std::string& sni = "", bool verify = false, std::string ca = "") {
    CheckSpec c;
    c.type = CheckType::kTls;
    c.tls_sni = sni;
    c.tls_verify = verify;
    c.tls_ca = std::move(ca);
    return c;
  }

  std::string dir_;
  std::string cert_;
};

TEST_F(HealthdTls, HandshakeWithoutVerification) {
  TlsServer srv("", cert_);
  const CheckResult r = run_check(tls(), kLo, srv.port(), kTimeout);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "TLS handshake (TLSv1.3)");
  EXPECT_EQ(srv.sni(), "");
}

TEST_F(HealthdTls, SniIsSentAndTheCertificateVerifiesForIt) {
  TlsServer srv("", cert_);
  const CheckResult r = run_check(tls("test.example", true, cert_), kLo, srv.port(), kTimeout);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "TLS handshake (TLSv1.3, certificate verified)");
  EXPECT_EQ(srv.sni(), "test.example");
}

TEST_F(HealthdTls, WithoutSniTheAddressIsVerified) {
  TlsServer srv("", cert_);
  const CheckResult r = run_check(tls("", true, cert_), kLo, srv.port(), kTimeout);
  EXPECT_TRUE(r.ok) << r.detail;
}

TEST_F(HealthdTls, WrongNameFails) {
  TlsServer srv("", cert_);
  const CheckResult r = run_check(tls("other.example", true, cert_), kLo, srv.port(), kTimeout);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "TLS certificate: hostname mismatch");
}

TEST_F(HealthdTls, UntrustedCertificateFails) {
  TlsServer srv("", cert_);
  // The system's CAs do not know a certificate made a moment ago.
  const CheckResult r = run_check(tls("test.example", true), kLo, srv.port(), kTimeout);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "TLS certificate: self-signed certificate");
}

TEST_F(HealthdTls, PlainServerFailsTheHandshake) {
  TinyServer srv("HTTP/1.0 400 Bad Request\r\n\r\n", "");
  const CheckResult r = run_check(tls(), kLo, srv.port(), kTimeout);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.detail.starts_with("TLS handshake: ")) << r.detail;
}

TEST_F(HealthdTls, SilentServerTimesOutInTheHandshake) {
  TinyServer srv("", "", false, true);
  const CheckResult r = run_check(tls(), kLo, srv.port(), Millis(300));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "timed out in the TLS handshake");
}

TEST_F(HealthdTls, Https) {
  TlsServer srv("HTTP/1.1 204 No Content\r\n\r\n", cert_);
  CheckSpec c = tls("test.example", true, cert_);
  c.type = CheckType::kHttp;
  c.tls = true;
  c.http_path = "/healthz";
  c.http_status = 204;
  const CheckResult r = run_check(c, kLo, srv.port(), kTimeout);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "HTTPS 204");
  EXPECT_TRUE(srv.request().starts_with("GET /healthz HTTP/1.0\r\nHost: test.example\r\n"))
      << srv.request();
}

TEST_F(HealthdTls, HttpsWrongStatus) {
  TlsServer srv("HTTP/1.1 500 Oops\r\n\r\n", cert_);
  CheckSpec c = tls();
  c.type = CheckType::kHttp;
  c.tls = true;
  const CheckResult r = run_check(c, kLo, srv.port(), kTimeout);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "HTTP status 500, expected 200");
}

TEST(HealthdTlsConfig, Parse) {
  std::istringstream in(
      "service -t 10.0.0.1:443\n  check https /health 204\n  tls-sni web.example\n"
      "  tls-verify yes\n  tls-ca /etc/ssl/certs/ca.pem\n"
      "service -t 10.0.0.1:8443\n  check tls\n");
  const Config cfg = parse_config(in, "t.conf");
  const CheckSpec& a = cfg.services[0].check;
  EXPECT_EQ(a.type, CheckType::kHttp);
  EXPECT_TRUE(a.tls);
  EXPECT_EQ(a.tls_sni, "web.example");
  EXPECT_TRUE(a.tls_verify);
  EXPECT_EQ(a.tls_ca, "/etc/ssl/certs/ca.pem");
  EXPECT_EQ(describe(a), "https GET /health -> 204 sni web.example verified");
  EXPECT_EQ(cfg.services[1].check.type, CheckType::kTls);
  EXPECT_EQ(describe(cfg.services[1].check), "tls");
  std::istringstream bad("service -t 10.0.0.1:80\n  check http\n  tls-verify yes\n");
  EXPECT_THROW(parse_config(bad, "t.conf"), ConfigError);
  std::istringstream bad2("service -t 10.0.0.1:80\n  check tls\n  tls-ca rel.pem\n");
  EXPECT_THROW(parse_config(bad2, "t.conf"), ConfigError);
}

// --- check exec ---

CheckSpec exec(const std::string& cmd) {
  CheckSpec c;
  c.type = CheckType::kExec;
  c.command = cmd;
  return c;
}

TEST(HealthdExec, ExitZeroIsUp) {
  const CheckResult r = run_check(exec("true"), kLo, 7001, kTimeout);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "exit 0");
}

TEST(HealthdExec, OtherExitIsDownWithItsOutput) {
  const CheckResult r =
      run_check(exec("echo 'no answer on 7001' >&2; exit 2"), kLo, 7001, kTimeout);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "exit 2: no answer on 7001");
}

TEST(HealthdExec, TheServerIsInTheEnvironment) {
  ProbeTarget t{kLo, 9000, "TCP 10.255.0.1:6379", "127.0.0.1:7001"};
  const CheckResult r =
      run_check(exec("test \"$SOCKVS_CHECK_ADDR:$SOCKVS_CHECK_PORT\" = 127.0.0.1:9000 && "
                     "test \"$SOCKVS_REAL_SERVER\" = 127.0.0.1:7001 && "
                     "test \"$SOCKVS_SERVICE\" = 'TCP 10.255.0.1:6379'"),
                t, kTimeout);
  EXPECT_TRUE(r.ok) << r.detail;
}

TEST(HealthdExec, SignalsAreNotBlockedInTheChild) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigset_t old;
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &mask, &old), 0);  // as the daemon does
  const CheckResult r = run_check(exec("kill -TERM $$; sleep 5"), kLo, 7001, kTimeout);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "killed by Terminated");
}

// The timeout kills the command and what it started (its process group).
TEST(HealthdExec, TimeoutKillsTheProcessGroup) {
  std::string templ = (std::filesystem::temp_directory_path() / "healthd-exec-XXXXXX").string();
  const std::string dir = ::mkdtemp(templ.data());
  const std::string pidfile = dir + "/pid";
  const CheckResult r =
      run_check(exec("sleep 60 & echo $! > " + pidfile + "; wait"), kLo, 7001, Millis(300));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "timed out: killed");
  std::ifstream in(pidfile);
  pid_t pid = 0;
  in >> pid;
  ASSERT_GT(pid, 0);
  // Gone (or a zombie of its new parent) once the SIGKILL is delivered.
  bool dead = false;
  for (int i = 0; i < 500 && !dead; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string s;
    std::getline(stat, s);
    dead = !stat || s.find(") Z") != std::string::npos;
    if (!dead) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  EXPECT_TRUE(dead) << "the background sleep survived";
  std::filesystem::remove_all(dir);
}

TEST(HealthdExec, ConfigKeepsTheRestOfTheLine) {
  std::istringstream in(
      "service -t 10.0.0.1:80\n  check exec /usr/lib/check --port \"$SOCKVS_CHECK_PORT\" # x\n");
  const Config cfg = parse_config(in, "t.conf");
  EXPECT_EQ(cfg.services[0].check.type, CheckType::kExec);
  EXPECT_EQ(cfg.services[0].check.command, "/usr/lib/check --port \"$SOCKVS_CHECK_PORT\" # x");
  std::istringstream bad("service -t 10.0.0.1:80\n  check exec\n");
  EXPECT_THROW(parse_config(bad, "t.conf"), ConfigError);
}

}  // namespace
}  // namespace healthd
