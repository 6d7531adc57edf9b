// sockvs-healthd: the engine (discovery, quiesce, restore, state file,
// administrator changes) against the in-memory module.
#include <gtest/gtest.h>

#include <poll.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine.h"
#include "fake_api.h"
#include "healthd_servers.h"
#include "loop.h"
#include "runner.h"
#include "sockvs/error.h"

namespace healthd {
namespace {

using sockvs::testing::FakeApi;

using Proxy = sockvs::testing::FakeProxy;

class MemLogger final : public Logger {
 public:
  void log(Level level, const std::string& message) override {
    lines.push_back((level == Level::kError     ? "E "
                     : level == Level::kWarning ? "W "
                                                : "I ") +
                    message);
  }
  [[nodiscard]] int count(const std::string& needle) const {
    return static_cast<int>(std::count_if(lines.begin(), lines.end(), [&](const auto& l) {
      return l.find(needle) != std::string::npos;
    }));
  }
  [[nodiscard]] std::string all() const {
    std::string out;
    for (const auto& l : lines) {
      out += l + "\n";
    }
    return out;
  }
  std::vector<std::string> lines;
};

const char* const kSvc = "TCP 10.255.0.1:6379";

class HealthdEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "healthd-eng-XXXXXX").string();
    dir_ = ::mkdtemp(templ.data());
    state_path_ = dir_ + "/state";
    populate();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The service with real servers 127.0.0.1:7001-7003, weights 1, 2, 3.
  void populate() {
    sockvs::Service svc;
    svc.addr = *sockvs::Address::parse("10.255.0.1");
    svc.port = 6379;
    svc.sched_name = "rr";
    key_ = svc.key();
    fake_.add_service(svc);
    for (std::uint16_t p = 7001; p <= 7003; ++p) {
      sockvs::RealServer d;
      d.addr = *sockvs::Address::parse("127.0.0.1");
      d.port = p;
      d.weight = p - 7000;  // 1, 2, 3
      fake_.add_dest(key_, d);
    }
  }

  std::unique_ptr<Engine> make(const std::string& extra = "", EngineOptions opts = {}) {
    std::istringstream in("state-file " + state_path_ +
                          "\nrise 2\nfall 2\nservice -t 10.255.0.1:6379\ncheck redis\n" + extra);
    return std::make_unique<Engine>(
        parse_config(in, "t.conf"),
        [this]() -> std::unique_ptr<sockvs::Api> {
          if (!module_loaded_) {
            throw sockvs::ModuleNotLoadedError();
          }
          return std::make_unique<Proxy>(fake_);
        },
        log_, opts);
  }

  std::uint32_t weight(std::uint16_t port) {
    for (const auto& d : fake_.list_dests(key_)) {
      if (d.port == port) {
        return d.weight;
      }
    }
    ADD_FAILURE() << "no real server " << port;
    return 99;
  }

  void set_weight(std::uint16_t port, std::uint32_t w) {
    sockvs::RealServer d;
    d.addr = *sockvs::Address::parse("127.0.0.1");
    d.port = port;
    d.weight = w;
    fake_.edit_dest(key_, d);
  }

  // One round: plan, then every job gets ok unless its port is in `failing`.
  int round(Engine& e, const std::vector<std::uint16_t>& failing) {
    const auto jobs = e.plan(0);
    for (const auto& j : jobs) {
      const bool bad = std::find(failing.begin(), failing.end(), j.port) != failing.end();
      e.apply(j, CheckResult{!bad, bad ? "connect: Connection refused" : "+PONG"});
    }
    return static_cast<int>(jobs.size());
  }

  std::string state_text() {
    std::ifstream in(state_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  FakeApi fake_;
  MemLogger log_;
  sockvs::ServiceKey key_;
  std::string dir_;
  std::string state_path_;
  bool module_loaded_ = true;
};

TEST_F(HealthdEngine, DiscoversEveryRealServerAndChecksItDirectly) {
  auto e = make();
  e->load();
  const auto jobs = e->plan(0);
  ASSERT_EQ(jobs.size(), 3U) << log_.all();
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(jobs[i].addr.to_string(), "127.0.0.1");
    EXPECT_EQ(jobs[i].port, 7001 + i);
    EXPECT_EQ(jobs[i].id.svc, key_);
  }
  // Checks still running are not started twice.
  EXPECT_TRUE(e->plan(0).empty());
  e->cancel(jobs[0]);
  EXPECT_EQ(e->plan(0).size(), 1U);

  // A real server added later is picked up next round.
  sockvs::RealServer d;
  d.addr = *sockvs::Address::parse("127.0.0.1");
  d.port = 7004;
  fake_.add_dest(key_, d);
  for (const auto& j : jobs) {
    e->apply(j, CheckResult{true, "+PONG"});
  }
  EXPECT_EQ(round(*e, {}), 4);
}

TEST_F(HealthdEngine, QuiescesAfterFallAndRestoresAfterRise) {
  auto e = make();
  e->load();
  round(*e, {7003});
  EXPECT_EQ(weight(7003), 3U);
  EXPECT_EQ(log_.count("127.0.0.1:7003: check failed (1/2): connect: Connection refused"), 1)
      << log_.all();
  round(*e, {7003});
  EXPECT_EQ(weight(7003), 0U);
  EXPECT_EQ(weight(7001), 1U);
  EXPECT_EQ(weight(7002), 2U);
  EXPECT_EQ(log_.count(std::string("W ") + kSvc +
                       " -> 127.0.0.1:7003: DOWN after 2 failed checks (connect: Connection "
                       "refused); weight 3 -> 0 (quiesced"),
            1)
      << log_.all();
  EXPECT_EQ(state_text(),
            "# sockvs-healthd: real servers it quiesced and the weight each had\n"
            "quiesced -t 10.255.0.1:6379 -r 127.0.0.1:7003 -w 3\n");
  EXPECT_EQ(e->is_up(DestId{key_, *sockvs::Address::parse("127.0.0.1"), 7003}), false);

  round(*e, {7003});  // still down: nothing changes, no log noise
  round(*e, {});
  EXPECT_EQ(weight(7003), 0U);
  EXPECT_EQ(log_.count("7003: check passed (1/2)"), 1);
  round(*e, {});
  EXPECT_EQ(weight(7003), 3U);
  EXPECT_EQ(log_.count("7003: UP after 2 successful checks (+PONG); weight 0 -> 3 (restored)"), 1)
      << log_.all();
  EXPECT_TRUE(e->state().empty());
  EXPECT_EQ(state_text(), "# sockvs-healthd: real servers it quiesced and the weight each had\n");
}

TEST_F(HealthdEngine, FailuresMustBeConsecutive) {
  auto e = make();
  e->load();
  for (int i = 0; i < 5; ++i) {
    round(*e, {7002});
    round(*e, {});
  }
  EXPECT_EQ(weight(7002), 2U);
  EXPECT_EQ(std::count(fake_.calls.begin(), fake_.calls.end(), "edit_dest"), 0);
}

TEST_F(HealthdEngine, RestartRestoresFromTheStateFile) {
  {
    auto e = make();
    e->load();
    round(*e, {7002});
    round(*e, {7002});
    EXPECT_EQ(weight(7002), 0U);
  }
  auto e = make();  // a new daemon
  e->load();
  EXPECT_EQ(log_.count("1 real server quiesced by an earlier run"), 1) << log_.all();
  round(*e, {});
  EXPECT_EQ(log_.count("7002: quiesced by an earlier run; weight 2 comes back after 2 successful"),
            1)
      << log_.all();
  EXPECT_EQ(weight(7002), 0U);
  round(*e, {});
  EXPECT_EQ(weight(7002), 2U);
  EXPECT_TRUE(e->state().empty());
}

TEST_F(HealthdEngine, RestartRespectsTheAdministratorsWeight) {
  {
    auto e = make();
    e->load();
    round(*e, {7002});
    round(*e, {7002});
  }
  set_weight(7002, 5);  // the administrator, while the daemon was stopped
  auto e = make();
  e->load();
  round(*e, {});
  EXPECT_EQ(log_.count("7002: weight is 5, not the 0 sockvs-healthd set: the administrator "
                       "changed it: forgetting remembered weight 2"),
            1)
      << log_.all();
  EXPECT_TRUE(e->state().empty());
  round(*e, {});
  EXPECT_EQ(weight(7002), 5U);
}

TEST_F(HealthdEngine, AdministratorChangeWhileDown) {
  auto e = make();
  e->load();
  round(*e, {7001});
  round(*e, {7001});
  EXPECT_EQ(weight(7001), 0U);
  set_weight(7001, 7);
  round(*e, {7001});  // the admin's weight stands, the memory goes
  EXPECT_EQ(weight(7001), 7U);
  EXPECT_TRUE(e->state().empty());
  EXPECT_EQ(log_.count("the administrator changed it"), 1);
  // Still failing: quiesced again, now remembering the admin's weight.
  round(*e, {7001});
  round(*e, {7001});
  EXPECT_EQ(weight(7001), 0U);
  ASSERT_EQ(e->state().size(), 1U);
  EXPECT_EQ(e->state().begin()->second.weight, 7U);
}

TEST_F(HealthdEngine, AlreadyZeroIsLeftAlone) {
  set_weight(7001, 0);  // quiesced by hand
  fake_.calls.clear();
  auto e = make();
  e->load();
  round(*e, {7001});
  round(*e, {7001});
  EXPECT_EQ(log_.count("7001: DOWN after 2 failed checks (connect: Connection refused); weight "
                       "is already 0, nothing to change"),
            1)
      << log_.all();
  round(*e, {});
  round(*e, {});
  EXPECT_EQ(weight(7001), 0U);
  EXPECT_EQ(log_.count("7001: UP after 2 successful checks (+PONG); weight left as it is"), 1);
  EXPECT_EQ(std::count(fake_.calls.begin(), fake_.calls.end(), "edit_dest"), 0);
}

// Down while at weight 0 (quiesced by hand, so nothing remembered), then
// given a weight by the administrator while it still fails: it must be
// quiesced again after `fall` more failures, not left serving traffic.
TEST_F(HealthdEngine, WeightGivenWhileDownAtZeroIsQuiescedAgain) {
  set_weight(7001, 0);
  auto e = make();
  e->load();
  round(*e, {7001});
  round(*e, {7001});
  EXPECT_EQ(log_.count("7001: DOWN after 2 failed checks"), 1) << log_.all();
  EXPECT_TRUE(e->state().empty());
  set_weight(7001, 4);  // the administrator, while it still fails
  round(*e, {7001});
  EXPECT_EQ(log_.count("7001: weight is 4 now (was 0) while its checks fail: checking it as up "
                       "again"),
            1)
      << log_.all();
  round(*e, {7001});
  EXPECT_EQ(weight(7001), 0U) << log_.all();
  ASSERT_EQ(e->state().size(), 1U);
  EXPECT_EQ(e->state().begin()->second.weight, 4U);
  round(*e, {});
  round(*e, {});
  EXPECT_EQ(weight(7001), 4U) << log_.all();
}

// min-up 1 (the default): when every real server fails, the last usable
// one keeps its weight (a loud error), and is quiesced once another is back.
TEST_F(HealthdEngine, LastUsableRealServerIsNotQuiesced) {
  auto e = make();
  e->load();
  round(*e, {7001, 7002, 7003});
  round(*e, {7001, 7002, 7003});
  EXPECT_EQ(weight(7001), 0U);
  EXPECT_EQ(weight(7002), 0U);
  EXPECT_EQ(weight(7003), 3U) << log_.all();
  EXPECT_EQ(log_.count("E TCP 10.255.0.1:6379 -> 127.0.0.1:7003: DOWN after 2 failed checks "
                       "(connect: Connection refused); NOT quiesced: the service would be left "
                       "with 0 usable real servers (min-up 1); weight 3 stays until another real "
                       "server is usable"),
            1)
      << log_.all();
  EXPECT_EQ(e->is_up(DestId{key_, *sockvs::Address::parse("127.0.0.1"), 7003}), false);
  round(*e, {7001, 7002, 7003});  // said once
  EXPECT_EQ(log_.count("NOT quiesced"), 1);
  EXPECT_EQ(weight(7003), 3U);
  // 7001 is back: 7003, still failing, can go now.
  round(*e, {7002, 7003});
  round(*e, {7002, 7003});
  EXPECT_EQ(weight(7001), 1U);
  EXPECT_EQ(weight(7003), 0U) << log_.all();
  EXPECT_EQ(log_.count("7003: still DOWN (connect: Connection refused), and another real server "
                       "is usable now (min-up 1); weight 3 -> 0 (quiesced"),
            1)
      << log_.all();
  round(*e, {7002});
  round(*e, {7002});
  EXPECT_EQ(weight(7003), 3U) << log_.all();
}

TEST_F(HealthdEngine, MinUpCountsServersItDoesNotCheck) {
  auto e = make("real 127.0.0.1:7001\nreal 127.0.0.1:7002\nmin-up 2\n");
  e->load();
  round(*e, {7001, 7002});
  round(*e, {7001, 7002});
  // 7003 is not checked but usable: one of the two may go, not both.
  EXPECT_EQ(weight(7001), 0U);
  EXPECT_EQ(weight(7002), 2U) << log_.all();
  EXPECT_EQ(log_.count("7002: DOWN after 2 failed checks (connect: Connection refused); NOT "
                       "quiesced: the service would be left with 1 usable real server (min-up 2)"),
            1)
      << log_.all();
}

TEST_F(HealthdEngine, MinUpZeroQuiescesEverything) {
  auto e = make("min-up 0\n");
  e->load();
  round(*e, {7001, 7002, 7003});
  round(*e, {7001, 7002, 7003});
  EXPECT_EQ(weight(7001) + weight(7002) + weight(7003), 0U) << log_.all();
  EXPECT_EQ(log_.count("NOT quiesced"), 0);
}

TEST_F(HealthdEngine, EveryServerFailingIsSaidLoudlyOnce) {
  auto e = make();
  e->load();
  const auto noauth = [&] {
    for (const auto& j : e->plan(0)) {
      e->apply(j, CheckResult{false, "PING answered '-NOAUTH Authentication required.'"});
    }
  };
  noauth();
  noauth();
  EXPECT_EQ(log_.count("E TCP 10.255.0.1:6379: EVERY checked real server (3) fails its redis PING "
                       "check (last: PING answered '-NOAUTH Authentication required.'): check the "
                       "configuration of the check itself (a redis with requirepass answers "
                       "-NOAUTH: `auth`)"),
            1)
      << log_.all();
  noauth();
  EXPECT_EQ(log_.count("EVERY checked"), 1);
  round(*e, {});  // all pass: 7001 and 7002 come back, and 7003 never went
  round(*e, {});
  EXPECT_EQ(weight(7001), 1U);
  noauth();
  noauth();
  EXPECT_EQ(log_.count("EVERY checked"), 2) << log_.all();  // a new episode
}

TEST_F(HealthdEngine, ConfiguredRealServersOnly) {
  auto e = make("real 127.0.0.1:7002\nreal 127.0.0.1:7009\n");
  e->load();
  const auto jobs = e->plan(0);
  ASSERT_EQ(jobs.size(), 1U);
  EXPECT_EQ(jobs[0].port, 7002);
  EXPECT_EQ(log_.count("127.0.0.1:7009: configured, but not a real server of the service"), 1);
  e->apply(jobs[0], {true, "+PONG"});
  e->plan(0);
  EXPECT_EQ(log_.count("7009: configured"), 1);  // said once
}

TEST_F(HealthdEngine, ConnectPortIsChecked) {
  auto e = make("connect-port 9000\n");
  e->load();
  const auto jobs = e->plan(0);
  ASSERT_EQ(jobs.size(), 3U);
  EXPECT_EQ(jobs[0].port, 9000);
  EXPECT_EQ(jobs[0].id.port, 7001);
}

TEST_F(HealthdEngine, RealServerThatIsAVirtualAddressIsNotChecked) {
  // 127.0.0.1:7003 is also a virtual service: a connect to it would be
  // balanced, so checking it would check something else.
  sockvs::Service other;
  other.addr = *sockvs::Address::parse("127.0.0.1");
  other.port = 7003;
  fake_.add_service(other);
  auto e = make();
  e->load();
  const auto jobs = e->plan(0);
  ASSERT_EQ(jobs.size(), 2U);
  EXPECT_EQ(log_.count("E TCP 10.255.0.1:6379 -> 127.0.0.1:7003: not checked: 127.0.0.1:7003 is "
                       "itself a virtual service"),
            1)
      << log_.all();
  for (const auto& j : jobs) {
    e->apply(j, {true, "+PONG"});
  }
  e->plan(0);
  EXPECT_EQ(log_.count("not checked"), 1);  // said once
}

TEST_F(HealthdEngine, MissingServiceAndModule) {
  module_loaded_ = false;
  auto e = make();
  e->load();
  EXPECT_TRUE(e->plan(0).empty());
  EXPECT_TRUE(e->plan(0).empty());
  EXPECT_EQ(log_.count("cannot talk to the sock_vs module: the sock_vs module is not loaded"), 1)
      << log_.all();
  EXPECT_EQ(e->lookup_failures(), 2U);
  module_loaded_ = true;
  fake_.del_service(key_);
  EXPECT_TRUE(e->plan(0).empty());
  EXPECT_TRUE(e->plan(0).empty());
  EXPECT_EQ(log_.count("connected to the sock_vs module"), 1);
  EXPECT_EQ(log_.count(std::string(kSvc) + ": no such virtual service"), 1) << log_.all();
  EXPECT_EQ(e->lookup_failures(), 4U);
  populate();  // the service is back
  EXPECT_EQ(e->plan(0).size(), 3U);
  EXPECT_EQ(log_.count(std::string(kSvc) + ": virtual service found"), 1);
}

TEST_F(HealthdEngine, RemovedRealServerIsForgotten) {
  auto e = make();
  e->load();
  round(*e, {7003});
  round(*e, {7003});
  ASSERT_EQ(e->state().size(), 1U);
  sockvs::RealServer d;
  d.addr = *sockvs::Address::parse("127.0.0.1");
  d.port = 7003;
  fake_.del_dest(key_, d);
  EXPECT_EQ(round(*e, {}), 2);
  EXPECT_TRUE(e->state().empty());
  EXPECT_EQ(log_.count("7003: no longer a checked real server of the service: forgetting "
                       "remembered weight 3"),
            1)
      << log_.all();
}

TEST_F(HealthdEngine, StateOfUnconfiguredServiceIsDroppedWithAHint) {
  {
    std::ofstream out(state_path_);
    out << "quiesced -t 10.9.9.9:80 -r 10.0.0.1:80 -w 4\n";
  }
  auto e = make();
  e->load();
  EXPECT_TRUE(e->state().empty());
  EXPECT_EQ(log_.count("restore it with `sockvsadm -e -t 10.9.9.9:80 -r 10.0.0.1:80 -w 4`"), 1)
      << log_.all();
}

TEST_F(HealthdEngine, DryRunChangesNothing) {
  auto e = make("", EngineOptions{true, false});
  e->load();
  round(*e, {7001});
  round(*e, {7001});
  EXPECT_EQ(weight(7001), 1U);
  EXPECT_EQ(log_.count("would set weight 1 -> 0 and terminate its open sockets (dry run)"), 1)
      << log_.all();
  EXPECT_FALSE(std::filesystem::exists(state_path_));
  EXPECT_EQ(std::count(fake_.calls.begin(), fake_.calls.end(), "edit_dest"), 0);
  EXPECT_TRUE(fake_.kills.empty());
}

TEST_F(HealthdEngine, QuiesceThenTerminatesTheServersSockets) {
  fake_.killed_reply = 2;
  auto e = make();
  e->load();
  round(*e, {7002});
  EXPECT_TRUE(fake_.kills.empty());  // not down yet
  round(*e, {7002});
  EXPECT_EQ(weight(7002), 0U);
  // One KILL, after the weight change, for that server, by the service's policy.
  ASSERT_EQ(fake_.kills.size(), 1U) << log_.all();
  EXPECT_EQ(fake_.kills[0].key, key_);
  ASSERT_TRUE(fake_.kills[0].dest.has_value());
  EXPECT_EQ(fake_.kills[0].dest->addr.to_string(), "127.0.0.1");
  EXPECT_EQ(fake_.kills[0].dest->port, 7002);
  EXPECT_FALSE(fake_.kills[0].policy.has_value());
  const auto edit = std::find(fake_.calls.begin(), fake_.calls.end(), "edit_dest");
  EXPECT_LT(edit - fake_.calls.begin(),
            std::find(fake_.calls.begin(), fake_.calls.end(), "kill") - fake_.calls.begin());
  EXPECT_EQ(log_.count("7002: DOWN after 2 failed checks (connect: Connection refused); weight 2 "
                       "-> 0 (quiesced: no new connections)"),
            1)
      << log_.all();
  EXPECT_EQ(log_.count(std::string("I ") + kSvc +
                       " -> 127.0.0.1:7002: terminated 2 open sockets (the service's terminate "
                       "policy)"),
            1)
      << log_.all();
  // Still down: no second KILL; back up: none either.
  round(*e, {7002});
  round(*e, {});
  round(*e, {});
  EXPECT_EQ(weight(7002), 2U);
  EXPECT_EQ(fake_.kills.size(), 1U);
}

TEST_F(HealthdEngine, TerminateOnDownNoOnlyQuiesces) {
  auto e = make("terminate-on-down no\n");
  e->load();
  round(*e, {7003});
  round(*e, {7003});
  EXPECT_EQ(weight(7003), 0U);
  EXPECT_TRUE(fake_.kills.empty());
  EXPECT_EQ(std::count(fake_.calls.begin(), fake_.calls.end(), "kill"), 0);
  EXPECT_EQ(log_.count("weight 3 -> 0 (quiesced: no new connections, open ones untouched)"), 1)
      << log_.all();
  EXPECT_EQ(log_.count("terminated"), 0) << log_.all();
}

TEST_F(HealthdEngine, FailedTerminateKeepsTheQuiesce) {
  auto e = make();
  e->load();
  round(*e, {7001});
  // Next round: list_services, list_dests (the snapshot), then for 7001
  // (the first job) edit_dest and the KILL, which fails (an older module).
  fake_.fail_call = {fake_.calls.size() + 4, EOPNOTSUPP};
  round(*e, {7001});
  EXPECT_EQ(fake_.calls.at(fake_.fail_call->first - 1), "kill");
  EXPECT_EQ(weight(7001), 0U);
  EXPECT_EQ(state_text(),
            "# sockvs-healthd: real servers it quiesced and the weight each had\n"
            "quiesced -t 10.255.0.1:6379 -r 127.0.0.1:7001 -w 1\n");
  EXPECT_EQ(
      log_.count(std::string("E ") + kSvc +
                 " -> 127.0.0.1:7001: cannot terminate its sockets: injected failure in kill"),
      1)
      << log_.all();
  fake_.fail_call.reset();
  round(*e, {});  // reconnects and carries on
  round(*e, {});
  EXPECT_EQ(weight(7001), 1U);
}

TEST_F(HealthdEngine, OnceActsOnTheFirstResult) {
  auto e = make("", EngineOptions{false, true});
  e->load();
  round(*e, {7002});
  EXPECT_EQ(weight(7002), 0U);
  EXPECT_EQ(log_.count("7002: check FAILED (connect: Connection refused)"), 1) << log_.all();
  EXPECT_EQ(log_.count("7001: check passed (+PONG)"), 1);
  auto again = make("", EngineOptions{false, true});
  again->load();
  round(*again, {});
  EXPECT_EQ(weight(7002), 2U);
}

TEST_F(HealthdEngine, FailedWeightChangeIsRetried) {
  auto e = make();
  e->load();
  round(*e, {7001});
  // The next call that changes something fails.
  const auto jobs = e->plan(0);
  fake_.fail_call = std::make_pair(fake_.calls.size() + 1, EPERM);  // the edit fails
  for (const auto& j : jobs) {
    e->apply(j, CheckResult{j.port != 7001, "x"});
  }
  EXPECT_EQ(weight(7001), 1U);
  EXPECT_EQ(log_.count("cannot set weight 0"), 1) << log_.all();
  EXPECT_TRUE(e->state().empty());
  round(*e, {7001});
  round(*e, {7001});
  EXPECT_EQ(weight(7001), 0U) << log_.all();
}

// --- scheduling (the event loop's side of the engine), on a fake clock ---

TEST_F(HealthdEngine, ChecksAreSpreadOverTheIntervalAndKeepTheirPeriod) {
  auto e = make("interval 1\n");
  e->load();
  const Clock::time_point t0{std::chrono::hours(1)};
  const std::array<std::size_t, 1> svc{0};
  e->refresh(svc, t0);
  ASSERT_TRUE(e->next_due().has_value());
  EXPECT_GE(*e->next_due(), t0);
  EXPECT_TRUE(e->due(t0 - std::chrono::microseconds(1)).empty());
  const auto jobs = e->due(t0 + std::chrono::seconds(1));
  ASSERT_EQ(jobs.size(), 3U);
  std::set<Clock::time_point> at;
  for (const auto& j : jobs) {
    EXPECT_GE(j.due, t0);
    EXPECT_LT(j.due, t0 + std::chrono::seconds(1));
    at.insert(j.due);
  }
  EXPECT_EQ(at.size(), 3U) << "three servers, three different offsets";
  EXPECT_FALSE(e->next_due().has_value());  // all three are running
  // A result late within the interval: the next check is still an interval
  // after the previous one was due.
  for (const auto& j : jobs) {
    e->apply(j, CheckResult{true, "+PONG"}, j.due + std::chrono::milliseconds(300));
  }
  EXPECT_EQ(*e->next_due(), *at.begin() + std::chrono::seconds(1));
  const auto again = e->due(t0 + std::chrono::seconds(2));
  ASSERT_EQ(again.size(), 3U);
  for (const auto& j : again) {
    EXPECT_TRUE(at.contains(j.due - std::chrono::seconds(1)));
  }
  // A result later than the interval: due at once, not in a burst.
  const auto late = again[0].due + std::chrono::seconds(5);
  e->apply(again[0], CheckResult{true, "+PONG"}, late);
  EXPECT_EQ(*e->next_due(), late);
}

TEST_F(HealthdEngine, JitterZeroChecksTogether) {
  auto e = make("jitter 0\n");
  e->load();
  const Clock::time_point t0{std::chrono::hours(1)};
  const std::array<std::size_t, 1> svc{0};
  e->refresh(svc, t0);
  EXPECT_EQ(e->due(t0).size(), 3U);
}

TEST_F(HealthdEngine, DelayBeforeRetryAfterAFailure) {
  auto e = make("jitter 0\ninterval 5\ndelay-before-retry 200ms\nfall 3\n");
  e->load();
  const Clock::time_point t0{std::chrono::hours(1)};
  const std::array<std::size_t, 1> svc{0};
  e->refresh(svc, t0);
  auto jobs = e->due(t0);
  ASSERT_EQ(jobs.size(), 3U);
  const auto t1 = t0 + std::chrono::milliseconds(10);
  for (const auto& j : jobs) {
    e->apply(j, CheckResult{j.port != 7001, "x"}, t1);
  }
  // 7001 failed: retried 200 ms after its result; the others in 5 s.
  jobs = e->due(t1 + std::chrono::milliseconds(200));
  ASSERT_EQ(jobs.size(), 1U);
  EXPECT_EQ(jobs[0].port, 7001);
  const auto t2 = t1 + std::chrono::milliseconds(250);
  e->apply(jobs[0], CheckResult{false, "x"}, t2);
  jobs = e->due(t2 + std::chrono::milliseconds(200));
  ASSERT_EQ(jobs.size(), 1U);
  e->apply(jobs[0], CheckResult{false, "x"}, t2 + std::chrono::milliseconds(210));
  EXPECT_EQ(weight(7001), 0U);  // fall 3: three failures, 420 ms apart in all
  // Down now: checked every interval again.
  EXPECT_TRUE(e->due(t0 + std::chrono::milliseconds(4999)).empty());
  EXPECT_EQ(e->due(t0 + std::chrono::seconds(5)).size(), 2U);
  EXPECT_EQ(e->due(jobs[0].due + std::chrono::seconds(5)).size(), 1U);
}

TEST_F(HealthdEngine, OneKernelSnapshotPerRoundAndNoneForAResult) {
  sockvs::Service other;
  other.addr = *sockvs::Address::parse("10.255.0.2");
  other.port = 80;
  fake_.add_service(other);
  sockvs::RealServer d;
  d.addr = *sockvs::Address::parse("127.0.0.1");
  d.port = 8080;
  fake_.add_dest(other.key(), d);
  auto e = make("service -t 10.255.0.2:80\ncheck tcp\njitter 0\n");
  e->load();
  fake_.calls.clear();
  const Clock::time_point t0{std::chrono::hours(1)};
  const std::array<std::size_t, 2> both{0, 1};
  e->refresh(both, t0);
  EXPECT_EQ(fake_.calls, (std::vector<std::string>{"list_services", "list_dests", "list_dests"}));
  fake_.calls.clear();
  const auto jobs = e->due(t0 + std::chrono::seconds(10));
  ASSERT_EQ(jobs.size(), 4U);
  for (int round = 0; round < 2; ++round) {
    for (const auto& j : jobs) {
      e->apply(j, CheckResult{j.port != 7002, "x"}, t0);
    }
    e->due(t0 + std::chrono::hours(1));
  }
  // The quiesce is one edit (and the KILL), not a dump.
  EXPECT_EQ(fake_.calls, (std::vector<std::string>{"edit_dest", "kill"})) << log_.all();
  EXPECT_EQ(weight(7002), 0U);
}

TEST_F(HealthdEngine, ReconfigureKeepsHealthAndRememberedWeights) {
  auto e = make();
  e->load();
  round(*e, {7003});
  round(*e, {7003});
  ASSERT_EQ(weight(7003), 0U);
  std::istringstream in("state-file " + state_path_ +
                        "\nrise 3\nfall 5\nservice -t 10.255.0.1:6379\ncheck redis\n");
  e->reconfigure(parse_config(in, "t.conf"), Clock::now());
  EXPECT_EQ(e->is_up(DestId{key_, *sockvs::Address::parse("127.0.0.1"), 7003}), false);
  ASSERT_EQ(e->state().size(), 1U);
  round(*e, {});
  round(*e, {});
  EXPECT_EQ(weight(7003), 0U);  // rise is 3 now
  round(*e, {});
  EXPECT_EQ(weight(7003), 3U) << log_.all();
  EXPECT_TRUE(e->state().empty());
}

TEST_F(HealthdEngine, ReconfigureWithoutTheServiceForgetsItWithAHint) {
  auto e = make();
  e->load();
  round(*e, {7003});
  round(*e, {7003});
  std::istringstream in("state-file " + state_path_ + "\nservice -t 10.255.0.9:80\n");
  e->reconfigure(parse_config(in, "t.conf"), Clock::now());
  EXPECT_TRUE(e->state().empty());
  EXPECT_FALSE(e->is_up(DestId{key_, *sockvs::Address::parse("127.0.0.1"), 7001}).has_value());
  EXPECT_EQ(log_.count("restore it with `sockvsadm -e -t 10.255.0.1:6379 -r 127.0.0.1:7003 -w 3`"),
            1)
      << log_.all();
  EXPECT_EQ(state_text(), "# sockvs-healthd: real servers it quiesced and the weight each had\n");
}

// The checks run concurrently in one event loop: a server that accepts and
// never answers (check timeout 30 s) does not hold the results of the
// others back.
TEST_F(HealthdEngine, RunnerDoesNotLetASlowServerDelayTheOthers) {
  using testing::TinyServer;
  TinyServer good1("+PONG\r\n", "PING\r\n");
  TinyServer good2("+PONG\r\n", "PING\r\n");
  std::optional<TinyServer> silent;
  silent.emplace("", "", false, true);
  fake_.table.front().dests.clear();
  for (const std::uint16_t p : {silent->port(), good1.port(), good2.port()}) {
    sockvs::RealServer d;
    d.addr = *sockvs::Address::parse("127.0.0.1");
    d.port = p;
    fake_.add_dest(key_, d);
  }
  auto e = make("timeout 30\nrise 1\nfall 1\n");
  e->load();
  Loop loop;
  struct Got {
    Job job;
    CheckResult result;
  };
  std::vector<Got> got;
  Runner runner(loop, [&](const Job& j, const CheckResult& r) {
    got.push_back({j, r});
    e->apply(j, r);
  });
  const auto jobs = e->plan(0);
  ASSERT_EQ(jobs.size(), 3U);
  const ServiceConfig& sc = e->config().services[0];
  for (const auto& j : jobs) {
    runner.start(j, sc.check, sc.timeout);
  }
  EXPECT_EQ(runner.running(), 3U);
  const auto turn = [&] {
    loop.wake_at(runner.next_deadline());
    loop.run_once();
    runner.expire(Clock::now());
  };
  while (got.size() < 2) {
    turn();
  }
  ASSERT_EQ(got.size(), 2U);
  for (const auto& d : got) {
    EXPECT_TRUE(d.result.ok) << d.result.detail;
    EXPECT_NE(d.job.port, silent->port());
  }
  EXPECT_TRUE(runner.busy());  // the silent server's check is still waiting
  EXPECT_EQ(runner.running(), 1U);
  // Close only once the request is read: a close with unread data (or of a
  // listener with a connection not yet accepted) is a reset, not an EOF.
  for (int i = 0; i < 1000 && silent->last_request().find("PING\r\n") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(silent->last_request(), "*1\r\n$4\r\nPING\r\n");
  silent.reset();  // closes the connection: that check ends now
  while (runner.busy()) {
    turn();
  }
  ASSERT_EQ(got.size(), 3U);
  EXPECT_FALSE(got[2].result.ok);
  EXPECT_EQ(got[2].result.detail, "connection closed without a reply");
  EXPECT_EQ(weight(got[2].job.port), 0U);  // fall 1: quiesced
  EXPECT_EQ(weight(good1.port()), 1U);
  EXPECT_EQ(loop.size(), 0U);  // every check's socket left the epoll set
}

// A check that does not end within its timeout is ended by the runner.
TEST_F(HealthdEngine, RunnerExpiresAtTheDeadline) {
  using testing::TinyServer;
  TinyServer silent("", "", false, true);
  fake_.table.front().dests.clear();
  sockvs::RealServer d;
  d.addr = *sockvs::Address::parse("127.0.0.1");
  d.port = silent.port();
  fake_.add_dest(key_, d);
  auto e = make("timeout 200ms\n");
  e->load();
  Loop loop;
  std::vector<CheckResult> got;
  Runner runner(loop, [&](const Job& j, const CheckResult& r) {
    got.push_back(r);
    e->apply(j, r);
  });
  const auto jobs = e->plan(0);
  ASSERT_EQ(jobs.size(), 1U);
  runner.start(jobs[0], e->config().services[0].check, e->config().services[0].timeout);
  while (runner.busy()) {
    loop.wake_at(runner.next_deadline());
    loop.run_once();
    runner.expire(Clock::now());
  }
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].detail, "timed out waiting for the reply");
  EXPECT_GT(got[0].duration.count(), 0);
}

}  // namespace
}  // namespace healthd
