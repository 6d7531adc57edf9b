// sockvs-agent: the key layout (keys.h) and the desired table from the
// store's keys (desired.h): value validation, skipped keys named, the
// last good value kept, precedence of rs / ep / inline real servers.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "desired.h"
#include "keys.h"

namespace agent {
namespace {

sockvs::Address A(const char* s) { return *sockvs::Address::parse(s); }

TEST(AgentKeys, Names) {
  EXPECT_TRUE(valid_name("redis"));
  EXPECT_TRUE(valid_name("a.b-c_d9"));
  EXPECT_TRUE(valid_name("_x"));
  EXPECT_FALSE(valid_name(""));
  EXPECT_FALSE(valid_name(".x"));
  EXPECT_FALSE(valid_name("-x"));
  EXPECT_FALSE(valid_name("a/b"));
  EXPECT_FALSE(valid_name("a b"));
  EXPECT_FALSE(valid_name(std::string(65, 'a')));
  EXPECT_TRUE(valid_name(std::string(64, 'a')));
  EXPECT_THROW(Layout("bad/cell"), std::invalid_argument);
}

TEST(AgentKeys, PrefixEnd) {
  EXPECT_EQ(prefix_end("/sockvs/v1/c1/"), "/sockvs/v1/c10");
  EXPECT_EQ(prefix_end("a\xff"), "b");
  EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
}

TEST(AgentKeys, LayoutKeys) {
  const Layout l("c1");
  EXPECT_EQ(l.prefix(), "/sockvs/v1/c1/");
  EXPECT_EQ(l.range_end(), "/sockvs/v1/c10");
  EXPECT_EQ(l.marker_key(), "/sockvs/v1/c1/marker");
  EXPECT_EQ(l.service_key("redis"), "/sockvs/v1/c1/svc/redis");
  EXPECT_EQ(l.static_key("redis", A("10.0.0.1"), 80), "/sockvs/v1/c1/rs/redis/10.0.0.1:80");
  EXPECT_EQ(l.endpoint_key("redis", A("fd00::1"), 80), "/sockvs/v1/c1/ep/redis/[fd00::1]:80");
}

TEST(AgentKeys, Parse) {
  const Layout l("c1");
  std::string why;
  auto k = l.parse("/sockvs/v1/c1/marker", why);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, KeyKind::kMarker);
  k = l.parse("/sockvs/v1/c1/svc/redis", why);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, KeyKind::kService);
  EXPECT_EQ(k->service, "redis");
  k = l.parse("/sockvs/v1/c1/ep/redis/[fd00::1]:6380", why);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, KeyKind::kEndpoint);
  EXPECT_EQ(k->addr, A("fd00::1"));
  EXPECT_EQ(k->port, 6380);
  k = l.parse("/sockvs/v1/c1/rs/redis/10.0.0.5:6379", why);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, KeyKind::kStatic);

  for (const char* bad :
       {"/sockvs/v1/c2/svc/x", "/sockvs/v1/c1/svc/", "/sockvs/v1/c1/svc/a/b",
        "/sockvs/v1/c1/what/x", "/sockvs/v1/c1/rs/x", "/sockvs/v1/c1/rs/x/host:80",
        "/sockvs/v1/c1/rs/x/10.0.0.1", "/sockvs/v1/c1/rs/x/10.0.0.1:0",
        "/sockvs/v1/c1/ep/x/fd00::1", "/sockvs/v1/c1/ep/x/[fd00:0::1]:80", "/sockvs/v1/c1/markers",
        "/sockvs/v1/c1/svc/.hidden"}) {
    why.clear();
    EXPECT_FALSE(l.parse(bad, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

constexpr const char* kSvc =
    R"({"protocol": "tcp", "address": "10.255.0.1", "port": 6379, "scheduler": "rr"})";

TEST(AgentValues, Service) {
  const auto e = parse_service_value(kSvc);
  EXPECT_EQ(e.service.key(), (sockvs::ServiceKey{IPPROTO_TCP, A("10.255.0.1"), 6379}));
  EXPECT_EQ(e.service.sched_name, "rr");
  EXPECT_TRUE(e.dests.empty());
  // sockvsadm -S --json's whole service, inline real servers included.
  const auto f = parse_service_value(
      R"({"protocol":"udp","address":"fd00::53","port":53,"hash_key":"netns","terminate":"all",
          "dests":[{"address":"fd00::1","port":5353,"weight":3}]})");
  ASSERT_EQ(f.dests.size(), 1U);
  EXPECT_EQ(f.dests[0].weight, 3U);
  EXPECT_EQ(f.service.terminate, sockvs::Terminate::kAll);
}

TEST(AgentValues, ServiceErrorsNameTheField) {
  const auto err = [](const char* v) {
    try {
      (void)parse_service_value(v);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(err(R"({"protocol":"tcp","address":"10.0.0.1","port":0})"),
            "port: 0 out of range 1-65535");
  EXPECT_EQ(err(R"({"protocol":"tcp","address":"10.0.0.1","port":80,"wieght":1})"),
            "unknown key 'wieght'");
  EXPECT_EQ(err(R"({"protocol":"tcp","address":"10.0.0.1"})"), "missing \"port\"");
  EXPECT_EQ(err(R"({"protocol":"tcp","address":"10.0.0.1","port":80,"port":81})"),
            "duplicate key 'port'");
  EXPECT_EQ(err("[1]"), "expected a JSON object, got array");
  EXPECT_NE(err("{").find("parse error"), std::string::npos);
  EXPECT_NE(err(R"({"protocol":"tcp","address":"10.0.0.1","port":80,"dests":[{"address":
                "10.0.0.2","port":80,"weight":70000}]})")
                .find("dests[0].weight: 70000 out of range"),
            std::string::npos);
  EXPECT_EQ(
      err(R"({"protocol":"tcp","address":"10.0.0.1","port":80,"scheduler":"r r"})").substr(0, 35),
      "scheduler: invalid scheduler name '");
}

TEST(AgentValues, Dest) {
  const auto d = parse_dest_value(R"({"weight": 5, "upper": 10, "lower": 2, "shards": 4})",
                                  A("10.0.0.9"), 7000);
  EXPECT_EQ(d.addr, A("10.0.0.9"));
  EXPECT_EQ(d.port, 7000);
  EXPECT_EQ(d.weight, 5U);
  EXPECT_EQ(d.u_threshold, 10U);
  EXPECT_EQ(d.l_threshold, 2U);
  EXPECT_EQ(d.shards, 4);
  EXPECT_EQ(parse_dest_value("", A("fd00::9"), 1).weight, 1U);
  EXPECT_EQ(parse_dest_value(" {} ", A("fd00::9"), 1).weight, 1U);
  EXPECT_EQ(parse_dest_value(R"({"weight":0})", A("10.0.0.9"), 1).weight, 0U);
  EXPECT_THROW(parse_dest_value(R"({"weight":-1})", A("10.0.0.9"), 1), std::invalid_argument);
  EXPECT_THROW(parse_dest_value(R"({"address":"10.0.0.1"})", A("10.0.0.9"), 1),
               std::invalid_argument);
  EXPECT_THROW(parse_dest_value(R"({"lower": 5})", A("10.0.0.9"), 1), std::invalid_argument);
  EXPECT_THROW(parse_dest_value("weight=1", A("10.0.0.9"), 1), std::invalid_argument);
}

class DesiredTest : public ::testing::Test {
 protected:
  Layout layout{"c1"};
  DesiredBuilder b{layout};

  void svc(const std::string& name, const std::string& json) {
    EXPECT_EQ(b.put(layout.service_key(name), json), "");
  }
  std::string rs(const std::string& name, const char* addr, std::uint16_t port,
                 const std::string& json = "{}") {
    return b.put(layout.static_key(name, A(addr), port), json);
  }
  std::string ep(const std::string& name, const char* addr, std::uint16_t port,
                 const std::string& json = "{}") {
    return b.put(layout.endpoint_key(name, A(addr), port), json);
  }
};

TEST_F(DesiredTest, MarkerAndServices) {
  EXPECT_FALSE(b.build({}).marker);
  (void)b.put(layout.marker_key(), "");
  svc("redis", kSvc);
  (void)rs("redis", "127.0.0.1", 7001, R"({"weight":2})");
  (void)ep("redis", "127.0.0.1", 7002);
  const Desired d = b.build({});
  EXPECT_TRUE(d.marker);
  EXPECT_TRUE(d.problems.empty());
  ASSERT_EQ(d.services.size(), 1U);
  const auto& e = d.services.at("redis");
  ASSERT_EQ(e.dests.size(), 2U);
  EXPECT_EQ(e.dests[0].port, 7001);
  EXPECT_EQ(e.dests[0].weight, 2U);
  EXPECT_EQ(e.dests[1].port, 7002);
  EXPECT_EQ(e.dests[1].weight, 1U);
}

TEST_F(DesiredTest, MalformedValuesAreSkippedAndNamed) {
  svc("good", kSvc);
  const std::string bad_key = layout.service_key("bad");
  EXPECT_EQ(b.put(bad_key, R"({"protocol":"tcp","address":"10.0.0.2","port":99999})"),
            "port: 99999 out of range 1-65535");
  EXPECT_EQ(rs("good", "127.0.0.1", 7001, R"({"weight":"heavy"})"),
            "weight: expected an integer 0-65535, got string");
  (void)rs("good", "127.0.0.1", 7002);
  EXPECT_NE(b.put("/sockvs/v1/c1/junk", "x"), "");
  const Desired d = b.build({});
  EXPECT_EQ(d.services.size(), 1U);  // the rest applies
  EXPECT_EQ(d.services.at("good").dests.size(), 1U);
  EXPECT_EQ(d.problems.size(), 3U);
  EXPECT_EQ(d.problems.at(bad_key), "port: 99999 out of range 1-65535");
  EXPECT_TRUE(d.problems.contains("/sockvs/v1/c1/junk"));
  EXPECT_TRUE(d.problems.contains(layout.static_key("good", A("127.0.0.1"), 7001)));
}

TEST_F(DesiredTest, LastGoodValueStays) {
  svc("redis", kSvc);
  (void)rs("redis", "127.0.0.1", 7001, R"({"weight":4})");
  EXPECT_EQ(rs("redis", "127.0.0.1", 7001, R"({"weight":70000})"),
            "weight: 70000 out of range 0-65535 (its last good value stays in force)");
  const std::string problem = b.put(layout.service_key("redis"), "{oops");
  EXPECT_NE(problem.find("its last good value stays in force"), std::string::npos) << problem;
  EXPECT_EQ(problem, b.build({}).problems.at(layout.service_key("redis")));
  const Desired d = b.build({});
  ASSERT_EQ(d.services.size(), 1U);
  EXPECT_EQ(d.services.at("redis").service.sched_name, "rr");
  EXPECT_EQ(d.services.at("redis").dests.at(0).weight, 4U);
  // Deleting the key forgets it.
  b.erase(layout.static_key("redis", A("127.0.0.1"), 7001));
  EXPECT_TRUE(b.build({}).services.at("redis").dests.empty());
}

TEST_F(DesiredTest, NeverGoodServiceKeepsWhatWasApplied) {
  Table applied;
  applied["redis"] = parse_service_value(kSvc);
  EXPECT_NE(b.put(layout.service_key("redis"), "not json"), "");
  EXPECT_TRUE(b.build({}).services.empty());
  const Desired d = b.build(applied);
  ASSERT_EQ(d.services.size(), 1U);
  EXPECT_NE(d.problems.at(layout.service_key("redis")).find("stays as it was applied"),
            std::string::npos);
}

TEST_F(DesiredTest, PrecedenceEpOverRsOverInline) {
  svc("s", R"({"protocol":"tcp","address":"10.255.0.1","port":80,
               "dests":[{"address":"10.0.0.1","port":80,"weight":9},
                        {"address":"10.0.0.2","port":80,"weight":9}]})");
  (void)rs("s", "10.0.0.1", 80, R"({"weight":5})");
  (void)rs("s", "10.0.0.2", 80, R"({"weight":5})");
  (void)ep("s", "10.0.0.2", 80, R"({"weight":0})");  // draining
  const Desired d = b.build({});
  const auto& dests = d.services.at("s").dests;
  ASSERT_EQ(dests.size(), 2U);
  EXPECT_EQ(dests[0].weight, 5U);
  EXPECT_EQ(dests[1].weight, 0U);
}

TEST_F(DesiredTest, OrphansFamiliesAndConflicts) {
  (void)ep("nosuch", "10.0.0.1", 80);
  svc("v4", kSvc);
  (void)rs("v4", "fd00::1", 80);
  svc("dup", kSvc);  // the same service as v4, by another name
  (void)rs("dup", "fd00::2", 80);
  const Desired d = b.build({});
  EXPECT_EQ(d.services.size(), 1U);
  EXPECT_TRUE(d.services.at("dup").dests.empty());  // "dup" sorts first and keeps it
  EXPECT_NE(d.problems.at(layout.endpoint_key("nosuch", A("10.0.0.1"), 80)).find("no service"),
            std::string::npos);
  EXPECT_NE(d.problems.at(layout.service_key("v4")).find("is already service 'dup'"),
            std::string::npos);
  EXPECT_NE(d.problems.at(layout.static_key("v4", A("fd00::1"), 80)).find("not usable"),
            std::string::npos);
  EXPECT_NE(d.problems.at(layout.static_key("dup", A("fd00::2"), 80))
                .find("is IPv6 but service 'dup' is IPv4"),
            std::string::npos);
}

}  // namespace
}  // namespace agent
