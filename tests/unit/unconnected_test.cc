// --unconnected (SOCK_VS_SVC_F_UNCONNECTED): the command line, -L/-S/--json,
// -R and its rollback, against the in-memory module.
#include <gtest/gtest.h>

#include <linux/sock_vs.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "app.h"
#include "cli.h"
#include "fake_api.h"
#include "format.h"
#include "json.h"

namespace sockvsadm {
namespace {

Command parse(std::vector<std::string> args) { return parse_command(args); }

TEST(UnconnectedCli, UdpServicesOnAddAndEdit) {
  EXPECT_TRUE(parse({"-A", "-u", "10.0.0.53:53", "--unconnected"}).unconnected);
  EXPECT_TRUE(parse({"-E", "-u", "10.0.0.53:53", "-s", "rr", "--unconnected"}).unconnected);
  EXPECT_FALSE(parse({"-A", "-u", "10.0.0.53:53"}).unconnected);
  try {
    parse({"-A", "-t", "10.0.0.1:80", "--unconnected"});
    ADD_FAILURE() << "--unconnected on TCP accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("UDP services (-u)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse({"-a", "-u", "10.0.0.53:53", "-r", "10.0.0.2", "--unconnected"}), UsageError);
  EXPECT_THROW(parse({"-L", "--unconnected"}), UsageError);
  EXPECT_THROW(parse({"-A", "-u", "10.0.0.53:53", "--unconnected=1"}), UsageError);
  EXPECT_NE(usage_text().find("--unconnected"), std::string::npos);
}

TEST(UnconnectedFormat, ListSaveAndJson) {
  auto svc =
      sockvs::Service::from_key({IPPROTO_UDP, *sockvs::Address::parse("10.0.0.53"), 53}, "rr");
  svc.flags = SOCK_VS_SVC_F_UNCONNECTED | SOCK_VS_SVC_F_REAL_PEERNAME;
  EXPECT_EQ(service_flags(svc), " real-peername unconnected");
  const std::vector<ServiceEntry> entries{{svc, {}}};
  EXPECT_EQ(format_save(entries), "-A -u 10.0.0.53:53 -s rr --real-peername --unconnected\n");
  const std::string json = format_json(entries, JsonView{});
  EXPECT_NE(json.find(R"("unconnected")"), std::string::npos) << json;
  const auto back = parse_json(json);
  ASSERT_EQ(back.size(), 1U);
  EXPECT_EQ(back[0].service.flags, SOCK_VS_SVC_F_UNCONNECTED | SOCK_VS_SVC_F_REAL_PEERNAME);
  const JsonRules rules = json_rules(back);
  ASSERT_EQ(rules.lines.size(), 1U);
  EXPECT_TRUE(rules.lines[0].command.unconnected);
}

TEST(UnconnectedJson, RefusedOnTcpAndTwice) {
  const auto error_of = [](const std::string& text) {
    try {
      parse_json(text);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error_of(R"({"version": 1, "services": [{"protocol": "tcp", "address": "10.0.0.1",
            "port": 80, "flags": ["unconnected"]}]})"),
            R"(JSON services[0].flags: flag "unconnected" is for UDP services)");
  EXPECT_EQ(error_of(R"({"version": 1, "services": [{"protocol": "udp", "address": "10.0.0.1",
            "port": 53, "flags": ["unconnected", "unconnected"]}]})"),
            R"(JSON services[0].flags: flag "unconnected" is given twice)");
  EXPECT_EQ(error_of(R"({"version": 1, "services": [{"protocol": "udp", "address": "10.0.0.1",
            "port": 53, "flags": ["x"]}]})"),
            R"(JSON services[0].flags: unknown flag "x" (known: "real-peername", "unconnected"))");
}

class UnconnectedAppTest : public ::testing::Test {
 protected:
  int run_args(std::vector<std::string> args, const std::string& input = "") {
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    const int status = run(args, in, out, err, [this]() -> std::unique_ptr<sockvs::Api> {
      return std::make_unique<sockvs::testing::FakeProxy>(fake);
    });
    last_out = out.str();
    last_err = err.str();
    return status;
  }

  sockvs::testing::FakeApi fake;
  std::string last_out;
  std::string last_err;
};

TEST_F(UnconnectedAppTest, AddEditSaveRestore) {
  ASSERT_EQ(run_args({"-A", "-u", "10.0.0.53:53", "-s", "rr", "--unconnected"}), 0) << last_err;
  EXPECT_EQ(fake.table[0].svc.flags, SOCK_VS_SVC_F_UNCONNECTED);
  ASSERT_EQ(run_args({"-S", "-n"}), 0);
  const std::string saved = last_out;
  EXPECT_EQ(saved, "-A -u 10.0.0.53:53 -s rr --unconnected\n");
  ASSERT_EQ(run_args({"-L", "-n"}), 0);
  EXPECT_NE(last_out.find("UDP  10.0.0.53:53 rr unconnected\n"), std::string::npos) << last_out;
  // -E sets the flags anew, as for --real-peername.
  ASSERT_EQ(run_args({"-E", "-u", "10.0.0.53:53", "-s", "rr"}), 0);
  EXPECT_EQ(fake.table[0].svc.flags, 0U);
  ASSERT_EQ(run_args({"-C"}), 0);
  ASSERT_EQ(run_args({"-R"}, saved), 0) << last_err;
  EXPECT_EQ(fake.table[0].svc.flags, SOCK_VS_SVC_F_UNCONNECTED);
}

TEST_F(UnconnectedAppTest, RestoreRollsBackAnEditOfTheFlag) {
  ASSERT_EQ(run_args({"-A", "-u", "10.0.0.53:53", "--unconnected"}), 0);
  EXPECT_EQ(run_args({"-R"}, "-E -u 10.0.0.53:53\n-A -u 10.0.0.53:53\n"), 1);  // fails: exists
  EXPECT_EQ(fake.table[0].svc.flags, SOCK_VS_SVC_F_UNCONNECTED) << "the -E was undone";
  auto inv = inverse_of(fake, parse({"-E", "-u", "10.0.0.53:53"}));
  ASSERT_EQ(inv.size(), 1U);
  EXPECT_TRUE(inv[0].unconnected);
  EXPECT_TRUE(inverse_of(fake, parse({"-E", "-u", "10.0.0.53:53", "--unconnected"})).empty());
}

}  // namespace
}  // namespace sockvsadm
