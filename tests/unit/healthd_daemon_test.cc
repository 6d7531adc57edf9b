// sockvs-healthd: the daemon around the engine: what it tells systemd
// (sd_notify: READY, STATUS, WATCHDOG, RELOADING, STOPPING) and SIGHUP's
// reload (a bad file keeps the running configuration).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "daemon.h"
#include "fake_api.h"
#include "fd.h"

namespace healthd {
namespace {

class MemLogger final : public Logger {
 public:
  void log(Level /*level*/, const std::string& message) override { lines.push_back(message); }
  [[nodiscard]] bool has(const std::string& needle) const {
    for (const auto& l : lines) {
      if (l.find(needle) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
  std::vector<std::string> lines;
};

class HealthdDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "healthd-dmn-XXXXXX").string();
    dir_ = ::mkdtemp(templ.data());
    conf_ = dir_ + "/healthd.conf";
    write_conf("service -t 10.255.0.1:6379\ncheck tcp\n");
    sockvs::Service svc;
    svc.addr = *sockvs::Address::parse("10.255.0.1");
    svc.port = 6379;
    fake_.add_service(svc);
  }
  void TearDown() override {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    std::filesystem::remove_all(dir_);
  }

  void write_conf(const std::string& body) {
    std::ofstream out(conf_);
    out << "state-file " << dir_ << "/state\n" << body;
  }

  std::unique_ptr<Daemon> make() {
    DaemonOptions o;
    o.config_path = conf_;
    o.engine.deferred_saves = true;
    return std::make_unique<Daemon>(
        load_config(conf_), [this] { return std::make_unique<sockvs::testing::FakeProxy>(fake_); },
        log_, o);
  }

  sockvs::testing::FakeApi fake_;
  MemLogger log_;
  std::string dir_;
  std::string conf_;
};

TEST_F(HealthdDaemon, TellsSystemdAndPingsTheWatchdog) {
  // The notification socket systemd would pass in $NOTIFY_SOCKET.
  const Fd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string path = dir_ + "/notify";
  ASSERT_LT(path.size(), sizeof(a.sun_path));
  std::copy(path.begin(), path.end(), a.sun_path);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "100000", 1);
  auto d = make();
  std::vector<std::string> got;
  bool pinged = false;
  // Stop once the watchdog was pinged and a SIGHUP reload was notified.
  d->loop().add(sock.get(), EPOLLIN, [&](std::uint32_t) {
    char buf[512];
    for (;;) {
      const ssize_t n = ::recv(sock.get(), buf, sizeof(buf), 0);
      if (n <= 0) {
        break;
      }
      got.emplace_back(buf, static_cast<std::size_t>(n));
      if (got.back() == "WATCHDOG=1" && !pinged) {
        pinged = true;
        d->reload();
      } else if (pinged && got.back() == "READY=1") {
        d->stop();
      }
    }
  });
  EXPECT_EQ(d->run(-1), 0);
  // What run() sent after the loop ended.
  char buf[512];
  for (ssize_t n; (n = ::recv(sock.get(), buf, sizeof(buf), 0)) > 0;) {
    got.emplace_back(buf, static_cast<std::size_t>(n));
  }
  d->loop().remove(sock.get());
  ASSERT_GE(got.size(), 6U);
  EXPECT_EQ(got[0], "READY=1");
  EXPECT_TRUE(got[1].starts_with("STATUS=checking ")) << got[1];
  const auto at = [&](const std::string& s) {
    return std::find(got.begin(), got.end(), s) - got.begin();
  };
  EXPECT_LT(at("WATCHDOG=1"), at("RELOADING=1"));
  EXPECT_LT(at("RELOADING=1"), static_cast<long>(got.size()));
  EXPECT_EQ(got.back(), "STOPPING=1");
  EXPECT_TRUE(log_.has("SIGHUP: configuration read again from " + conf_)) << log_.lines.size();
}

TEST_F(HealthdDaemon, ReloadKeepsTheRunningConfigurationWhenTheFileIsBad) {
  auto d = make();
  d->engine().load();
  write_conf("service -t 10.255.0.1:6379\ncheck tcp\nfall zero\n");
  EXPECT_FALSE(d->reload());
  EXPECT_TRUE(log_.has("SIGHUP: " + conf_ + ":4: bad fall 'zero'")) << log_.lines.back();
  EXPECT_TRUE(log_.has("keeping the running configuration"));
  EXPECT_EQ(d->engine().config().services[0].fall, kDefaultFall);
  write_conf("service -t 10.255.0.1:6379\ncheck redis\nfall 5\nservice -t 10.255.0.2:80\n");
  EXPECT_TRUE(d->reload());
  ASSERT_EQ(d->engine().config().services.size(), 2U);
  EXPECT_EQ(d->engine().config().services[0].fall, 5U);
  EXPECT_EQ(d->engine().config().services[0].check.type, CheckType::kRedis);
}

}  // namespace
}  // namespace healthd
