// -R input parsing, and the -S -> -R round trip.
#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "cli.h"
#include "format.h"
#include "restore.h"

namespace sockvsadm {
namespace {

std::vector<RestoreLine> parse_text(const std::string& text) {
  std::istringstream in(text);
  return parse_restore(in);
}

int error_line(const std::string& text) {
  try {
    parse_text(text);
  } catch (const RestoreError& e) {
    return e.line_no();
  }
  return 0;
}

Command cmd(std::vector<std::string> args) { return parse_command(args); }

TEST(Restore, ParsesIpvsadmLines) {
  const auto lines = parse_text(
      "-A -t 10.0.0.1:6379 -s rr\n"
      "-a -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 2\n");
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0].line_no, 1);
  EXPECT_EQ(lines[0].command, cmd({"-A", "-t", "10.0.0.1:6379", "-s", "rr"}));
  EXPECT_EQ(lines[1].line_no, 2);
  EXPECT_EQ(lines[1].command.op, Op::kAddDest);
  EXPECT_EQ(lines[1].command.dest->weight, 2U);
}

TEST(Restore, SkipsBlankLinesAndComments) {
  const auto lines = parse_text(
      "# saved by sockvsadm\n"
      "\n"
      "   \t\n"
      "  # indented comment\n"
      "-A -u [fd00::1]:53 -s wrr\r\n"
      "#-D -u [fd00::1]:53\n"
      "-a -u [fd00::1]:53 -r [fd00::2] -w 1");  // no final newline
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0].line_no, 5);
  EXPECT_EQ(lines[1].line_no, 7);
  EXPECT_EQ(lines[1].command.dest->port, 53);
}

TEST(Restore, AcceptsAllChangingCommandsAndIpvsadmFlags) {
  const auto lines = parse_text(
      "-C\n"
      "-A -t 10.0.0.1:80\n"
      "-E -t 10.0.0.1:80 -s rr\n"
      "-a -t 10.0.0.1:80 -r 10.0.0.2 -m -w 1\n"
      "-e -t 10.0.0.1:80 -r 10.0.0.2 -w 3\n"
      "-d -t 10.0.0.1:80 -r 10.0.0.2\n"
      "-Z\n"
      "-D -t 10.0.0.1:80\n");
  ASSERT_EQ(lines.size(), 8U);
  EXPECT_EQ(lines[0].command.op, Op::kClear);
  EXPECT_EQ(lines[6].command.op, Op::kZero);
  EXPECT_EQ(lines[7].command.op, Op::kDelService);
}

TEST(Restore, EmptyInputIsNothing) {
  EXPECT_TRUE(parse_text("").empty());
  EXPECT_TRUE(parse_text("\n# nothing\n").empty());
}

TEST(Restore, ReportsTheFirstBadLine) {
  const std::string good = "-A -t 10.0.0.9:80 -s rr\n-a -t 10.0.0.9:80 -r 127.0.0.2:8080 -w 1\n";
  EXPECT_EQ(error_line(good + "-A -t 10.0.0.10:80 --bogus\n"), 3);
  EXPECT_EQ(error_line(good + "this is not a command\n-A -t 10.0.0.11:80 -s rr\n"), 3);
  EXPECT_EQ(error_line(good + "-A -t 10.0.0.300:80 -s rr\n"), 3);
  EXPECT_EQ(error_line(good + "-A -t 10.0.0.10:70000 -s rr\n"), 3);
  EXPECT_EQ(error_line(good + "-a -t 10.0.0.9:80 -r 127.0.0.3:0 -w 1\n"), 3);
  EXPECT_EQ(error_line(good + "-a -t 10.0.0.9:80 -r 127.0.0.3:8080 -w 99999\n"), 3);
  EXPECT_EQ(error_line(good + "-a -t 10.0.0.9:80 -r [::1]:8080 -w 1\n"), 3);
  EXPECT_EQ(error_line(good + "-a -t 10.0.0.9:80 -r\n"), 3);
  EXPECT_EQ(error_line(good + "-t 10.0.0.10:80 -s rr\n"), 3);
  EXPECT_EQ(error_line("\n\n-A -t 1.2.3.4:80 -s bad!name\n-C\n"), 3);
}

TEST(Restore, RejectsNonChangingCommands) {
  for (const char* line : {"-L -n", "-S", "-R", "-h", "-V", "-t 10.0.0.1:80", "-n"}) {
    EXPECT_EQ(error_line(std::string("-C\n") + line + "\n"), 2) << line;
  }
}

TEST(Restore, KillIsNotAllowed) {
  // -K terminates sockets and changes no setting: -S never writes it.
  EXPECT_EQ(error_line("-A -u 10.0.0.1:53\n-K -u 10.0.0.1:53\n"), 2);
  try {
    parse_text("-K -u 10.0.0.1:53 -r 10.0.0.2\n");
    FAIL();
  } catch (const RestoreError& e) {
    EXPECT_STREQ(e.what(), "line 1: --kill is not allowed in -R input");
  }
}

TEST(Restore, TerminateRoundTrip) {
  auto svc = [](std::uint16_t proto, const char* addr, std::uint16_t port,
                sockvs::Terminate policy) {
    auto s = sockvs::Service::from_key({proto, *sockvs::Address::parse(addr), port}, "rr");
    s.terminate = policy;  // as the module reports it: always set
    return s;
  };
  const std::vector<ServiceEntry> entries{
      {svc(IPPROTO_TCP, "10.0.0.1", 6379, sockvs::Terminate::kAll), {}},
      {svc(IPPROTO_UDP, "10.0.0.1", 53, sockvs::Terminate::kNone), {}},
      {svc(IPPROTO_UDP, "fd00::1", 53, sockvs::Terminate::kUdp), {}}};
  const std::string saved = format_save(entries);
  EXPECT_EQ(saved,
            "-A -t 10.0.0.1:6379 -s rr --terminate all\n"
            "-A -u 10.0.0.1:53 -s rr --terminate none\n"
            "-A -u [fd00::1]:53 -s rr\n");
  const auto lines = parse_text(saved);
  ASSERT_EQ(lines.size(), 3U);
  EXPECT_EQ(lines[0].command, cmd({"-A", "-t", "10.0.0.1:6379", "-s", "rr", "--terminate", "all"}));
  EXPECT_EQ(lines[0].command.terminate, sockvs::Terminate::kAll);
  EXPECT_EQ(lines[1].command.terminate, sockvs::Terminate::kNone);
  EXPECT_FALSE(lines[2].command.terminate.has_value());  // the default: left to the module
  // What -R reads gives back what -S wrote.
  std::vector<ServiceEntry> back;
  for (const auto& l : lines) {
    auto s = sockvs::Service::from_key(*l.command.service, l.command.scheduler);
    s.terminate = l.command.terminate.value_or(sockvs::kDefaultTerminate);
    back.push_back({s, {}});
  }
  EXPECT_EQ(back, entries);
  EXPECT_EQ(error_line("-A -t 10.0.0.9:80\n-E -t 10.0.0.9:80 --terminate sometimes\n"), 2);
}

TEST(Restore, SkipRulesRoundTrip) {
  auto svc =
      sockvs::Service::from_key({IPPROTO_TCP, *sockvs::Address::parse("10.0.0.1"), 80}, "rr");
  // As the module reports them: uid with both ends, mark with its mask,
  // cgroup with its id (which -S does not write).
  svc.skip = std::vector<sockvs::SkipRule>{
      sockvs::SkipUid{4242, 4243}, sockvs::SkipCgroup{"/svs-72-skip", 41},
      sockvs::SkipMark{0x10, 0xf0}, sockvs::SkipUid{7, 7}, sockvs::SkipMark{0x20}};
  auto plain =
      sockvs::Service::from_key({IPPROTO_UDP, *sockvs::Address::parse("fd00::1"), 53}, "wrr");
  const std::vector<ServiceEntry> entries{{svc, {}}, {plain, {}}};
  const std::string saved = format_save(entries);
  EXPECT_EQ(saved,
            "-A -t 10.0.0.1:80 -s rr --skip-uid 4242-4243 --skip-cgroup /svs-72-skip "
            "--skip-mark 0x10/0xf0 --skip-uid 7 --skip-mark 0x20\n"
            "-A -u [fd00::1]:53 -s wrr\n");
  const auto lines = parse_text(saved);
  ASSERT_EQ(lines.size(), 2U);
  ASSERT_TRUE(lines[0].command.skip.has_value());
  EXPECT_FALSE(lines[1].command.skip.has_value());  // none: no nest, no rules
  // What -R reads gives back what -S wrote, byte for byte.
  std::vector<ServiceEntry> back;
  for (const auto& l : lines) {
    auto s = sockvs::Service::from_key(*l.command.service, l.command.scheduler);
    s.skip = l.command.skip;
    back.push_back({s, {}});
  }
  EXPECT_EQ(format_save(back), saved);
  auto without_id = svc;
  std::get<sockvs::SkipCgroup>(without_id.skip->at(1)).id = 0;
  EXPECT_EQ(back[0].service, without_id);
}

TEST(Restore, BadSkipRulesAreUsageErrorsWithTheirLine) {
  EXPECT_EQ(error_line("-A -t 10.0.0.1:80\n-E -t 10.0.0.1:80 --skip-uid 5-3\n"), 2);
  EXPECT_EQ(error_line("-A -t 10.0.0.1:80 --skip-cgroup relative\n"), 1);
  EXPECT_EQ(error_line("-A -t 10.0.0.1:80 --skip-mark 0x11/0xf0\n"), 1);
  std::string nine = "-A -t 10.0.0.1:80";
  for (int i = 0; i < 9; ++i) {
    nine += " --skip-uid " + std::to_string(i);
  }
  try {
    parse_text("\n" + nine + "\n");
    FAIL();
  } catch (const RestoreError& e) {
    EXPECT_EQ(e.line_no(), 2);
    EXPECT_STREQ(e.what(),
                 "line 2: too many exemptions: at most 8 per service (--skip-uid, "
                 "--skip-cgroup, --skip-mark), 9 given");
  }
  EXPECT_EQ(parse_text("-E -t 10.0.0.1:80 --skip-none\n")[0].command.skip,
            std::optional<std::vector<sockvs::SkipRule>>(std::vector<sockvs::SkipRule>{}));
}

TEST(Restore, ErrorMessageNamesTheLine) {
  try {
    parse_text("-C\n-A -t 10.0.0.1:0\n");
    FAIL();
  } catch (const RestoreError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("line 2: ", 0), 0U) << e.what();
  }
}

// What -S prints, parsed by -R, gives back the commands that build it.
TEST(Restore, SaveOutputParsesBackToTheSameCommands) {
  auto svc = [](std::uint16_t proto, const char* addr, std::uint16_t port, const char* sched) {
    return sockvs::Service::from_key({proto, *sockvs::Address::parse(addr), port}, sched);
  };
  auto dest = [](const char* addr, std::uint16_t port, std::uint32_t weight) {
    sockvs::RealServer d;
    d.addr = *sockvs::Address::parse(addr);
    d.port = port;
    d.weight = weight;
    return d;
  };
  const std::vector<ServiceEntry> entries{
      {svc(IPPROTO_TCP, "10.0.0.1", 6379, "rr"),
       {dest("192.168.1.5", 6380, 2), dest("192.168.1.6", 6379, 0)}},
      {svc(IPPROTO_UDP, "10.0.0.1", 6379, "wrr"), {dest("127.0.0.2", 7001, 7)}},
      {svc(IPPROTO_TCP, "fd00:255::1", 80, "wrr"),
       {dest("::1", 8081, 3), dest("fd00:1::2", 8082, 65535)}},
      {svc(IPPROTO_UDP, "fd00::2", 53, "rr"), {}}};

  const auto lines = parse_text(format_save(entries));
  std::vector<Command> expected;
  for (const auto& e : entries) {
    Command add;
    add.op = Op::kAddService;
    add.service = e.service.key();
    add.scheduler = e.service.sched_name;
    expected.push_back(add);
    for (const auto& d : e.dests) {
      Command a;
      a.op = Op::kAddDest;
      a.service = e.service.key();
      a.dest = d;
      expected.push_back(a);
    }
  }
  ASSERT_EQ(lines.size(), expected.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].command, expected[i]) << "line " << lines[i].line_no;
    EXPECT_EQ(lines[i].line_no, static_cast<int>(i) + 1);
  }
}

TEST(Restore, ParsesTheNewOptions) {
  const auto lines = parse_text(
      "-A -t 10.0.0.1:6379 -s mh --hash-key local --shard-policy lc\n"
      "-a -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 2 -x 100 -y 50 --shards 4\n"
      "-E -t 10.0.0.1:6379 --shard-policy cpu\n"
      "-e -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 2 --shards 2\n");
  ASSERT_EQ(lines.size(), 4U);
  EXPECT_EQ(lines[0].command.hash_key, sockvs::HashKey::kLocal);
  EXPECT_EQ(lines[0].command.shard_policy, sockvs::ShardPolicy::kLc);
  EXPECT_EQ(lines[1].command.dest->u_threshold, 100U);
  EXPECT_EQ(lines[1].command.dest->l_threshold, 50U);
  EXPECT_EQ(lines[1].command.dest->shards, 4);
  EXPECT_FALSE(lines[2].command.hash_key.has_value());
  EXPECT_EQ(lines[2].command.shard_policy, sockvs::ShardPolicy::kCpu);
  EXPECT_FALSE(lines[3].command.dest->u_threshold.has_value());
  EXPECT_EQ(lines[3].command.dest->shards, 2);
}

TEST(Restore, BadNewOptionsNameTheLine) {
  const std::string good = "-A -t 10.0.0.9:80 -s rr\n";
  EXPECT_EQ(error_line(good + "-A -t 10.0.0.10:80 --hash-key pid\n"), 2);
  EXPECT_EQ(error_line(good + "-A -t 10.0.0.10:80 --shard-policy wrr\n"), 2);
  EXPECT_EQ(error_line(good + "-a -t 10.0.0.9:80 -r 10.0.0.5 -x 50 -y 100\n"), 2);
  EXPECT_EQ(error_line(good + "-a -t 10.0.0.9:80 -r 10.0.0.5 -x 2147483648\n"), 2);
  EXPECT_EQ(error_line(good + "-a -t 10.0.0.9:80 -r 10.0.0.5 --shards 0\n"), 2);
  EXPECT_EQ(error_line(good + "-a -t 10.0.0.9:80 -r 10.0.0.5 --shards\n"), 2);
  EXPECT_EQ(error_line(good + "-L --thresholds\n"), 2);
}

// -S -> -R with every new option: the commands that build the same table.
TEST(Restore, SaveOutputWithNewOptionsParsesBackToTheSameCommands) {
  auto svc = [](std::uint16_t proto, const char* addr, std::uint16_t port, const char* sched,
                sockvs::HashKey key, sockvs::ShardPolicy policy) {
    auto s = sockvs::Service::from_key({proto, *sockvs::Address::parse(addr), port}, sched);
    s.hash_key = key;  // as the module reports them: always set
    s.shard_policy = policy;
    return s;
  };
  auto dest = [](const char* addr, std::uint16_t port, std::uint32_t weight, std::uint32_t upper,
                 std::uint32_t lower, std::uint16_t shards) {
    sockvs::RealServer d;
    d.addr = *sockvs::Address::parse(addr);
    d.port = port;
    d.weight = weight;
    d.u_threshold = upper;
    d.l_threshold = lower;
    d.shards = shards;
    d.shard_conns.assign(shards, 3);  // outputs: not saved
    d.active_conns = 5;
    d.overloaded = true;
    return d;
  };
  using HK = sockvs::HashKey;
  using SP = sockvs::ShardPolicy;
  const std::vector<ServiceEntry> entries{
      {svc(IPPROTO_TCP, "10.0.0.1", 6379, "mh", HK::kLocal, SP::kLc),
       {dest("192.168.1.5", 6380, 2, 100, 50, 4), dest("192.168.1.6", 6379, 0, 0, 0, 1),
        dest("192.168.1.7", 6379, 1, 10, 0, 1024)}},
      {svc(IPPROTO_UDP, "fd00::2", 53, "sh", HK::kCgroup, SP::kRr),
       {dest("fd00::3", 53, 65535, 2147483647, 2147483647, 2)}},
      {svc(IPPROTO_TCP, "10.0.0.2", 80, "wrr", HK::kTgid, SP::kHash), {}},
      {svc(IPPROTO_TCP, "10.0.0.3", 80, "fo", HK::kTgid, SP::kRr), {}}};

  const std::string saved = format_save(entries);
  EXPECT_EQ(saved,
            "-A -t 10.0.0.1:6379 -s mh --hash-key local --shard-policy lc\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 2 -x 100 -y 50 --shards 4\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.6:6379 -w 0\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.7:6379 -w 1 -x 10 --shards 1024\n"
            "-A -u [fd00::2]:53 -s sh --hash-key cgroup\n"
            "-a -u [fd00::2]:53 -r [fd00::3]:53 -w 65535 -x 2147483647 -y 2147483647 --shards 2\n"
            "-A -t 10.0.0.2:80 -s wrr --shard-policy hash\n"
            "-A -t 10.0.0.3:80 -s fo\n");

  const auto lines = parse_text(saved);
  std::vector<Command> expected;
  for (const auto& e : entries) {
    Command add;
    add.op = Op::kAddService;
    add.service = e.service.key();
    add.scheduler = e.service.sched_name;
    // Defaults are left out, and so left to the module.
    if (e.service.hash_key != sockvs::kDefaultHashKey) {
      add.hash_key = e.service.hash_key;
    }
    if (e.service.shard_policy != sockvs::kDefaultShardPolicy) {
      add.shard_policy = e.service.shard_policy;
    }
    expected.push_back(add);
    for (const auto& d : e.dests) {
      Command a;
      a.op = Op::kAddDest;
      a.service = e.service.key();
      sockvs::RealServer want;
      want.addr = d.addr;
      want.port = d.port;
      want.weight = d.weight;
      if (d.u_threshold != 0U) {
        want.u_threshold = d.u_threshold;
      }
      if (d.l_threshold != 0U) {
        want.l_threshold = d.l_threshold;
      }
      if (d.shards != 1) {
        want.shards = d.shards;
      }
      a.dest = want;
      expected.push_back(a);
    }
  }
  ASSERT_EQ(lines.size(), expected.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].command, expected[i]) << "line " << lines[i].line_no;
  }
}

}  // namespace
}  // namespace sockvsadm
