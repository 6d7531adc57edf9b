// Passive health (--eject, --eject-time, --eject-time-max,
// --eject-max-percent; SOCK_VS_SVC_ATTR_EJECT*, SOCK_VS_DEST_ATTR_EJECTED,
// EJECT_LEFT, FAILS, SOCK_VS_STATS_ATTR_EJECTED, FAILED): the command line,
// the messages, the output, JSON, and sockvsadm end to end against the
// in-memory module.
#include <gtest/gtest.h>

#include <linux/sock_vs.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "app.h"
#include "cli.h"
#include "fake_api.h"
#include "format.h"
#include "json.h"
#include "nl_test_util.h"
#include "sockvs/error.h"
#include "sockvs/messages.h"

namespace sockvsadm {
namespace {

using sockvs::testing::FakeApi;
using sockvs::testing::kFamily;
using sockvs::testing::parse_request;
using sockvs::testing::ReplyBuilder;

const std::uint8_t kVip4[4] = {10, 0, 0, 1};
const std::uint8_t kReal4[4] = {192, 168, 1, 5};

sockvs::Address addr(const char *text) { return *sockvs::Address::parse(text); }

sockvs::ServiceKey tcp_key() { return sockvs::ServiceKey{IPPROTO_TCP, addr("10.0.0.1"), 80}; }

int error_code(const std::function<void()> &f) {
  try {
    f();
  } catch (const sockvs::Error &e) {
    return e.code();
  }
  return 0;
}

std::string error_text(const std::function<void()> &f) {
  try {
    f();
  } catch (const sockvs::Error &e) {
    return e.what();
  }
  return "<no error>";
}

Command parse(std::vector<std::string> args) { return parse_command(args); }

std::string usage_error(std::vector<std::string> args) {
  try {
    parse_command(args);
  } catch (const UsageError &e) {
    return e.what();
  }
  return "<no error>";
}

// --- command line
// ------------------------------------------------------------------

TEST(EjectCli, OptionsOnAddAndEdit) {
  const Command a = parse({"-A", "-t", "10.0.0.1:80", "-s", "p2c", "--eject", "3", "--eject-time",
                           "10", "--eject-time-max", "60", "--eject-max-percent", "34"});
  EXPECT_EQ(a.eject, 3U);
  EXPECT_EQ(a.eject_time, 10U);
  EXPECT_EQ(a.eject_time_max, 60U);
  EXPECT_EQ(a.eject_max_percent, 34U);
  EXPECT_EQ(a.scheduler, "p2c");
  // Not given: not set (-A: the module's defaults; -E: unchanged).
  const Command e = parse({"-E", "-t", "10.0.0.1:80", "--eject=0"});
  EXPECT_EQ(e.eject, 0U);
  EXPECT_FALSE(e.eject_time.has_value());
  EXPECT_FALSE(e.eject_time_max.has_value());
  EXPECT_FALSE(e.eject_max_percent.has_value());
  // The bounds.
  EXPECT_EQ(parse({"-A", "-t", "10.0.0.1:80", "--eject", "1000"}).eject, 1000U);
  EXPECT_EQ(parse({"-A", "-t", "10.0.0.1:80", "--eject-time", "1", "--eject-time-max", "86400"})
                .eject_time_max,
            86400U);
  EXPECT_EQ(parse({"-A", "-t", "10.0.0.1:80", "--eject-max-percent", "100"}).eject_max_percent,
            100U);
  // -E with one time alone: the module compares it with the other's value.
  EXPECT_EQ(parse({"-E", "-t", "10.0.0.1:80", "--eject-time", "600"}).eject_time, 600U);
  // "--eject" is an exact name, not an ambiguous prefix of the others.
  EXPECT_EQ(parse({"-A", "-t", "10.0.0.1:80", "--eject", "2"}).eject, 2U);
  EXPECT_EQ(parse({"-A", "-t", "10.0.0.1:80", "--eject-m", "20"}).eject_max_percent, 20U);
  EXPECT_NE(usage_error({"-A", "-t", "10.0.0.1:80", "--eject-t", "20"}).find("ambiguous"),
            std::string::npos);
}

TEST(EjectCli, BadValuesAreUsageErrors) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--eject", "-1"}, "invalid failures before ejection (--eject) '-1': expected 0-1000"},
      {{"--eject", "1001"}, "invalid failures before ejection (--eject) '1001': expected 0-1000"},
      {{"--eject", "x"}, "invalid failures before ejection (--eject) 'x': expected 0-1000"},
      {{"--eject", ""}, "invalid failures before ejection (--eject) '': expected 0-1000"},
      {{"--eject-time", "0"}, "invalid ejection time (--eject-time) '0': expected 1-86400"},
      {{"--eject-time", "86401"}, "invalid ejection time (--eject-time) '86401': expected 1-86400"},
      {{"--eject-time-max", "0"},
       "invalid longest ejection time (--eject-time-max) '0': expected "
       "1-86400"},
      {{"--eject-max-percent", "0"},
       "invalid ejection bound in percent (--eject-max-percent) '0': expected "
       "1-100"},
      {{"--eject-max-percent", "101"},
       "invalid ejection bound in percent (--eject-max-percent) '101': "
       "expected 1-100"},
      {{"--eject-time", "60", "--eject-time-max", "30"},
       "ejection time 60 (--eject-time) is above the longest ejection time 30 "
       "(--eject-time-max)"},
      {{"--eject-time", "301"},
       "ejection time 301 (--eject-time) is above the longest ejection time "
       "300 (the default: "
       "give --eject-time-max)"},
      {{"--eject", "3", "--eject", "4"}, "option --eject given more than once"},
  };
  for (const auto &[opts, message] : cases) {
    std::vector<std::string> args = {"-A", "-t", "10.0.0.1:80"};
    args.insert(args.end(), opts.begin(), opts.end());
    EXPECT_EQ(usage_error(args), message) << opts[0];
  }
  EXPECT_EQ(usage_error({"-A", "-u", "10.0.0.1:53", "--eject", "3"}),
            "option --eject is for TCP services (-t): passive health watches "
            "TCP handshakes");
  EXPECT_EQ(usage_error({"-E", "-u", "10.0.0.1:53", "--eject-max-percent", "10"}),
            "option --eject-max-percent is for TCP services (-t): passive health "
            "watches TCP "
            "handshakes");
}

TEST(EjectCli, OnlyOnAddAndEditService) {
  EXPECT_EQ(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "192.168.1.5", "--eject", "3"}),
            "option --eject is not valid with -a");
  EXPECT_EQ(usage_error({"-L", "--eject-time", "3"}), "option --eject-time is not valid with -L");
  EXPECT_EQ(usage_error({"-D", "-t", "10.0.0.1:80", "--eject-max-percent", "3"}),
            "option --eject-max-percent is not valid with -D");
}

TEST(EjectCli, UsageDocumentsIt) {
  const std::string text = usage_text();
  for (const char *word : {"--eject N", "--eject-time S", "--eject-time-max S",
                           "--eject-max-percent P", "Passive health", "p2c", "probing"}) {
    EXPECT_NE(text.find(word), std::string::npos) << word;
  }
}

// --- messages
// ----------------------------------------------------------------------

TEST(EjectMessages, SentOnlyWhenSet) {
  sockvs::Service svc = sockvs::Service::from_key(tcp_key(), "p2c");
  for (auto *build : {&sockvs::build_new_service, &sockvs::build_set_service}) {
    auto msg = (*build)(kFamily, svc);
    auto p = parse_request(msg);
    for (const int a : {SOCK_VS_SVC_ATTR_EJECT, SOCK_VS_SVC_ATTR_EJECT_TIME,
                        SOCK_VS_SVC_ATTR_EJECT_TIME_MAX, SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT}) {
      EXPECT_EQ(p.svc[a], nullptr) << a;
    }
    sockvs::Service with = svc;
    with.eject = 3;
    with.eject_time = 10;
    with.eject_time_max = 600;
    with.eject_max_percent = 100;
    msg = (*build)(kFamily, with);
    p = parse_request(msg);
    ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_EJECT], nullptr);
    EXPECT_EQ(nla_len(p.svc[SOCK_VS_SVC_ATTR_EJECT]), 4);
    EXPECT_EQ(nla_get_u32(p.svc[SOCK_VS_SVC_ATTR_EJECT]), 3U);
    EXPECT_EQ(nla_get_u32(p.svc[SOCK_VS_SVC_ATTR_EJECT_TIME]), 10U);
    EXPECT_EQ(nla_get_u32(p.svc[SOCK_VS_SVC_ATTR_EJECT_TIME_MAX]), 600U);
    ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT], nullptr);
    EXPECT_EQ(nla_len(p.svc[SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT]), 1);
    EXPECT_EQ(nla_get_u8(p.svc[SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT]), 100U);
    // 0 (off) is sent when given.
    with = svc;
    with.eject = 0;
    msg = (*build)(kFamily, with);
    p = parse_request(msg);
    ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_EJECT], nullptr);
    EXPECT_EQ(nla_get_u32(p.svc[SOCK_VS_SVC_ATTR_EJECT]), 0U);
  }
}

TEST(EjectMessages, OutOfRangeIsEINVALBeforeSending) {
  const auto problem = [](const std::function<void(sockvs::Service &)> &set) {
    sockvs::Service svc = sockvs::Service::from_key(tcp_key(), "rr");
    set(svc);
    return error_text([&] { sockvs::build_new_service(kFamily, svc); });
  };
  EXPECT_EQ(problem([](sockvs::Service &s) { s.eject = 1001; }),
            "ejection after 1001 failures out of range 0-1000");
  EXPECT_EQ(problem([](sockvs::Service &s) { s.eject_time = 0; }),
            "ejection time 0 out of range 1-86400");
  EXPECT_EQ(problem([](sockvs::Service &s) { s.eject_time_max = 86401; }),
            "longest ejection time 86401 out of range 1-86400");
  EXPECT_EQ(problem([](sockvs::Service &s) {
              s.eject_time = 20;
              s.eject_time_max = 10;
            }),
            "ejection time 20 above the longest ejection time 10");
  EXPECT_EQ(problem([](sockvs::Service &s) { s.eject_max_percent = 0; }),
            "ejection bound 0% out of range 1-100");
  EXPECT_EQ(problem([](sockvs::Service &s) { s.eject_max_percent = 101; }),
            "ejection bound 101% out of range 1-100");
  sockvs::Service svc = sockvs::Service::from_key(tcp_key(), "rr");
  svc.eject_max_percent = 0;
  EXPECT_EQ(error_code([&] { sockvs::build_set_service(kFamily, svc); }), EINVAL);
}

TEST(EjectMessages, ServiceReply) {
  ReplyBuilder b(SOCK_VS_CMD_GET_SERVICE, NLM_F_MULTI);
  b.nest(SOCK_VS_ATTR_SERVICE)
      .u16(SOCK_VS_SVC_ATTR_AF, AF_INET)
      .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_SVC_ATTR_ADDR, kVip4, 4)
      .u16(SOCK_VS_SVC_ATTR_PORT, 80)
      .u32(SOCK_VS_SVC_ATTR_EJECT, 3)
      .u32(SOCK_VS_SVC_ATTR_EJECT_TIME, 30)
      .u32(SOCK_VS_SVC_ATTR_EJECT_TIME_MAX, 300)
      .u8(SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT, 50)
      .nest(SOCK_VS_SVC_ATTR_STATS)
      .u64(SOCK_VS_STATS_ATTR_CONNS, 10)
      .u64(SOCK_VS_STATS_ATTR_EJECTED, 2)
      .u64(SOCK_VS_STATS_ATTR_FAILED, 7)
      .end()
      .end();
  const sockvs::Service svc = sockvs::parse_service_reply(b.hdr());
  EXPECT_EQ(svc.eject, 3U);
  EXPECT_EQ(svc.eject_time, 30U);
  EXPECT_EQ(svc.eject_time_max, 300U);
  EXPECT_EQ(svc.eject_max_percent, 50U);
  EXPECT_EQ(svc.stats.conns, 10U);
  EXPECT_EQ(svc.stats.ejected, 2U);
  EXPECT_EQ(svc.stats.failed, 7U);

  // A module without passive health: nothing.
  ReplyBuilder old(SOCK_VS_CMD_GET_SERVICE, NLM_F_MULTI);
  old.nest(SOCK_VS_ATTR_SERVICE)
      .u16(SOCK_VS_SVC_ATTR_AF, AF_INET)
      .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_SVC_ATTR_ADDR, kVip4, 4)
      .u16(SOCK_VS_SVC_ATTR_PORT, 80)
      .end();
  const sockvs::Service o = sockvs::parse_service_reply(old.hdr());
  EXPECT_FALSE(o.eject.has_value());
  EXPECT_FALSE(o.eject_max_percent.has_value());
  EXPECT_EQ(o.stats.ejected, 0U);

  // A u8 where a u32 belongs: malformed.
  ReplyBuilder bad(SOCK_VS_CMD_GET_SERVICE, NLM_F_MULTI);
  bad.nest(SOCK_VS_ATTR_SERVICE)
      .u16(SOCK_VS_SVC_ATTR_AF, AF_INET)
      .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_SVC_ATTR_ADDR, kVip4, 4)
      .u16(SOCK_VS_SVC_ATTR_PORT, 80)
      .u8(SOCK_VS_SVC_ATTR_EJECT_TIME, 3)
      .end();
  EXPECT_EQ(error_code([&] { sockvs::parse_service_reply(bad.hdr()); }), EPROTO);
}

sockvs::RealServer dest_reply(const std::function<void(ReplyBuilder &)> &extra) {
  ReplyBuilder b(SOCK_VS_CMD_GET_DEST, NLM_F_MULTI);
  b.nest(SOCK_VS_ATTR_DEST)
      .u16(SOCK_VS_DEST_ATTR_AF, AF_INET)
      .raw(SOCK_VS_DEST_ATTR_ADDR, kReal4, 4)
      .u16(SOCK_VS_DEST_ATTR_PORT, 6380)
      .u32(SOCK_VS_DEST_ATTR_WEIGHT, 1);
  extra(b);
  b.end();
  return sockvs::parse_dest_reply(b.hdr());
}

TEST(EjectMessages, DestReply) {
  const sockvs::RealServer d = dest_reply([](ReplyBuilder &b) {
    b.u8(SOCK_VS_DEST_ATTR_EJECTED, SOCK_VS_EJECT_OUT)
        .u32(SOCK_VS_DEST_ATTR_EJECT_LEFT, 29500)
        .u32(SOCK_VS_DEST_ATTR_FAILS, 3)
        .nest(SOCK_VS_DEST_ATTR_STATS)
        .u64(SOCK_VS_STATS_ATTR_EJECTED, 1)
        .u64(SOCK_VS_STATS_ATTR_FAILED, 3)
        .end();
  });
  EXPECT_EQ(d.ejected, sockvs::EjectState::kOut);
  EXPECT_EQ(d.eject_left_ms, 29500U);
  EXPECT_EQ(d.fails, 3U);
  EXPECT_EQ(d.stats.ejected, 1U);
  EXPECT_EQ(d.stats.failed, 3U);
  EXPECT_EQ(dest_reply([](ReplyBuilder &b) {
              b.u8(SOCK_VS_DEST_ATTR_EJECTED, SOCK_VS_EJECT_PROBE);
            }).ejected,
            sockvs::EjectState::kProbe);
  const sockvs::RealServer none = dest_reply([](ReplyBuilder & /*b*/) {});
  EXPECT_EQ(none.ejected, sockvs::EjectState::kNone);
  EXPECT_EQ(none.fails, 0U);
  EXPECT_EQ(
      error_code([] { dest_reply([](ReplyBuilder &b) { b.u16(SOCK_VS_DEST_ATTR_FAILS, 3); }); }),
      EPROTO);
}

TEST(EjectTypes, StateNames) {
  EXPECT_EQ(sockvs::eject_state_name(sockvs::EjectState::kNone), "none");
  EXPECT_EQ(sockvs::eject_state_name(sockvs::EjectState::kOut), "ejected");
  EXPECT_EQ(sockvs::eject_state_name(sockvs::EjectState::kProbe), "probing");
  EXPECT_EQ(sockvs::eject_state_name(static_cast<sockvs::EjectState>(9)), "9");
}

// --- output
// ------------------------------------------------------------------------

sockvs::Service ejecting_service() {
  sockvs::Service svc = sockvs::Service::from_key(tcp_key(), "p2c");
  svc.eject = 3;
  svc.eject_time = 30;
  svc.eject_time_max = 300;
  svc.eject_max_percent = 50;
  return svc;
}

sockvs::RealServer server(const char *a, sockvs::EjectState state) {
  sockvs::RealServer d;
  d.addr = addr(a);
  d.port = 80;
  d.weight = 1;
  d.ejected = state;
  return d;
}

const sockvs::Info kInfo{"0.1.0", 1, "kprobe", "6.1.0", 256, 64, 0, 0, 65536};

TEST(EjectFormat, ListShowsTheOptionsAndTheState) {
  sockvs::Service svc = ejecting_service();
  EXPECT_EQ(service_flags(svc), " eject 3");  // the defaults are not shown
  svc.eject_time = 10;
  svc.eject_time_max = 600;
  svc.eject_max_percent = 34;
  EXPECT_EQ(service_flags(svc), " eject 3 eject-time 10 eject-time-max 600 eject-max-percent 34");
  svc.eject = 0;
  EXPECT_EQ(service_flags(svc), "") << "off: nothing, whatever the times";
  const std::vector<ServiceEntry> entries = {
      ServiceEntry{ejecting_service(),
                   {server("192.168.1.5", sockvs::EjectState::kNone),
                    server("192.168.1.6", sockvs::EjectState::kOut),
                    server("192.168.1.7", sockvs::EjectState::kProbe)}}};
  const std::string list = format_list(kInfo, entries, ListOptions{});
  EXPECT_NE(list.find("\nTCP  10.0.0.1:80 p2c eject 3\n"), std::string::npos) << list;
  EXPECT_NE(list.find("  -> 192.168.1.5:80               Sock    1      0      "
                      "    0         \n"),
            std::string::npos)
      << list;
  EXPECT_NE(list.find("  -> 192.168.1.6:80               Sock    1      0      "
                      "    0          ejected\n"),
            std::string::npos)
      << list;
  EXPECT_NE(list.find("  -> 192.168.1.7:80               Sock    1      0      "
                      "    0          probing\n"),
            std::string::npos)
      << list;
  ListOptions thresholds;
  thresholds.thresholds = true;
  EXPECT_NE(format_list(kInfo, entries, thresholds).find("0          ejected\n"),
            std::string::npos);
}

TEST(EjectFormat, StatsCountEjectionsAndFailures) {
  ServiceEntry entry{ejecting_service(), {server("192.168.1.6", sockvs::EjectState::kOut)}};
  entry.service.stats.conns = 12;
  entry.service.stats.ejected = 2;
  entry.service.stats.failed = 9;
  entry.dests[0].stats.conns = 4;
  entry.dests[0].stats.ejected = 2;
  entry.dests[0].stats.failed = 9;
  ListOptions opts;
  opts.stats = true;
  const std::string list = format_list(kInfo, {entry}, opts);
  EXPECT_NE(list.find("Prot LocalAddress:Port               Conns  Refused "
                      "Untracked   Killed "
                      " Ejected   Failed\n"),
            std::string::npos)
      << list;
  EXPECT_NE(list.find("TCP  10.0.0.1:80                        12        0     "
                      "    0        0 "
                      "       2        9\n"),
            std::string::npos)
      << list;
  EXPECT_NE(list.find("  -> 192.168.1.6:80                      4              "
                      "             0 "
                      "       2        9\n"),
            std::string::npos)
      << list;
}

TEST(EjectFormat, SaveWritesTheOptions) {
  sockvs::Service svc = ejecting_service();
  svc.eject_time = 10;
  EXPECT_EQ(format_save({ServiceEntry{svc, {}}}),
            "-A -t 10.0.0.1:80 -s p2c --eject 3 --eject-time 10\n");
  svc.eject = 0;
  EXPECT_EQ(format_save({ServiceEntry{svc, {}}}), "-A -t 10.0.0.1:80 -s p2c\n");
}

// --- JSON
// --------------------------------------------------------------------------

TEST(EjectJson, WrittenWhenOnAndReadBack) {
  ServiceEntry on{ejecting_service(), {server("192.168.1.6", sockvs::EjectState::kOut)}};
  on.dests[0].eject_left_ms = 1234;
  on.dests[0].fails = 3;
  on.service.eject_time = 10;
  ServiceEntry off{sockvs::Service::from_key(tcp_key(), "rr"), {}};
  off.service.port = 81;
  off.service.eject = 0;
  const std::string text = format_json({on, off}, JsonView{});
  EXPECT_NE(text.find("\"eject\": {\n        \"after\": 3,\n        \"time\": 10,\n        "
                      "\"time_max\": 300,\n        \"max_percent\": 50\n      }"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("\"eject\""), text.rfind("\"eject\"")) << "only the first service";
  EXPECT_EQ(text.find("\"ejected\""), std::string::npos) << "-S: no runtime state";
  const auto back = parse_json(text);
  ASSERT_EQ(back.size(), 2U);
  EXPECT_EQ(back[0].service.eject, 3U);
  EXPECT_EQ(back[0].service.eject_time, 10U);
  EXPECT_EQ(back[0].service.eject_max_percent, 50U);
  EXPECT_FALSE(back[1].service.eject.has_value());
  EXPECT_EQ(format_json(back, JsonView{}), text);
  const JsonRules rules = json_rules(back);
  ASSERT_FALSE(rules.lines.empty());
  EXPECT_EQ(rules.lines[0].command.eject, 3U);
  EXPECT_EQ(rules.lines[0].command.eject_time, 10U);

  // -L --json --stats: the state and the counters.
  on.dests[0].stats.ejected = 1;
  on.service.stats.failed = 5;
  const std::string list = format_json({on}, JsonView{true, true}, kInfo);
  for (const char *want : {R"("ejected": "ejected")", R"("eject_left_ms": 1234)", R"("fails": 3)",
                           R"("ejected": 1)", R"("failed": 5)"}) {
    EXPECT_NE(list.find(want), std::string::npos) << want << "\n" << list;
  }
  // What only -L prints is ignored by -R --json.
  EXPECT_EQ(parse_json(list).at(0).dests.at(0).addr, addr("192.168.1.6"));
}

std::string json_error(const std::string &service_fields, const char *proto = "tcp") {
  try {
    parse_json(std::string(R"({"version": 1, "services": [{"protocol": ")") + proto +
               R"(", "address": "10.0.0.1", "port": 80)" + service_fields + "}]}");
  } catch (const JsonError &e) {
    return e.what();
  }
  return "<no error>";
}

TEST(EjectJson, BadValues) {
  EXPECT_EQ(json_error(R"(, "eject": {"after": 3})"), "<no error>");
  EXPECT_EQ(json_error(R"(, "eject": {})"), "<no error>");
  EXPECT_EQ(json_error(R"(, "eject": 3)"),
            "JSON services[0].eject: expected an object, got number");
  EXPECT_EQ(json_error(R"(, "eject": {"after": 1001})"),
            "JSON services[0].eject.after: 1001 out of range 0-1000");
  EXPECT_EQ(json_error(R"(, "eject": {"time": 0})"),
            "JSON services[0].eject.time: 0 out of range 1-86400");
  EXPECT_EQ(json_error(R"(, "eject": {"max_percent": 0})"),
            "JSON services[0].eject.max_percent: 0 out of range 1-100");
  EXPECT_EQ(json_error(R"(, "eject": {"time": 400})"),
            "JSON services[0].eject.time: ejection time 400 is above the "
            "longest ejection time 300");
  EXPECT_EQ(json_error(R"(, "eject": {"after": 3, "afterr": 2})"),
            "JSON services[0].eject: unknown key 'afterr'");
  EXPECT_EQ(json_error(R"(, "eject": {"after": 3})", "udp"),
            "JSON services[0].eject: passive health (ejection) is for TCP services");
}

// --- sockvsadm against the in-memory module
// ----------------------------------------

class EjectAppTest : public ::testing::Test {
 protected:
  struct Result {
    int status;
    std::string out;
    std::string err;
  };

  Result run_args(std::vector<std::string> args, const std::string &input = "") {
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    const int status = run(args, in, out, err, [this]() -> std::unique_ptr<sockvs::Api> {
      return std::make_unique<sockvs::testing::FakeProxy>(fake);
    });
    return {status, out.str(), err.str()};
  }

  std::string ok(std::vector<std::string> args, const std::string &input = "") {
    const Result r = run_args(std::move(args), input);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return r.out;
  }

  const sockvs::Service &svc(std::size_t i = 0) { return fake.table.at(i).svc; }

  FakeApi fake;
};

TEST_F(EjectAppTest, AddEditListSave) {
  ok({"-A", "-t", "10.0.0.1:80", "-s", "p2c", "--eject", "3"});
  EXPECT_EQ(svc().eject, 3U);
  EXPECT_EQ(svc().eject_time, 30U);
  EXPECT_EQ(svc().eject_max_percent, 50U);
  EXPECT_NE(ok({"-L", "-n"}).find("\nTCP  10.0.0.1:80 p2c eject 3\n"), std::string::npos);
  // -E changes only what it is given.
  ok({"-E", "-t", "10.0.0.1:80", "--eject-time", "10"});
  EXPECT_EQ(svc().eject, 3U);
  EXPECT_EQ(svc().eject_time, 10U);
  ok({"-E", "-t", "10.0.0.1:80", "-s", "rr"});
  EXPECT_EQ(svc().eject, 3U) << "-E without --eject keeps it";
  EXPECT_EQ(ok({"-S", "-n"}), "-A -t 10.0.0.1:80 -s rr --eject 3 --eject-time 10\n");
  // Save, clear, restore: the same table.
  const std::string saved = ok({"-S", "-n"});
  const std::string json = ok({"-S", "-n", "--json"});
  ok({"-C"});
  ok({"-R"}, saved);
  EXPECT_EQ(ok({"-S", "-n"}), saved);
  ok({"-C"});
  ok({"-R", "--json"}, json);
  EXPECT_EQ(ok({"-S", "-n"}), saved);
  // Off again.
  ok({"-E", "-t", "10.0.0.1:80", "--eject", "0"});
  EXPECT_EQ(ok({"-S", "-n"}), "-A -t 10.0.0.1:80 -s rr\n");
}

TEST_F(EjectAppTest, TheModuleRefusalLeavesTheTableAsItWas) {
  ok({"-A", "-t", "10.0.0.1:80", "-s", "rr", "--eject", "3", "--eject-time-max", "60"});
  // -E with the base time alone above the current longest: the module says.
  const Result r = run_args({"-E", "-t", "10.0.0.1:80", "--eject-time", "61"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("ejection time above the longest ejection time"), std::string::npos)
      << r.err;
  EXPECT_EQ(svc().eject_time, 30U);
  EXPECT_EQ(svc().eject_time_max, 60U);
  // A usage error never reaches the module.
  EXPECT_EQ(run_args({"-E", "-t", "10.0.0.1:80", "--eject-max-percent", "0"}).status, 2);
  EXPECT_EQ(svc().eject_max_percent, 50U);
}

TEST_F(EjectAppTest, RestoreRollsBackAnEditOfTheEjection) {
  ok({"-A", "-t", "10.0.0.1:80", "-s", "rr", "--eject", "3", "--eject-time", "10"});
  // The second line fails (no such service): the first is undone.
  const Result r = run_args({"-R"},
                            "-E -t 10.0.0.1:80 --eject 5 --eject-time 20 --eject-max-percent 20\n"
                            "-E -t 10.0.0.2:80 --eject 1\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(svc().eject, 3U);
  EXPECT_EQ(svc().eject_time, 10U);
  EXPECT_EQ(svc().eject_max_percent, 50U);
  // A deleted service comes back with its ejection settings.
  const Result d = run_args({"-R"}, "-D -t 10.0.0.1:80\n-D -t 10.0.0.2:80\n");
  EXPECT_EQ(d.status, 1);
  ASSERT_EQ(fake.table.size(), 1U);
  EXPECT_EQ(svc().eject, 3U);
  EXPECT_EQ(svc().eject_time, 10U);
}

}  // namespace
}  // namespace sockvsadm
