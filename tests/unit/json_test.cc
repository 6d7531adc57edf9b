// sockvsadm --json: the writer, the parser (round trip, errors with their
// position), and -L / -S / -R --json end to end against the in-memory module.
#include "json.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "app.h"
#include "fake_api.h"

namespace sockvsadm {
namespace {

using sockvs::testing::FakeApi;
using Json = nlohmann::json;

sockvs::Address addr(const char* text) { return sockvs::Address::parse(text).value(); }

// A table with every setting away from its default somewhere.
std::vector<ServiceEntry> sample() {
  ServiceEntry a;
  a.service.protocol = IPPROTO_TCP;
  a.service.addr = addr("10.0.0.1");
  a.service.port = 6379;
  a.service.sched_name = "mh";
  a.service.hash_key = sockvs::HashKey::kLocal;
  a.service.shard_policy = sockvs::ShardPolicy::kLc;
  a.service.terminate = sockvs::Terminate::kAll;
  a.service.stats = {12, 3, 2, 6};
  sockvs::RealServer d;
  d.addr = addr("192.168.1.5");
  d.port = 6380;
  d.weight = 2;
  d.u_threshold = 100;
  d.l_threshold = 50;
  d.shards = 4;
  d.active_conns = 3;
  d.inact_conns = 1;
  d.shard_conns = {1, 1, 1, 1};
  d.stats.conns = 9;
  d.stats.killed = 4;
  a.dests.push_back(d);
  sockvs::RealServer e;
  e.addr = addr("192.168.1.6");
  e.port = 6379;
  e.weight = 0;
  e.u_threshold = 0;
  e.l_threshold = 0;
  e.shards = 1;
  a.dests.push_back(e);

  ServiceEntry b;
  b.service.protocol = IPPROTO_UDP;
  b.service.addr = addr("fd00::1");
  b.service.port = 53;
  b.service.sched_name = "wrr";
  b.service.hash_key = sockvs::HashKey::kTgid;
  b.service.shard_policy = sockvs::ShardPolicy::kRr;
  b.service.terminate = sockvs::Terminate::kUdp;
  sockvs::RealServer f;
  f.addr = addr("fd00::2");
  f.port = 5353;
  f.weight = 65535;
  f.u_threshold = 0;
  f.l_threshold = 0;
  f.shards = 1;
  b.dests.push_back(f);
  return {a, b};
}

// Only the configuration: what parse_json gives back.
std::vector<ServiceEntry> config_only(std::vector<ServiceEntry> entries) {
  for (auto& e : entries) {
    e.service.stats = {};
    e.service.num_dests = 0;
    for (auto& d : e.dests) {
      d.active_conns = 0;
      d.inact_conns = 0;
      d.shard_conns.clear();
      d.overloaded = false;
      d.stats = {};
    }
  }
  return entries;
}

std::string error_of(const std::string& text) {
  try {
    parse_json(text);
  } catch (const JsonError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Json, SaveFormIsTheDocumentedSchema) {
  EXPECT_EQ(format_json(sample(), JsonView{}),
            R"({
  "version": 1,
  "services": [
    {
      "protocol": "tcp",
      "address": "10.0.0.1",
      "port": 6379,
      "scheduler": "mh",
      "flags": [],
      "hash_key": "local",
      "shard_policy": "lc",
      "terminate": "all",
      "dests": [
        {
          "address": "192.168.1.5",
          "port": 6380,
          "weight": 2,
          "upper": 100,
          "lower": 50,
          "shards": 4
        },
        {
          "address": "192.168.1.6",
          "port": 6379,
          "weight": 0,
          "upper": 0,
          "lower": 0,
          "shards": 1
        }
      ]
    },
    {
      "protocol": "udp",
      "address": "fd00::1",
      "port": 53,
      "scheduler": "wrr",
      "flags": [],
      "hash_key": "tgid",
      "shard_policy": "rr",
      "terminate": "udp",
      "dests": [
        {
          "address": "fd00::2",
          "port": 5353,
          "weight": 65535,
          "upper": 0,
          "lower": 0,
          "shards": 1
        }
      ]
    }
  ]
}
)");
}

TEST(Json, ListFormAddsRuntimeAndStats) {
  const sockvs::Info info{"0.1.0", 2, "kprobe", "6.1.0-test", 256, 64, 5};
  const std::string plain = format_json(sample(), JsonView{true, false}, info);
  EXPECT_NE(plain.find(R"("module": {
    "version": "0.1.0",
    "hook": "kprobe",
    "kernel": "6.1.0-test",
    "services": 2,
    "max_services": 256,
    "max_dests": 64,
    "untracked": 5,
    "templates": 0,
    "max_templates": 0
  })"),
            std::string::npos)
      << plain;
  EXPECT_NE(plain.find(R"("active_conns": 3,
          "inact_conns": 1,
          "overloaded": false,
          "shard_conns": [
            1,
            1,
            1,
            1
          ])"),
            std::string::npos)
      << plain;
  EXPECT_EQ(plain.find("\"stats\""), std::string::npos);
  const std::string stats = format_json(sample(), JsonView{true, true}, info);
  EXPECT_NE(stats.find(R"("stats": {
        "conns": 12,
        "refused": 3,
        "untracked": 2,
        "killed": 6,
        "ejected": 0,
        "failed": 0
      })"),
            std::string::npos)
      << stats;
  EXPECT_NE(stats.find(R"("stats": {
            "conns": 9,
            "killed": 4,
            "ejected": 0,
            "failed": 0
          })"),
            std::string::npos)
      << stats;
}

TEST(Json, RoundTripsBothForms) {
  const auto want = config_only(sample());
  EXPECT_EQ(parse_json(format_json(sample(), JsonView{})), want);
  // What -L --json --stats prints reads back the same (runtime keys ignored).
  const sockvs::Info info{"0.1.0", 2, "kprobe", "6.1.0-test", 256, 64};
  EXPECT_EQ(parse_json(format_json(sample(), JsonView{true, true}, info)), want);
  EXPECT_EQ(parse_json(R"({"version": 1, "services": []})"), std::vector<ServiceEntry>{});
}

TEST(Json, RealPeernameFlagRoundTrips) {
  const auto entries = parse_json(R"({"version": 1, "services": [
    {"protocol": "tcp", "address": "10.0.0.1", "port": 80, "flags": ["real-peername"]}]})");
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].service.flags, SOCK_VS_SVC_F_REAL_PEERNAME);
  EXPECT_NE(format_json(entries, JsonView{}).find(R"("flags": [
        "real-peername"
      ])"),
            std::string::npos);
  EXPECT_EQ(parse_json(format_json(entries, JsonView{})).at(0).service.flags,
            SOCK_VS_SVC_F_REAL_PEERNAME);
  // -R --json turns the flag into -A ... --real-peername.
  const JsonRules rules = json_rules(entries);
  ASSERT_EQ(rules.lines.size(), 1U);
  EXPECT_TRUE(rules.lines[0].command.real_peername);
}

TEST(Json, AbsentSettingsStayUnset) {
  const auto entries = parse_json(R"({"version": 1, "services": [
    {"protocol": "tcp", "address": "10.0.0.1", "port": 80,
     "dests": [{"address": "10.0.0.2", "port": 8080}]}]})");
  ASSERT_EQ(entries.size(), 1U);
  const auto& s = entries[0].service;
  EXPECT_EQ(s.sched_name, "");
  EXPECT_FALSE(s.hash_key);
  EXPECT_FALSE(s.shard_policy);
  EXPECT_FALSE(s.terminate);
  ASSERT_EQ(entries[0].dests.size(), 1U);
  const auto& d = entries[0].dests[0];
  EXPECT_EQ(d.weight, 1U);
  EXPECT_FALSE(d.u_threshold);
  EXPECT_FALSE(d.l_threshold);
  EXPECT_FALSE(d.shards);
  // -A without -s: the default scheduler, as the CLI does.
  const JsonRules rules = json_rules(entries);
  ASSERT_EQ(rules.lines.size(), 2U);
  EXPECT_EQ(rules.lines[0].command.scheduler, "wrr");
  EXPECT_FALSE(rules.lines[0].command.terminate);  // the module's default
  EXPECT_EQ(rules.lines[1].command.op, Op::kAddDest);
}

TEST(Json, TerminatePolicyRoundTrips) {
  for (const auto& [name, policy] :
       {std::pair{"none", sockvs::Terminate::kNone}, std::pair{"udp", sockvs::Terminate::kUdp},
        std::pair{"all", sockvs::Terminate::kAll}}) {
    const auto entries = parse_json(std::string(R"({"version": 1, "services": [
      {"protocol": "udp", "address": "10.0.0.1", "port": 53, "terminate": ")") +
                                    name + R"("}]})");
    ASSERT_EQ(entries.size(), 1U) << name;
    EXPECT_EQ(entries[0].service.terminate, policy) << name;
    EXPECT_NE(format_json(entries, JsonView{}).find(std::string("\"terminate\": \"") + name + "\""),
              std::string::npos)
        << name;
    // -R --json turns it into -A ... --terminate NAME.
    const JsonRules rules = json_rules(entries);
    ASSERT_EQ(rules.lines.size(), 1U);
    EXPECT_EQ(rules.lines[0].command.terminate, policy) << name;
  }
}

std::vector<ServiceEntry> skip_sample() {
  ServiceEntry a;
  a.service = sockvs::Service::from_key({IPPROTO_TCP, addr("10.0.0.1"), 80}, "rr");
  a.service.skip = std::vector<sockvs::SkipRule>{sockvs::SkipUid{4242, 4243},
                                                 sockvs::SkipCgroup{"/svs-72-skip", 31},
                                                 sockvs::SkipMark{0x10, 0xf0}};
  return {a};
}

TEST(Json, SkipRulesAreObjectsInOrder) {
  const std::string saved = format_json(skip_sample(), JsonView{});
  EXPECT_NE(saved.find(R"("terminate": "udp",
      "skip": [
        {
          "uid": [
            4242,
            4243
          ]
        },
        {
          "cgroup": "/svs-72-skip"
        },
        {
          "mark": 16,
          "mask": 240
        }
      ],
      "dests": [])"),
            std::string::npos)
      << saved;
  // -L adds the cgroup's id; -S does not.
  EXPECT_EQ(saved.find("cgroup_id"), std::string::npos) << saved;
  const std::string listed = format_json(skip_sample(), JsonView{true, false});
  EXPECT_NE(listed.find(R"("cgroup": "/svs-72-skip",
          "cgroup_id": 31)"),
            std::string::npos)
      << listed;
  // Both read back the same rules (the id is output only).
  auto want = skip_sample();
  std::get<sockvs::SkipCgroup>(want[0].service.skip->at(1)).id = 0;
  EXPECT_EQ(parse_json(saved).at(0).service.skip, want[0].service.skip);
  EXPECT_EQ(parse_json(listed).at(0).service.skip, want[0].service.skip);
  // Without rules there is no "skip" key.
  auto plain = skip_sample();
  plain[0].service.skip.reset();
  EXPECT_EQ(format_json(plain, JsonView{}).find("skip"), std::string::npos);
  plain[0].service.skip.emplace();
  EXPECT_EQ(format_json(plain, JsonView{}).find("skip"), std::string::npos);
}

TEST(Json, SkipRulesReadBack) {
  const auto rules_of = [](const std::string& skip) {
    const auto entries = parse_json(
        R"({"version": 1, "services": [{"protocol": "udp", "address": "10.0.0.1", "port": 53, )"
        R"("skip": )" +
        skip + "}]}");
    return entries.at(0).service.skip;
  };
  using Rules = std::vector<sockvs::SkipRule>;
  EXPECT_EQ(rules_of("[]"), Rules{});  // given, empty: no rules (-E: cleared)
  EXPECT_EQ(rules_of(R"([{"uid": [5]}, {"mark": 7}, {"cgroup": "/sys/fs/cgroup/a//b/"}])"),
            (Rules{sockvs::SkipUid{5, 5}, sockvs::SkipMark{7, 0xffffffffU},
                   sockvs::SkipCgroup{"/a/b", 0}}));
  EXPECT_EQ(rules_of(R"([{"uid": [0, 4294967294]}, {"mark": 0, "mask": 0}])"),
            (Rules{sockvs::SkipUid{0, 4294967294U}, sockvs::SkipMark{0, 0}}));
  // -R --json turns them into the -A line's rules.
  const JsonRules rules = json_rules(parse_json(format_json(skip_sample(), JsonView{})));
  ASSERT_EQ(rules.lines.size(), 1U);
  ASSERT_TRUE(rules.lines[0].command.skip.has_value());
  EXPECT_EQ(rules.lines[0].command.skip->size(), 3U);
  EXPECT_FALSE(json_rules(parse_json(R"({"version": 1, "services": [
    {"protocol": "udp", "address": "10.0.0.1", "port": 53}]})"))
                   .lines[0]
                   .command.skip.has_value());
}

TEST(Json, BadSkipRulesNameTheirPlace) {
  const auto skip = [](const std::string& rules) {
    return error_of(
        R"({"version": 1, "services": [{"protocol": "tcp", "address": "10.0.0.1", "port": 80, )"
        R"("skip": )" +
        rules + "}]}");
  };
  const std::string one_of =
      R"(an exemption is one of {"uid": [MIN, MAX]}, {"cgroup": "/PATH"}, {"mark": N, "mask": N})";
  EXPECT_EQ(skip("{}"), "JSON services[0].skip: expected an array, got object");
  EXPECT_EQ(skip("[1]"), "JSON services[0].skip[0]: expected an object, got number");
  EXPECT_EQ(skip("[{}]"), "JSON services[0].skip[0]: " + one_of);
  EXPECT_EQ(skip(R"([{"uid": [1], "mark": 1}])"), "JSON services[0].skip[0]: " + one_of);
  EXPECT_EQ(skip(R"([{"mark": 1}, {"mask": 1}])"), "JSON services[0].skip[1]: " + one_of);
  EXPECT_EQ(skip(R"([{"uid": [1], "gid": 1}])"), "JSON services[0].skip[0]: unknown key 'gid'");
  EXPECT_EQ(skip(R"([{"uid": 5}])"), "JSON services[0].skip[0].uid: expected an array, got number");
  EXPECT_EQ(skip(R"([{"uid": []}])"), "JSON services[0].skip[0].uid: expected [MIN, MAX] or [UID]");
  EXPECT_EQ(skip(R"([{"uid": [1, 2, 3]}])"),
            "JSON services[0].skip[0].uid: expected [MIN, MAX] or [UID]");
  EXPECT_EQ(skip(R"([{"uid": [1, 4294967295]}])"),
            "JSON services[0].skip[0].uid[1]: 4294967295 out of range 0-4294967294");
  EXPECT_EQ(skip(R"([{"uid": [5, 3]}])"),
            "JSON services[0].skip[0]: uid range ends before it starts");
  EXPECT_EQ(skip(R"([{"mark": 17, "mask": 240}])"),
            "JSON services[0].skip[0]: mark has bits outside its mask");
  EXPECT_EQ(skip(R"([{"mark": 4294967296}])"),
            "JSON services[0].skip[0].mark: 4294967296 out of range 0-4294967295");
  EXPECT_EQ(skip(R"([{"mark": "0x10"}])"),
            "JSON services[0].skip[0].mark: expected an integer 0-4294967295, got string");
  EXPECT_EQ(skip(R"([{"cgroup": "x"}])"),
            "JSON services[0].skip[0].cgroup: invalid cgroup path 'x': not an absolute path (give "
            "it from the cgroup v2 root, e.g. /system.slice/x.service, or under /sys/fs/cgroup)");
  EXPECT_EQ(skip(R"([{"cgroup": "/a/../b"}])"),
            "JSON services[0].skip[0].cgroup: invalid cgroup path '/a/../b': '.' and '..' "
            "components are not allowed");
  EXPECT_EQ(skip(R"([{"cgroup": 5}])"),
            "JSON services[0].skip[0].cgroup: expected a string, got number");
  std::string nine = "[";
  for (int i = 0; i < 9; ++i) {
    nine += std::string(i == 0 ? "" : ", ") + R"({"mark": )" + std::to_string(i) + "}";
  }
  EXPECT_EQ(skip(nine + "]"),
            "JSON services[0].skip: too many exemptions: at most 8 per service, 9 given");
}

TEST(Json, SyntaxErrorsSayLineAndColumn) {
  EXPECT_EQ(error_of("{\"version\": 1,\n \"services\": [}\n"),
            "JSON parse error at line 2, column 15: syntax error while parsing value - "
            "unexpected '}'; expected '[', '{', or a literal");
  EXPECT_EQ(error_of(""),
            "JSON parse error at line 1, column 1: syntax error while parsing value - unexpected "
            "end of input; expected '[', '{', or a literal");
  EXPECT_NE(error_of("{\"version\": 1, \"services\": []} x").find("line 1, column 32"),
            std::string::npos);
  EXPECT_NE(error_of("{\"version\": 1, \"services\": [\"\xff\"]}")
                .find("line 1, column 30: syntax error while parsing value - invalid string: "
                      "ill-formed UTF-8 byte"),
            std::string::npos);
}

// Found by tests/fuzz/fuzz_json: nlohmann throws out_of_range, not
// parse_error, for a number too large for a double; it escaped as an
// internal error (exit status 1) instead of a JSON error (2).
TEST(Json, NumberOverflowIsAJsonError) {
  EXPECT_EQ(error_of(R"({"version": 1, "services": [], "module": {"x": 8888e8881}})"),
            "JSON number overflow parsing '8888e8881'");
  EXPECT_EQ(error_of(R"({"version": 1e999, "services": []})"),
            "JSON number overflow parsing '1e999'");
}

TEST(Json, UnknownKeysAreRejected) {
  EXPECT_EQ(error_of(R"({"version": 1, "services": [], "extra": 0})"),
            "JSON top level: unknown key 'extra'");
  EXPECT_EQ(error_of(R"({"version": 1, "services": [
    {"protocol": "tcp", "address": "10.0.0.1", "port": 80, "sched": "rr"}]})"),
            "JSON services[0]: unknown key 'sched'");
  EXPECT_EQ(error_of(R"({"version": 1, "services": [
    {"protocol": "tcp", "address": "10.0.0.1", "port": 80,
     "dests": [{"address": "10.0.0.2", "port": 80, "wieght": 3}]}]})"),
            "JSON services[0].dests[0]: unknown key 'wieght'");
  EXPECT_EQ(error_of(R"({"version": 1, "version": 1, "services": []})"),
            "JSON: duplicate key 'version'");
}

TEST(Json, BadValuesNameTheirPlace) {
  const auto svc = [](const std::string& fields) {
    return error_of(R"({"version": 1, "services": [{"protocol": "tcp", "address": "10.0.0.1", )" +
                    fields + "}]}");
  };
  const auto dest = [](const std::string& fields) {
    return error_of(
        R"({"version": 1, "services": [{"protocol": "tcp", "address": "10.0.0.1", "port": 80,
           "dests": [{"address": "10.0.0.2", )" +
        fields + "}]}]}");
  };
  EXPECT_EQ(error_of("[]"), "JSON top level: expected an object, got array");
  EXPECT_EQ(error_of(R"({"services": []})"), "JSON top level: missing \"version\"");
  EXPECT_EQ(error_of(R"({"version": 2, "services": []})"),
            "JSON version: unsupported schema version 2 (this sockvsadm reads 1)");
  EXPECT_EQ(error_of(R"({"version": 1})"), "JSON top level: missing \"services\"");
  EXPECT_EQ(error_of(R"({"version": 1, "services": {}})"),
            "JSON services: expected an array, got object");
  EXPECT_EQ(svc(R"("port": 0)"), "JSON services[0].port: 0 out of range 1-65535");
  EXPECT_EQ(svc(R"("port": 65536)"), "JSON services[0].port: 65536 out of range 1-65535");
  EXPECT_EQ(svc(R"("port": -1)"), "JSON services[0].port: -1 out of range 1-65535");
  EXPECT_EQ(svc(R"("port": 80.5)"),
            "JSON services[0].port: expected an integer 1-65535, got number");
  EXPECT_EQ(svc(R"("port": "80")"),
            "JSON services[0].port: expected an integer 1-65535, got string");
  EXPECT_EQ(svc(R"("port": 80, "protocol": "sctp")"), "JSON: duplicate key 'protocol'");
  EXPECT_EQ(svc(R"("port": 80, "scheduler": "r r")"),
            "JSON services[0].scheduler: invalid scheduler name 'r r': 1-15 letters, digits, "
            "'_' or '-'");
  EXPECT_EQ(svc(R"("port": 80, "hash_key": "pid")"),
            "JSON services[0].hash_key: invalid hash key 'pid': expected tgid, local, cgroup or "
            "netns");
  EXPECT_EQ(svc(R"("port": 80, "terminate": "tcp")"),
            "JSON services[0].terminate: invalid terminate policy 'tcp': expected none, udp or "
            "all");
  EXPECT_EQ(svc(R"("port": 80, "terminate": 2)"),
            "JSON services[0].terminate: expected a string, got number");
  EXPECT_EQ(
      svc(R"("port": 80, "flags": ["x"])"),
      "JSON services[0].flags: unknown flag \"x\" (known: \"real-peername\", \"unconnected\")");
  EXPECT_EQ(svc(R"("port": 80, "flags": [1])"),
            "JSON services[0].flags: unknown flag 1 (known: \"real-peername\", \"unconnected\")");
  EXPECT_EQ(svc(R"("port": 80, "flags": ["real-peername", "real-peername"])"),
            "JSON services[0].flags: flag \"real-peername\" is given twice");
  EXPECT_EQ(error_of(R"({"version": 1, "services": [{"protocol": "sctp", "address": "10.0.0.1",
            "port": 1}]})"),
            "JSON services[0].protocol: expected \"tcp\" or \"udp\", got 'sctp'");
  EXPECT_EQ(svc(R"("port": 80, "address": "x")"), "JSON: duplicate key 'address'");
  EXPECT_EQ(dest(R"("port": 80, "weight": 65536)"),
            "JSON services[0].dests[0].weight: 65536 out of range 0-65535");
  EXPECT_EQ(dest(R"("port": 80, "shards": 0)"),
            "JSON services[0].dests[0].shards: 0 out of range 1-1024");
  EXPECT_EQ(dest(R"("port": 80, "upper": 2147483648)"),
            "JSON services[0].dests[0].upper: 2147483648 out of range 0-2147483647");
  EXPECT_EQ(dest(R"("port": 80, "upper": 10, "lower": 11)"),
            "JSON services[0].dests[0].lower: lower threshold 11 is above the upper threshold 10");
  EXPECT_EQ(dest(R"("port": 80, "lower": 1)"),
            "JSON services[0].dests[0].lower: lower threshold 1 is above the upper threshold 0");
  EXPECT_EQ(error_of(R"({"version": 1, "services": [{"protocol": "tcp", "address": "10.0.0.1",
            "port": 80, "dests": [{"address": "fd00::2", "port": 80}]}]})"),
            "JSON services[0].dests[0].address: real server fd00::2 is IPv6 but the service is "
            "IPv4");
  EXPECT_EQ(error_of(R"({"version": 1, "services": [{"protocol": "tcp", "address": "10.0.0.1:80",
            "port": 80}]})"),
            "JSON services[0].address: invalid address '10.0.0.1:80' (numeric IPv4 or IPv6, "
            "without brackets or port)");
  EXPECT_EQ(error_of(R"({"version": 1, "services": [
              {"protocol": "tcp", "address": "10.0.0.1", "port": 80},
              {"protocol": "tcp", "address": "10.0.0.1", "port": 80}]})"),
            "JSON services[1]: service TCP 10.0.0.1:80 is given twice");
}

TEST(Json, RelabelNamesTheJsonPlace) {
  const JsonRules rules = json_rules(config_only(sample()));
  ASSERT_EQ(rules.labels.size(), 5U);
  EXPECT_EQ(rules.labels[0], "services[0] (TCP 10.0.0.1:6379)");
  EXPECT_EQ(rules.labels[4], "services[1].dests[0] ([fd00::2]:5353)");
  EXPECT_EQ(rules.relabel("line 5: no such service (x)"),
            "JSON services[1].dests[0] ([fd00::2]:5353): no such service (x)");
  EXPECT_EQ(rules.relabel("line 6: out of range"), "line 6: out of range");
  EXPECT_EQ(rules.relabel("something else"), "something else");
}

using Proxy = sockvs::testing::FakeProxy;

struct Result {
  int status;
  std::string out;
  std::string err;
};

class JsonAppTest : public ::testing::Test {
 protected:
  Result run_args(std::vector<std::string> args, const std::string& input = "") {
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    const int status = run(args, in, out, err, [this]() -> std::unique_ptr<sockvs::Api> {
      ++connects;
      return std::make_unique<Proxy>(fake);
    });
    return {status, out.str(), err.str()};
  }

  std::string ok(std::vector<std::string> args, const std::string& input = "") {
    const Result r = run_args(std::move(args), input);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return r.out;
  }

  void build_config() {
    ok({"-A", "-t", "10.0.0.1:6379", "-s", "mh", "--hash-key", "local", "--shard-policy", "lc",
        "--terminate", "all"});
    ok({"-a", "-t", "10.0.0.1:6379", "-r", "192.168.1.5:6380", "-w", "2", "-x", "100", "-y", "50",
        "--shards", "4"});
    ok({"-a", "-t", "10.0.0.1:6379", "-r", "192.168.1.6", "-w", "0"});
    ok({"-A", "-u", "[fd00::1]:53"});
    ok({"-a", "-u", "[fd00::1]:53", "-r", "[fd00::2]:5353", "-w", "65535"});
  }

  FakeApi fake;
  int connects = 0;
};

TEST_F(JsonAppTest, SaveClearRestoreRoundTrip) {
  build_config();
  const std::string saved = ok({"-S", "--json"});
  EXPECT_EQ(saved, format_json(config_only(sample()), JsonView{}));
  const std::string text_saved = ok({"-S", "-n"});
  const std::string listed = ok({"-L", "-n", "--json"});
  ok({"-C"});
  EXPECT_EQ(ok({"-S", "--json"}), "{\n  \"version\": 1,\n  \"services\": []\n}\n");
  ok({"-R", "--json"}, saved);
  EXPECT_EQ(ok({"-S", "--json"}), saved);
  EXPECT_EQ(ok({"-S", "-n"}), text_saved);
  EXPECT_EQ(ok({"-L", "-n", "--json"}), listed);
  // -L --json output is valid -R --json input too.
  ok({"-C"});
  ok({"-R", "--json"}, listed);
  EXPECT_EQ(ok({"-S", "--json"}), saved);
}

TEST_F(JsonAppTest, ListOneServiceWithStats) {
  build_config();
  fake.table[0].svc.stats = {7, 1};
  fake.table[0].dests[0].stats.conns = 5;
  fake.table[0].dests[0].stats.killed = 8;
  const std::string out = ok({"-L", "-n", "--stats", "--json", "-t", "10.0.0.1:6379"});
  const auto entries = parse_json(out);
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0].dests.size(), 2U);
  EXPECT_NE(out.find("\"refused\": 1"), std::string::npos) << out;
  EXPECT_NE(out.find("\"conns\": 5,\n            \"killed\": 8"), std::string::npos) << out;
  EXPECT_NE(out.find("\"terminate\": \"all\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"module\""), std::string::npos) << out;
}

TEST_F(JsonAppTest, MalformedInputAppliesNothingAndDoesNotConnect) {
  const Result r = run_args({"-R", "--json"}, R"({"version": 1, "services": [
    {"protocol": "tcp", "address": "10.0.0.9", "port": 80},
    {"protocol": "tcp", "address": "10.0.0.10", "port": 0}]})");
  EXPECT_EQ(r.status, kExitUsage);
  EXPECT_EQ(r.err,
            "sockvsadm: JSON services[1].port: 0 out of range 1-65535 (nothing was applied)\n");
  EXPECT_EQ(connects, 0);
  EXPECT_TRUE(fake.table.empty());
  EXPECT_EQ(run_args({"-R", "--json"}, "{").status, kExitUsage);
  EXPECT_EQ(connects, 0);
}

TEST_F(JsonAppTest, ModuleRejectionRollsBack) {
  ok({"-A", "-t", "10.0.0.1:80", "-s", "rr"});
  const Result r = run_args({"-R", "--json"}, R"({"version": 1, "services": [
    {"protocol": "tcp", "address": "10.0.0.9", "port": 80, "scheduler": "rr",
     "dests": [{"address": "10.0.0.2", "port": 8080}]},
    {"protocol": "tcp", "address": "10.0.0.10", "port": 80, "scheduler": "nosuch"}]})");
  EXPECT_EQ(r.status, kExitFailure);
  EXPECT_EQ(r.err.rfind("sockvsadm: JSON services[1] (TCP 10.0.0.10:80): unknown scheduler", 0), 0U)
      << r.err;
  EXPECT_NE(r.err.find("the earlier lines were rolled back"), std::string::npos) << r.err;
  ASSERT_EQ(fake.table.size(), 1U);
  EXPECT_EQ(fake.table[0].svc.addr, addr("10.0.0.1"));
}

TEST_F(JsonAppTest, SkipRulesListSaveClearRestore) {
  ok({"-A", "-t", "10.0.0.1:80", "-s", "rr", "--skip-uid", "4242-4243", "--skip-cgroup",
      "/sys/fs/cgroup/svs-72-skip", "--skip-mark", "0x10/0xf0"});
  ok({"-a", "-t", "10.0.0.1:80", "-r", "127.0.0.1:9281"});
  ok({"-A", "-u", "10.0.0.1:53"});
  const std::string listed = ok({"-L", "-n", "--json"});
  const Json doc = Json::parse(listed);
  ASSERT_EQ(doc["services"][0]["skip"].size(), 3U) << listed;  // what case 72 checks
  EXPECT_EQ(doc["services"][0]["skip"][0]["uid"], Json::array({4242, 4243}));
  EXPECT_EQ(doc["services"][0]["skip"][1]["cgroup"], "/svs-72-skip");
  EXPECT_TRUE(doc["services"][0]["skip"][1].contains("cgroup_id"));
  EXPECT_EQ(doc["services"][0]["skip"][2]["mark"], 16);
  EXPECT_EQ(doc["services"][0]["skip"][2]["mask"], 240);
  EXPECT_FALSE(doc["services"][1].contains("skip"));
  const std::string saved = ok({"-S", "--json"});
  const std::string text_saved = ok({"-S", "-n"});
  ok({"-C"});
  ok({"-R", "--json"}, saved);
  EXPECT_EQ(ok({"-S", "--json"}), saved);
  EXPECT_EQ(ok({"-S", "-n"}), text_saved);
  EXPECT_EQ(ok({"-L", "-n", "--json"}), listed);
  ok({"-C"});
  ok({"-R", "--json"}, listed);
  EXPECT_EQ(ok({"-S", "--json"}), saved);
}

TEST_F(JsonAppTest, JsonOnlyWhereItMeansSomething) {
  EXPECT_EQ(run_args({"-A", "-t", "10.0.0.1:80", "--json"}).status, kExitUsage);
  EXPECT_EQ(run_args({"-C", "--json"}).status, kExitUsage);
  EXPECT_EQ(ok({"--json"}),
            "{\n  \"version\": 1,\n  \"module\": {\n    \"version\": \"0.1.0\",\n"
            "    \"hook\": \"kprobe\",\n    \"kernel\": \"6.1.0-test\",\n"
            "    \"services\": 0,\n    \"max_services\": 256,\n"
            "    \"max_dests\": 64,\n    \"untracked\": 0,\n    \"templates\": 0,\n"
            "    \"max_templates\": 0\n  },\n  \"services\": []\n}\n");
  EXPECT_EQ(ok({"-R", "--json"}, R"({"version": 1, "services": []})"), "");
}

}  // namespace
}  // namespace sockvsadm
