// sockvs-healthd: configuration parser, good and bad lines.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "config.h"

namespace healthd {
namespace {

Config parse(const std::string& text) {
  std::istringstream in(text);
  return parse_config(in, "test.conf");
}

// The ConfigError message for `text`, or "" if it parsed.
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(HealthdConfig, FullExample) {
  const Config cfg = parse(
      "# defaults for every service below\n"
      "state-file /run/test.state\n"
      "interval 1\n"
      "timeout 500ms\n"
      "rise 2   # comment after a value\n"
      "fall 3\n"
      "\n"
      "service -t 10.255.0.1:6379\n"
      "  check redis\n"
      "  real 127.0.0.1:7001\n"
      "  real 127.0.0.1:7002\n"
      "service -t [fd00::1]:80\n"
      "  check http /health 204\n"
      "  interval 2.5s\n"
      "  fall 1\n"
      "service -u 10.255.0.2:53\n"
      "  connect-port 53\n");
  EXPECT_EQ(cfg.state_file, "/run/test.state");
  ASSERT_EQ(cfg.services.size(), 3U);

  const ServiceConfig& a = cfg.services[0];
  EXPECT_EQ(service_name(a.key), "TCP 10.255.0.1:6379");
  EXPECT_EQ(a.line, 8);
  EXPECT_EQ(a.check.type, CheckType::kRedis);
  EXPECT_EQ(a.interval, Millis(1000));
  EXPECT_EQ(a.timeout, Millis(500));
  EXPECT_EQ(a.rise, 2U);
  EXPECT_EQ(a.fall, 3U);
  ASSERT_EQ(a.reals.size(), 2U);
  EXPECT_EQ(a.reals[1].addr.to_string(), "127.0.0.1");
  EXPECT_EQ(a.reals[1].port, 7002);

  const ServiceConfig& b = cfg.services[1];
  EXPECT_EQ(service_name(b.key), "TCP [fd00::1]:80");
  EXPECT_EQ(b.check.type, CheckType::kHttp);
  EXPECT_EQ(b.check.http_path, "/health");
  EXPECT_EQ(b.check.http_status, 204U);
  EXPECT_EQ(describe(b.check), "http GET /health -> 204");
  EXPECT_EQ(b.interval, Millis(2500));
  EXPECT_EQ(b.timeout, Millis(500));  // the default set above
  EXPECT_EQ(b.fall, 1U);
  EXPECT_TRUE(b.reals.empty());  // all, from the kernel

  const ServiceConfig& c = cfg.services[2];
  EXPECT_EQ(c.key.protocol, IPPROTO_UDP);
  EXPECT_EQ(c.check.type, CheckType::kTcp);
  EXPECT_EQ(c.check.port, 53);
  EXPECT_EQ(describe(c.check), "tcp on port 53");
}

TEST(HealthdConfig, Defaults) {
  const Config cfg = parse("service -t 10.0.0.1:80\n");
  EXPECT_EQ(cfg.state_file, std::string(kDefaultStateFile));
  const ServiceConfig& s = cfg.services.at(0);
  EXPECT_EQ(s.check.type, CheckType::kTcp);
  EXPECT_EQ(s.interval, kDefaultInterval);
  EXPECT_EQ(s.timeout, kDefaultTimeout);
  EXPECT_EQ(s.rise, kDefaultRise);
  EXPECT_EQ(s.fall, kDefaultFall);
  EXPECT_FALSE(s.check.port.has_value());
  EXPECT_TRUE(s.terminate_on_down);
}

TEST(HealthdConfig, TerminateOnDown) {
  const Config cfg = parse(
      "terminate-on-down no   # the default for the services below\n"
      "service -t 10.0.0.1:80\n"
      "service -t 10.0.0.2:80\n"
      "  terminate-on-down yes\n"
      "service -u 10.0.0.3:53\n"
      "  connect-port 53\n");
  ASSERT_EQ(cfg.services.size(), 3U);
  EXPECT_FALSE(cfg.services[0].terminate_on_down);
  EXPECT_TRUE(cfg.services[1].terminate_on_down);
  EXPECT_FALSE(cfg.services[2].terminate_on_down);
  EXPECT_TRUE(
      parse("service -t 10.0.0.1:80\nterminate-on-down yes\n").services[0].terminate_on_down);
  EXPECT_FALSE(
      parse("service -t 10.0.0.1:80\nterminate-on-down no\n").services[0].terminate_on_down);
}

TEST(HealthdConfig, HttpDefaults) {
  const Config cfg = parse("check http\nservice -t 10.0.0.1:80\n");
  EXPECT_EQ(cfg.services[0].check.http_path, "/");
  EXPECT_EQ(cfg.services[0].check.http_status, 200U);
}

TEST(HealthdConfig, ErrorsNameFileAndLine) {
  struct Case {
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"", "test.conf: no service to check"},
      {"# only a comment\n", "test.conf: no service to check"},
      {"service -t 10.0.0.1:80\nfrobnicate 1\n", "test.conf:2: unknown keyword 'frobnicate'"},
      {"service -t 10.0.0.1\n", "test.conf:1: service address '10.0.0.1' needs a port"},
      {"service -x 10.0.0.1:80\n", "test.conf:1: usage: service -t|-u ADDR:PORT"},
      {"service -t\n", "test.conf:1: usage: service -t|-u ADDR:PORT"},
      {"service -t host.example:80\n", "test.conf:1: "},
      {"service -t 10.0.0.1:80\nservice -t 10.0.0.1:80\n",
       "test.conf:2: service TCP 10.0.0.1:80 already defined at line 1"},
      {"real 10.0.0.2:80\n", "test.conf:1: `real` belongs to a service"},
      {"service -t 10.0.0.1:80\nreal [fd00::2]:80\n",
       "test.conf:2: real server [fd00::2]:80 is IPv6 but service TCP 10.0.0.1:80 is IPv4"},
      {"service -t 10.0.0.1:80\nreal 10.0.0.2\n", "test.conf:2: real server address"},
      {"service -t 10.0.0.1:80\nreal 10.0.0.2:80\nreal 10.0.0.2:80\n",
       "test.conf:3: real server 10.0.0.2:80 listed twice"},
      {"interval 0\nservice -t 10.0.0.1:80\n", "test.conf:1: bad interval '0'"},
      {"interval -1\nservice -t 10.0.0.1:80\n", "test.conf:1: bad interval '-1'"},
      {"interval 1.5ms\nservice -t 10.0.0.1:80\n", "test.conf:1: bad interval '1.5ms'"},
      {"interval 3601\nservice -t 10.0.0.1:80\n", "test.conf:1: bad interval '3601'"},
      {"service -t 10.0.0.1:80\ntimeout abc\n", "test.conf:2: bad timeout 'abc'"},
      {"service -t 10.0.0.1:80\ntimeout\n", "test.conf:2: usage: timeout DURATION"},
      {"rise 0\nservice -t 10.0.0.1:80\n", "test.conf:1: bad rise '0'"},
      {"service -t 10.0.0.1:80\nfall 1001\n", "test.conf:2: bad fall '1001'"},
      {"service -t 10.0.0.1:80\nfall 2 3\n", "test.conf:2: usage: fall N"},
      {"service -t 10.0.0.1:80\ncheck ping\n", "test.conf:2: unknown check type 'ping'"},
      {"service -t 10.0.0.1:80\ncheck redis PING\n", "test.conf:2: check redis takes no arguments"},
      {"service -t 10.0.0.1:80\ncheck http health\n", "test.conf:2: HTTP path must start with '/'"},
      {"service -t 10.0.0.1:80\ncheck http / 99\n", "test.conf:2: bad HTTP status '99'"},
      {"service -t 10.0.0.1:80\ncheck http / 200 x\n", "test.conf:2: usage: check tcp"},
      {"service -t 10.0.0.1:80\nconnect-port 0\n", "test.conf:2: "},
      {"service -t 10.0.0.1:80\nstate-file /x\n",
       "test.conf:2: state-file must come before the first service"},
      {"state-file relative\nservice -t 10.0.0.1:80\n",
       "test.conf:1: state-file needs an absolute path"},
      {"service -u 10.0.0.1:53\n", "test.conf:1: UDP service needs `connect-port N`"},
      {"service -t 10.0.0.1:80\nterminate-on-down maybe\n",
       "test.conf:2: bad terminate-on-down 'maybe': want yes or no"},
      {"terminate-on-down YES\nservice -t 10.0.0.1:80\n",
       "test.conf:1: bad terminate-on-down 'YES': want yes or no"},
      {"service -t 10.0.0.1:80\nterminate-on-down\n",
       "test.conf:2: usage: terminate-on-down yes|no"},
      {"service -t 10.0.0.1:80\nterminate-on-down no yes\n",
       "test.conf:2: usage: terminate-on-down yes|no"},
      {"service -t 10.0.0.1:80\nterminate_on_down no\n",
       "test.conf:2: unknown keyword 'terminate_on_down' (known: state-file, service, real, check, "
       "interval, timeout, rise, fall, connect-port, terminate-on-down, "},
      {"service -t 10.0.0.1:80\nmin-up -1\n",
       "test.conf:2: bad min-up '-1': want a number from 0 to 1000"},
      {"service -t 10.0.0.1:80\nmin-up\n", "test.conf:2: usage: min-up N"},
      {"service -t 10.0.0.1:80\nauth\n", "test.conf:2: usage: auth [USER] PASSWORD"},
      {"service -t 10.0.0.1:80\nauth a b c\n", "test.conf:2: usage: auth [USER] PASSWORD"},
      {"service -t 10.0.0.1:80\ncheck http\nauth secret\n",
       "test.conf:1: `auth` is for `check redis` only, and this service's check is http GET / -> "
       "200"},
  };
  for (const auto& c : cases) {
    const std::string err = error_of(c.text);
    EXPECT_TRUE(err.starts_with(c.want)) << "config:\n" << c.text << "error: " << err;
  }
}

TEST(HealthdConfig, MinUpAndAuth) {
  const Config cfg = parse(
      "min-up 2\n"
      "service -t 10.0.0.1:6379\n  check redis\n  auth s3cret\n"
      "service -t 10.0.0.2:6379\n  auth app s3cret\n  check redis\n  min-up 0\n"
      "service -t 10.0.0.3:80\n");
  ASSERT_EQ(cfg.services.size(), 3U);
  EXPECT_EQ(cfg.services[0].min_up, 2U);
  EXPECT_EQ(cfg.services[0].check.redis_user, "");
  EXPECT_EQ(cfg.services[0].check.redis_password, "s3cret");
  EXPECT_EQ(cfg.services[1].min_up, 0U);
  EXPECT_EQ(cfg.services[1].check.redis_user, "app");
  EXPECT_EQ(cfg.services[1].check.redis_password, "s3cret");
  EXPECT_EQ(cfg.services[2].min_up, 2U);
  EXPECT_EQ(parse("service -t 10.0.0.1:80\n").services[0].min_up, 1U);  // the default
}

TEST(HealthdConfig, LoadMissingFile) {
  try {
    load_config("/nonexistent/sockvs-healthd.conf");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "/nonexistent/sockvs-healthd.conf: cannot open: No such file or directory");
  }
}

TEST(HealthdConfig, ShippedExampleParses) {
  // __FILE__ is absolute in the CMake build: tests/unit/ -> the repository.
  const auto root = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  const Config cfg = load_config((root / "userspace/healthd/sockvs-healthd.conf.example").string());
  ASSERT_EQ(cfg.services.size(), 3U);
  EXPECT_EQ(cfg.services[0].check.type, CheckType::kRedis);
  EXPECT_EQ(cfg.services[0].interval, Millis(1000));
  EXPECT_EQ(cfg.services[1].reals.size(), 2U);
  EXPECT_EQ(cfg.services[2].fall, 2U);
  EXPECT_TRUE(cfg.services[0].terminate_on_down);
  EXPECT_FALSE(cfg.services[1].terminate_on_down);
  EXPECT_TRUE(cfg.services[2].terminate_on_down);
}

TEST(HealthdConfig, Durations) {
  EXPECT_EQ(parse_duration("1"), Millis(1000));
  EXPECT_EQ(parse_duration("1s"), Millis(1000));
  EXPECT_EQ(parse_duration("0.5"), Millis(500));
  EXPECT_EQ(parse_duration("0.25s"), Millis(250));
  EXPECT_EQ(parse_duration("1.005"), Millis(1005));
  EXPECT_EQ(parse_duration("200ms"), Millis(200));
  EXPECT_EQ(parse_duration("3600"), Millis(3600000));
  for (const char* bad : {"", "s", "ms", "0", "0ms", "0.0", "1.", ".5", "1.0001", "1.5ms", "x",
                          "1m", "-1", "3600.001", "1 s"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
  EXPECT_EQ(format_duration(Millis(1000)), "1s");
  EXPECT_EQ(format_duration(Millis(1500)), "1500ms");
}

}  // namespace
}  // namespace healthd
