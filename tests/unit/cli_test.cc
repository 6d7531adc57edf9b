// sockvsadm command line parsing.
#include <gtest/gtest.h>

#include <linux/sock_vs.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "cli.h"

namespace sockvsadm {
namespace {

Command parse(std::initializer_list<const char*> args) {
  const std::vector<std::string> v(args.begin(), args.end());
  return parse_command(v);
}

std::string usage_error(std::initializer_list<const char*> args) {
  try {
    parse(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "<no error>";
}

sockvs::ServiceKey key(std::uint16_t proto, const char* addr, std::uint16_t port) {
  return sockvs::ServiceKey{proto, *sockvs::Address::parse(addr), port};
}

TEST(Cli, AddServiceShortOptions) {
  const Command c = parse({"-A", "-t", "10.0.0.1:6379", "-s", "rr"});
  EXPECT_EQ(c.op, Op::kAddService);
  EXPECT_EQ(c.service, key(IPPROTO_TCP, "10.0.0.1", 6379));
  EXPECT_EQ(c.scheduler, "rr");
  EXPECT_FALSE(c.dest.has_value());
}

TEST(Cli, AddServiceLongOptions) {
  const Command c = parse({"--add-service", "--udp-service", "10.0.0.2:53", "--scheduler", "rr"});
  EXPECT_EQ(c.op, Op::kAddService);
  EXPECT_EQ(c.service, key(IPPROTO_UDP, "10.0.0.2", 53));
  EXPECT_EQ(c.scheduler, "rr");
}

TEST(Cli, LongOptionsWithEquals) {
  const Command c = parse({"--add-service", "--tcp-service=[fd00::1]:80", "--scheduler=wrr"});
  EXPECT_EQ(c.service, key(IPPROTO_TCP, "fd00::1", 80));
  EXPECT_EQ(c.scheduler, "wrr");
}

TEST(Cli, AttachedShortValues) {
  const Command c = parse({"-a", "-t10.0.0.1:80", "-r192.168.1.5", "-w7"});
  EXPECT_EQ(c.op, Op::kAddDest);
  EXPECT_EQ(c.service, key(IPPROTO_TCP, "10.0.0.1", 80));
  ASSERT_TRUE(c.dest.has_value());
  EXPECT_EQ(c.dest->weight, 7U);
}

TEST(Cli, DefaultSchedulerIsWrrOnAdd) {
  EXPECT_EQ(parse({"-A", "-t", "10.0.0.1:80"}).scheduler, SOCK_VS_SCHED_DEFAULT);
  EXPECT_EQ(parse({"-A", "-t", "10.0.0.1:80"}).scheduler, "wrr");
}

TEST(Cli, EditServiceWithoutSchedulerKeepsIt) {
  const Command c = parse({"-E", "-t", "10.0.0.1:80"});
  EXPECT_EQ(c.op, Op::kEditService);
  EXPECT_EQ(c.scheduler, "");
  EXPECT_EQ(parse({"--edit-service", "-t", "10.0.0.1:80", "-s", "rr"}).scheduler, "rr");
}

TEST(Cli, DeleteService) {
  const Command c = parse({"-D", "-u", "[fd00::5]:53"});
  EXPECT_EQ(c.op, Op::kDelService);
  EXPECT_EQ(c.service, key(IPPROTO_UDP, "fd00::5", 53));
  EXPECT_EQ(parse({"--delete-service", "--tcp-service", "1.2.3.4:5"}).op, Op::kDelService);
}

TEST(Cli, AddServerDefaults) {
  const Command c = parse({"-a", "-t", "10.0.0.1:6379", "-r", "192.168.1.5"});
  ASSERT_TRUE(c.dest.has_value());
  EXPECT_EQ(c.dest->addr.to_string(), "192.168.1.5");
  EXPECT_EQ(c.dest->port, 6379);  // the virtual port
  EXPECT_EQ(c.dest->weight, 1U);
}

TEST(Cli, AddServerWithPortAndWeight) {
  const Command c = parse({"--add-server", "-t", "10.0.0.1:6379", "--real-server",
                           "192.168.1.5:6380", "--weight", "2"});
  EXPECT_EQ(c.dest->port, 6380);
  EXPECT_EQ(c.dest->weight, 2U);
}

TEST(Cli, AddServerIPv6) {
  Command c = parse({"-a", "-t", "[fd00::1]:80", "-r", "[fd00::2]:8080", "-w", "3"});
  EXPECT_EQ(c.dest->addr.to_string(), "fd00::2");
  EXPECT_EQ(c.dest->port, 8080);
  c = parse({"-a", "-t", "[fd00::1]:80", "-r", "[fd00::2]"});
  EXPECT_EQ(c.dest->port, 80);
  c = parse({"-a", "-t", "[fd00::1]:80", "-r", "fd00::3"});
  EXPECT_EQ(c.dest->addr.to_string(), "fd00::3");
  EXPECT_EQ(c.dest->port, 80);
}

TEST(Cli, ForwardingFlagsAreIgnored) {
  for (const char* flag : {"-m", "-g", "-i", "--masquerading", "--gatewaying", "--ipip"}) {
    const Command c = parse({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", flag, "-w", "4"});
    EXPECT_EQ(c.op, Op::kAddDest) << flag;
    EXPECT_EQ(c.dest->weight, 4U) << flag;
  }
  EXPECT_EQ(parse({"-e", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-m"}).op, Op::kEditDest);
}

TEST(Cli, EditServerWithoutWeightUsesOne) {
  const Command c = parse({"-e", "-t", "10.0.0.1:80", "-r", "10.0.0.2:81"});
  EXPECT_EQ(c.op, Op::kEditDest);
  EXPECT_EQ(c.dest->weight, 1U);
}

TEST(Cli, WeightBounds) {
  EXPECT_EQ(parse({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-w", "0"}).dest->weight, 0U);
  EXPECT_EQ(parse({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-w", "65535"}).dest->weight,
            65535U);
  for (const char* w : {"65536", "70000", "-1", "abc", "", "1.5", "0x10", "99999999999999999999"}) {
    EXPECT_NE(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-w", w}).find("weight"),
              std::string::npos)
        << w;
  }
}

TEST(Cli, DeleteServer) {
  const Command c = parse({"-d", "-t", "10.0.0.1:80", "-r", "10.0.0.2:8080"});
  EXPECT_EQ(c.op, Op::kDelDest);
  EXPECT_EQ(c.dest->port, 8080);
  EXPECT_NE(usage_error({"-d", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-w", "2"}), "<no error>");
}

TEST(Cli, ListVariants) {
  Command c = parse({"-L", "-n"});
  EXPECT_EQ(c.op, Op::kList);
  EXPECT_TRUE(c.numeric);
  EXPECT_FALSE(c.service.has_value());
  c = parse({"-l"});
  EXPECT_EQ(c.op, Op::kList);
  c = parse({"--list", "--numeric", "--stats", "--exact"});
  EXPECT_TRUE(c.stats);
  EXPECT_TRUE(c.exact);
  c = parse({"-L", "-t", "10.0.0.1:80"});
  EXPECT_EQ(c.service, key(IPPROTO_TCP, "10.0.0.1", 80));
}

TEST(Cli, BundledShortFlags) {
  Command c = parse({"-Ln"});
  EXPECT_EQ(c.op, Op::kList);
  EXPECT_TRUE(c.numeric);
  c = parse({"-Sn"});
  EXPECT_EQ(c.op, Op::kSave);
  EXPECT_TRUE(c.numeric);
  c = parse({"-at", "10.0.0.1:80", "-r", "10.0.0.2"});
  EXPECT_EQ(c.op, Op::kAddDest);
}

TEST(Cli, NoArgumentsOrOnlyNumericMeansList) {
  EXPECT_EQ(parse({}).op, Op::kList);
  const Command c = parse({"-n"});
  EXPECT_EQ(c.op, Op::kList);
  EXPECT_TRUE(c.numeric);
}

TEST(Cli, OtherCommands) {
  EXPECT_EQ(parse({"-C"}).op, Op::kClear);
  EXPECT_EQ(parse({"--clear"}).op, Op::kClear);
  EXPECT_EQ(parse({"-S"}).op, Op::kSave);
  EXPECT_EQ(parse({"--save", "-n"}).op, Op::kSave);
  EXPECT_EQ(parse({"-R"}).op, Op::kRestore);
  EXPECT_FALSE(parse({"-R"}).replace);
  EXPECT_TRUE(parse({"-R", "--replace"}).replace);
  EXPECT_TRUE(parse({"-R", "--json", "--replace"}).replace);
  EXPECT_EQ(parse({"--restore"}).op, Op::kRestore);
  EXPECT_EQ(parse({"-h"}).op, Op::kHelp);
  EXPECT_EQ(parse({"--help"}).op, Op::kHelp);
  EXPECT_EQ(parse({"-V"}).op, Op::kVersion);
  EXPECT_EQ(parse({"-v"}).op, Op::kVersion);
  EXPECT_EQ(parse({"--version"}).op, Op::kVersion);
}

TEST(Cli, Zero) {
  Command c = parse({"-Z"});
  EXPECT_EQ(c.op, Op::kZero);
  EXPECT_FALSE(c.service.has_value());
  c = parse({"--zero", "-u", "10.0.0.1:53"});
  EXPECT_EQ(c.service, key(IPPROTO_UDP, "10.0.0.1", 53));
}

TEST(Cli, OptionOrderDoesNotMatter) {
  EXPECT_EQ(parse({"-t", "10.0.0.1:80", "-s", "rr", "-A"}),
            parse({"-A", "-s", "rr", "-t", "10.0.0.1:80"}));
}

TEST(Cli, RejectsUnknownOptionsAndArguments) {
  EXPECT_NE(usage_error({"--no-such-option"}).find("unknown option"), std::string::npos);
  EXPECT_NE(usage_error({"-Q"}).find("unknown option"), std::string::npos);
  EXPECT_NE(usage_error({"-A", "-t", "10.0.0.1:80", "-f", "1"}).find("not supported"),
            std::string::npos);  // fwmark services: not in sock_vs (-p is, persist_test.cc)
  EXPECT_NE(usage_error({"-L", "extra"}).find("unexpected argument"), std::string::npos);
  EXPECT_NE(usage_error({"-L", "-"}).find("unexpected argument"), std::string::npos);
}

TEST(Cli, DoubleDashEndsOptions) {
  EXPECT_EQ(parse({"-L", "-n", "--"}), parse({"-L", "-n"}));
  EXPECT_EQ(parse({"--"}).op, Op::kList);
  EXPECT_EQ(usage_error({"-L", "--", "-n"}), "unexpected argument '-n' (after '--')");
  EXPECT_EQ(usage_error({"-L", "--", "--"}), "unexpected argument '--' (after '--')");
  // "--" as an option's value is a value, as with getopt_long.
  EXPECT_NE(usage_error({"-A", "-t", "--"}).find("virtual service"), std::string::npos);
}

TEST(Cli, IpvsadmShortExactAndVersion) {
  EXPECT_TRUE(parse({"-L", "-X", "--stats"}).exact);
  EXPECT_TRUE(parse({"-LnX", "--stats"}).exact);
  EXPECT_EQ(parse({"-L", "-X", "--stats"}), parse({"-L", "--exact", "--stats"}));
  EXPECT_NE(usage_error({"-A", "-t", "10.0.0.1:80", "-X"}).find("option -X is not valid with -A"),
            std::string::npos);
  EXPECT_EQ(parse({"-v"}).op, Op::kVersion);
  EXPECT_EQ(parse({"-V"}).op, Op::kVersion);
  EXPECT_EQ(parse({"--vers"}).op, Op::kVersion);
}

TEST(Cli, LongOptionAbbreviations) {
  EXPECT_EQ(parse({"--add-servi", "--tcp", "10.0.0.1:80", "--schedu=rr"}),
            parse({"--add-service", "--tcp-service", "10.0.0.1:80", "--scheduler", "rr"}));
  EXPECT_EQ(parse({"--li", "--num", "--stat", "--ex"}),
            parse({"--list", "--numeric", "--stats", "--exact"}));
  EXPECT_EQ(parse({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--wei", "3"}).dest->weight, 3U);
  EXPECT_EQ(parse({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--shards", "4"}),
            parse({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--shards=4"}));
  // Messages name the option in full.
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--schedu"}),
            "option --scheduler needs a value");
  EXPECT_EQ(usage_error({"--num=1"}), "option --numeric takes no value");
  // Ambiguous prefixes name the candidates (ipvsadm's refused ones too).
  EXPECT_EQ(usage_error({"--s"}).find("option '--s' is ambiguous; possibilities: --save"), 0U);
  EXPECT_NE(
      usage_error({"-A", "-t", "10.0.0.1:80", "--shard", "2"}).find("--shard-policy --shards"),
      std::string::npos);
  EXPECT_NE(usage_error({"--per"}).find("--persistent --persistent-conn"), std::string::npos);
  EXPECT_NE(usage_error({"--add"}).find("--add-service --add-server"), std::string::npos);
  EXPECT_EQ(usage_error({"--bogus"}), "unknown option '--bogus'");
  // An exact name wins over longer ones: --pe is ipvsadm's persistence engine.
  EXPECT_NE(usage_error({"-A", "-t", "10.0.0.1:80", "--pe", "sip"}).find("persistence engines"),
            std::string::npos);
}

TEST(Cli, SortAndNoSort) {
  EXPECT_TRUE(parse({"-L", "--sort"}).sort);
  EXPECT_TRUE(parse({"-S", "-n", "--sort"}).sort);
  EXPECT_FALSE(parse({"-L"}).sort);
  EXPECT_FALSE(parse({"-L", "--nosort"}).sort);
  EXPECT_EQ(parse({"-L", "--nosort"}), parse({"-L"}));
  EXPECT_EQ(usage_error({"-L", "--sort", "--nosort"}),
            "options --sort and --nosort cannot be combined");
  EXPECT_NE(usage_error({"-A", "-t", "10.0.0.1:80", "--sort"}).find("not valid with -A"),
            std::string::npos);
}

TEST(Cli, RefusesIpvsadmOptionsSockVsCannotHonour) {
  struct Case {
    std::vector<const char*> args;
    const char* message;
  };
  const std::vector<Case> cases = {
      {{"-A", "-t", "10.0.0.1:80", "-p", "-M", "255.255.255.0"},
       "option -M (--netmask) is not supported: sock_vs persistence has no client netmask"},
      {{"-A", "-t", "10.0.0.1:80", "--netmask=255.255.0.0"}, "option -M (--netmask)"},
      {{"-A", "-f", "1"}, "option -f (--fwmark-service) is not supported"},
      {{"-A", "--fwmark", "1"}, "option -f (--fwmark-service) is not supported"},
      {{"-A", "-t", "10.0.0.1:80", "--pe", "sip"}, "option --pe is not supported"},
      {{"-A", "-u", "10.0.0.1:53", "-o"}, "option -o (--ops) is not supported"},
      {{"-A", "-u", "10.0.0.1:53", "--ops"}, "--unconnected"},
      {{"-Lno"}, "option -o (--ops)"},
      {{"-L", "--daemon"}, "option --daemon is not supported: sock_vs has no connection sync"},
      {{"--start-daemon", "master"}, "option --start-daemon is not supported"},
      {{"--stop-daemon", "backup"}, "option --stop-daemon is not supported"},
      {{"--start-d", "master"}, "option --start-daemon is not supported"},
      {{"-L", "--timeout"}, "option --timeout is not supported: sock_vs keeps no connection"},
      {{"--set", "900", "120", "300"}, "option --set is not supported"},
      {{"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-i", "--tun-type", "gue"},
       "option --tun-type is not supported: sock_vs forwards no packets"},
      {{"-A", "-t", "10.0.0.1:80", "-b", "sh-port"}, "option -b (--sched-flags)"},
      {{"-L", "--rate"}, "use --stats"},
      {{"-L", "--persistent-conn"}, "use -L -c"},
      {{"-A", "--sctp-service", "10.0.0.1:80"}, "TCP and UDP only"},
  };
  for (const auto& c : cases) {
    const std::vector<std::string> v(c.args.begin(), c.args.end());
    std::string err = "<no error>";
    try {
      parse_command(v);
    } catch (const UsageError& e) {
      err = e.what();
    }
    EXPECT_NE(err.find(c.message), std::string::npos) << c.args.front() << " -> " << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;  // one line
  }
}

TEST(Cli, RejectsTwoCommands) {
  EXPECT_NE(usage_error({"-A", "-a", "-t", "10.0.0.1:80"}).find("only one command"),
            std::string::npos);
  EXPECT_NE(usage_error({"-L", "-L"}).find("only one command"), std::string::npos);
}

TEST(Cli, RejectsRepeatedOptions) {
  EXPECT_NE(usage_error({"-A", "-t", "10.0.0.1:80", "-u", "10.0.0.1:80"}), "<no error>");
  EXPECT_NE(
      usage_error({"-A", "-t", "10.0.0.1:80", "-s", "rr", "-s", "wrr"}).find("more than once"),
      std::string::npos);
}

TEST(Cli, MissingValues) {
  EXPECT_NE(usage_error({"-A", "-t"}).find("needs a value"), std::string::npos);
  EXPECT_NE(usage_error({"-a", "-t", "10.0.0.1:80", "-r"}).find("needs a value"),
            std::string::npos);
  EXPECT_NE(usage_error({"--tcp-service"}).find("needs a value"), std::string::npos);
  EXPECT_NE(usage_error({"--clear=yes"}).find("takes no value"), std::string::npos);
}

TEST(Cli, MissingServiceOrRealServer) {
  EXPECT_NE(usage_error({"-A", "-s", "rr"}).find("needs a virtual service"), std::string::npos);
  EXPECT_NE(usage_error({"-D"}).find("needs a virtual service"), std::string::npos);
  EXPECT_NE(usage_error({"-a", "-t", "10.0.0.1:80"}).find("needs a real server"),
            std::string::npos);
  EXPECT_NE(usage_error({"-d", "-t", "10.0.0.1:80"}).find("needs a real server"),
            std::string::npos);
}

TEST(Cli, OptionsNotValidForCommand) {
  EXPECT_NE(usage_error({"-A", "-t", "10.0.0.1:80", "-w", "2"}).find("not valid with -A"),
            std::string::npos);
  EXPECT_NE(usage_error({"-C", "-n"}).find("not valid"), std::string::npos);
  EXPECT_NE(usage_error({"-R", "-t", "10.0.0.1:80"}).find("not valid"), std::string::npos);
  EXPECT_NE(usage_error({"-L", "--replace"}).find("not valid"), std::string::npos);
  EXPECT_NE(usage_error({"-S", "--replace"}).find("not valid"), std::string::npos);
  EXPECT_NE(usage_error({"-L", "-s", "rr"}).find("not valid with -L"), std::string::npos);
  EXPECT_NE(usage_error({"-S", "--stats"}).find("not valid"), std::string::npos);
  EXPECT_NE(usage_error({"-A", "-t", "10.0.0.1:80", "-r", "10.0.0.2"}).find("not valid"),
            std::string::npos);
  EXPECT_NE(usage_error({"-t", "10.0.0.1:80", "-s", "rr"}).find("not valid with --list"),
            std::string::npos);
  EXPECT_NE(usage_error({"-A", "-t", "10.0.0.1:80", "-m"}).find("not valid"), std::string::npos);
}

TEST(Cli, ServiceNeedsPort) {
  EXPECT_NE(usage_error({"-A", "-t", "10.0.0.3"}).find("needs a port"), std::string::npos);
  EXPECT_NE(usage_error({"-A", "-t", "[fd00::1]"}).find("needs a port"), std::string::npos);
  EXPECT_NE(usage_error({"-A", "-t", "fd00::1"}).find("needs a port"), std::string::npos);
}

TEST(Cli, BadAddressesAndPorts) {
  for (const char* bad : {"10.255.0.256:80", "10.255.0:80", "10.255.0.1.2:80", "[fd00::zz]:80",
                          "10.0.0.1:0", "10.0.0.1:70000", "10.0.0.1:65536", "10.0.0.1:-1",
                          "10.0.0.1:abc", "10.0.0.1:", "name:80"}) {
    EXPECT_NE(usage_error({"-A", "-t", bad, "-s", "rr"}), "<no error>") << bad;
  }
  EXPECT_NE(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "127.0.0.300:80"}), "<no error>");
  EXPECT_NE(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "127.0.0.8:70000"}), "<no error>");
}

TEST(Cli, SchedulerNameSyntax) {
  EXPECT_EQ(parse({"-A", "-t", "10.0.0.1:80", "-s", "my_sched-2"}).scheduler, "my_sched-2");
  EXPECT_EQ(parse({"-A", "-t", "10.0.0.1:80", "-s", "abcdefghijklmno"}).scheduler,
            "abcdefghijklmno");  // 15 = SOCK_VS_SCHED_NAME_MAX - 1
  for (const char* bad :
       {"", "abcdefghijklmnop", "r r", "rr;", "../x", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}) {
    EXPECT_NE(usage_error({"-A", "-t", "10.0.0.1:80", "-s", bad}).find("scheduler"),
              std::string::npos)
        << bad;
  }
}

TEST(Cli, RealServerFamilyMustMatchService) {
  EXPECT_NE(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "[::1]:80"}).find("IPv6"),
            std::string::npos);
  EXPECT_NE(usage_error({"-a", "-t", "[fd00::1]:80", "-r", "127.0.0.1:80"}).find("IPv4"),
            std::string::npos);
  EXPECT_NE(usage_error({"-d", "-t", "[fd00::1]:80", "-r", "127.0.0.1"}), "<no error>");
}

TEST(Cli, SplitWords) {
  EXPECT_EQ(split_words("  -A\t-t 10.0.0.1:80  -s rr \r"),
            (std::vector<std::string>{"-A", "-t", "10.0.0.1:80", "-s", "rr"}));
  EXPECT_TRUE(split_words("   ").empty());
  EXPECT_TRUE(split_words("").empty());
}

TEST(Cli, OpNamesAndChanges) {
  EXPECT_EQ(op_name(Op::kAddService), "--add-service");
  EXPECT_EQ(op_name(Op::kDelDest), "--delete-server");
  EXPECT_TRUE(is_change(Op::kAddDest));
  EXPECT_TRUE(is_change(Op::kClear));
  EXPECT_TRUE(is_change(Op::kZero));
  EXPECT_FALSE(is_change(Op::kList));
  EXPECT_FALSE(is_change(Op::kRestore));
  EXPECT_FALSE(is_change(Op::kSave));
  EXPECT_EQ(op_name(Op::kKill), "--kill");
  EXPECT_FALSE(is_change(Op::kKill));  // terminates sockets, changes no setting: not for -R
}

TEST(Cli, UsageMentionsEveryCommandAndNames) {
  const std::string u = usage_text();
  for (const char* opt : {"--add-service", "--edit-service", "--delete-service",
                          "--add-server",  "--edit-server",  "--delete-server",
                          "--clear",       "--list",         "--save",
                          "--restore",     "--zero",         "--help",
                          "--version",     "--tcp-service",  "--udp-service",
                          "--scheduler",   "--real-server",  "--weight",
                          "--numeric",     "--stats",        "--exact",
                          "service name",  "undone"}) {
    EXPECT_NE(u.find(opt), std::string::npos) << opt;
  }
}

TEST(Cli, HashKeyAndShardPolicyOnAddAndEditService) {
  Command c = parse(
      {"-A", "-t", "10.0.0.1:6379", "-s", "mh", "--hash-key", "local", "--shard-policy", "lc"});
  EXPECT_EQ(c.scheduler, "mh");
  EXPECT_EQ(c.hash_key, sockvs::HashKey::kLocal);
  EXPECT_EQ(c.shard_policy, sockvs::ShardPolicy::kLc);
  c = parse({"-E", "-t", "10.0.0.1:6379", "--hash-key=cgroup"});
  EXPECT_EQ(c.op, Op::kEditService);
  EXPECT_EQ(c.scheduler, "");  // unchanged
  EXPECT_EQ(c.hash_key, sockvs::HashKey::kCgroup);
  EXPECT_FALSE(c.shard_policy.has_value());  // unchanged
  c = parse({"-E", "-t", "10.0.0.1:6379", "--shard-policy=hash"});
  EXPECT_FALSE(c.hash_key.has_value());
  EXPECT_EQ(c.shard_policy, sockvs::ShardPolicy::kHash);
  // Every name.
  for (const auto& [name, key] :
       {std::pair{"tgid", sockvs::HashKey::kTgid}, std::pair{"local", sockvs::HashKey::kLocal},
        std::pair{"cgroup", sockvs::HashKey::kCgroup}}) {
    EXPECT_EQ(parse({"-A", "-t", "10.0.0.1:80", "--hash-key", name}).hash_key, key) << name;
  }
  for (const auto& [name, policy] :
       {std::pair{"rr", sockvs::ShardPolicy::kRr}, std::pair{"lc", sockvs::ShardPolicy::kLc},
        std::pair{"cpu", sockvs::ShardPolicy::kCpu},
        std::pair{"hash", sockvs::ShardPolicy::kHash}}) {
    EXPECT_EQ(parse({"-A", "-t", "10.0.0.1:80", "--shard-policy", name}).shard_policy, policy)
        << name;
  }
}

TEST(Cli, HashKeyAndShardPolicyNotGivenAreNotSet) {
  const Command c = parse({"-A", "-t", "10.0.0.1:80"});
  EXPECT_FALSE(c.hash_key.has_value());      // the module's default: tgid
  EXPECT_FALSE(c.shard_policy.has_value());  // the module's default: rr
}

TEST(Cli, InvalidHashKeyAndShardPolicy) {
  for (const char* bad : {"pid", "TGID", "", "0", "local,cgroup"}) {
    EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--hash-key", bad}),
              "invalid hash key '" + std::string(bad) + "': expected tgid, local, cgroup or netns")
        << bad;
  }
  for (const char* bad : {"wrr", "RR", "", "3", "round-robin"}) {
    EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--shard-policy", bad}),
              "invalid shard policy '" + std::string(bad) + "': expected rr, lc, cpu or hash")
        << bad;
  }
  EXPECT_NE(usage_error({"-A", "-t", "10.0.0.1:80", "--hash-key"}).find("needs a value"),
            std::string::npos);
  EXPECT_NE(usage_error({"-A", "-t", "10.0.0.1:80", "--hash-key", "tgid", "--hash-key", "local"})
                .find("more than once"),
            std::string::npos);
}

TEST(Cli, ServiceOptionsOnlyWithAddOrEditService) {
  EXPECT_EQ(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--hash-key", "local"}),
            "option --hash-key is not valid with -a");
  EXPECT_EQ(usage_error({"-D", "-t", "10.0.0.1:80", "--shard-policy", "lc"}),
            "option --shard-policy is not valid with -D");
  EXPECT_EQ(usage_error({"-L", "--hash-key", "local"}), "option --hash-key is not valid with -L");
}

TEST(Cli, ThresholdsOnAddAndEditServer) {
  Command c =
      parse({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-w", "2", "-x", "100", "-y", "50"});
  ASSERT_TRUE(c.dest.has_value());
  EXPECT_EQ(c.dest->weight, 2U);
  EXPECT_EQ(c.dest->u_threshold, 100U);
  EXPECT_EQ(c.dest->l_threshold, 50U);
  EXPECT_FALSE(c.dest->shards.has_value());
  c = parse({"--edit-server", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--u-threshold", "7",
             "--l-threshold=7"});
  EXPECT_EQ(c.dest->u_threshold, 7U);  // equal is fine
  EXPECT_EQ(c.dest->l_threshold, 7U);
  c = parse({"-a", "-t10.0.0.1:80", "-r10.0.0.2", "-x100"});  // attached values
  EXPECT_EQ(c.dest->u_threshold, 100U);
  EXPECT_FALSE(c.dest->l_threshold.has_value());
  c = parse({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2"});
  EXPECT_FALSE(c.dest->u_threshold.has_value());  // the module's default: 0
  EXPECT_FALSE(c.dest->l_threshold.has_value());
}

TEST(Cli, ThresholdBounds) {
  Command c = parse({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-x", "2147483647", "-y", "0"});
  EXPECT_EQ(c.dest->u_threshold, 2147483647U);
  EXPECT_EQ(c.dest->l_threshold, 0U);
  c = parse({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-x", "0"});
  EXPECT_EQ(c.dest->u_threshold, 0U);
  for (const char* bad : {"2147483648", "4294967296", "-1", "abc", "", "1e3", "+5", " 5"}) {
    EXPECT_EQ(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-x", bad}),
              "invalid upper threshold (-x) '" + std::string(bad) + "': expected 0-2147483647")
        << bad;
    EXPECT_EQ(
        usage_error({"-e", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--l-threshold", bad}),
        "invalid lower threshold (--l-threshold) '" + std::string(bad) + "': expected 0-2147483647")
        << bad;
  }
}

TEST(Cli, LowerThresholdAboveUpperIsRejected) {
  EXPECT_EQ(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-x", "50", "-y", "100"}),
            "lower threshold 100 (-y) is above the upper threshold 50 (-x)");
  EXPECT_EQ(usage_error({"-e", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--l-threshold", "2",
                         "--u-threshold", "1"}),
            "lower threshold 2 (--l-threshold) is above the upper threshold 1 (--u-threshold)");
  // -a starts from no upper threshold (0), so -y alone cannot be above 0.
  EXPECT_EQ(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-y", "10"}),
            "lower threshold 10 (-y) is above the upper threshold 0 (-x not given)");
  EXPECT_EQ(parse({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-y", "0"}).dest->l_threshold, 0U);
  // -e keeps the current upper threshold: the module compares with it.
  EXPECT_EQ(parse({"-e", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-y", "10"}).dest->l_threshold,
            10U);
}

TEST(Cli, ShardsOnAddAndEditServer) {
  Command c = parse({"-a", "-t", "10.0.0.1:9042", "-r", "127.0.0.1", "--shards", "4"});
  EXPECT_EQ(c.dest->shards, 4);
  EXPECT_FALSE(c.shards);  // not the -L view
  c = parse({"-e", "-t", "10.0.0.1:9042", "-r", "127.0.0.1", "--shards=1024", "-w", "3"});
  EXPECT_EQ(c.dest->shards, 1024);
  EXPECT_EQ(c.dest->weight, 3U);
  c = parse({"-a", "-t", "10.0.0.1:9042", "-r", "127.0.0.1", "--shards", "1"});
  EXPECT_EQ(c.dest->shards, 1);
  // The option may come before the command.
  c = parse({"--shards", "8", "-a", "-t", "10.0.0.1:9042", "-r", "127.0.0.1"});
  EXPECT_EQ(c.dest->shards, 8);
  for (const char* bad : {"0", "1025", "65536", "-1", "x", "", "4.0"}) {
    EXPECT_EQ(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--shards", bad}),
              "invalid number of shards (--shards) '" + std::string(bad) + "': expected 1-1024")
        << bad;
  }
}

TEST(Cli, ShardsNeedsAValueOnServers) {
  EXPECT_EQ(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--shards"}),
            "option --shards needs a value (1-1024) with -a");
  EXPECT_EQ(usage_error({"-e", "-t", "10.0.0.1:80", "--shards", "-r", "10.0.0.2"}),
            "option --shards needs a value (1-1024) with -e");
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--shards", "4"}),
            "option --shards is not valid with -A");
  EXPECT_EQ(usage_error({"-d", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--shards", "4"}),
            "option --shards is not valid with -d");
  EXPECT_EQ(
      usage_error({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--shards", "2", "--shards", "3"}),
      "option --shards given more than once");
}

TEST(Cli, ThresholdsOnlyWithAddOrEditServer) {
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "-x", "5"}), "option -x is not valid with -A");
  EXPECT_EQ(usage_error({"-d", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-y", "5"}),
            "option -y is not valid with -d");
  EXPECT_EQ(usage_error({"-L", "--u-threshold", "5"}), "option --u-threshold is not valid with -L");
}

TEST(Cli, ListViews) {
  Command c = parse({"-L", "-n", "--thresholds"});
  EXPECT_TRUE(c.thresholds);
  EXPECT_FALSE(c.shards);
  EXPECT_FALSE(c.stats);
  c = parse({"-L", "-n", "--shards"});
  EXPECT_TRUE(c.shards);
  EXPECT_FALSE(c.thresholds);
  c = parse({"-L", "--shards", "-n"});  // an option after it is not its value
  EXPECT_TRUE(c.shards);
  EXPECT_TRUE(c.numeric);
  c = parse({"--shards", "-L", "-t", "10.0.0.1:80"});
  EXPECT_TRUE(c.shards);
  EXPECT_EQ(c.service, key(IPPROTO_TCP, "10.0.0.1", 80));
  c = parse({"--shards"});  // no command: -L
  EXPECT_EQ(c.op, Op::kList);
  EXPECT_TRUE(c.shards);
  EXPECT_EQ(usage_error({"-L", "--shards", "4"}), "option --shards takes no value with -L");
  EXPECT_EQ(usage_error({"-L", "--shards=4"}), "option --shards takes no value with -L");
  EXPECT_EQ(usage_error({"-L", "--thresholds=yes"}), "option --thresholds takes no value");
}

TEST(Cli, OneListViewAtATime) {
  EXPECT_EQ(usage_error({"-L", "--stats", "--thresholds"}),
            "options --stats and --thresholds cannot be combined: -L shows one view at a time");
  EXPECT_EQ(usage_error({"-L", "--shards", "--stats"}),
            "options --stats and --shards cannot be combined: -L shows one view at a time");
  EXPECT_EQ(usage_error({"-L", "--thresholds", "--shards"}),
            "options --thresholds and --shards cannot be combined: -L shows one view at a time");
  EXPECT_NE(usage_error({"-S", "--thresholds"}).find("not valid with -S"), std::string::npos);
  EXPECT_NE(usage_error({"-S", "--shards"}).find("not valid with -S"), std::string::npos);
  EXPECT_NE(usage_error({"-Z", "--thresholds"}).find("not valid with -Z"), std::string::npos);
  EXPECT_EQ(usage_error({"-L", "-c", "--json"}),
            "options -c and --json cannot be combined: -L -c lists in text only");
}

TEST(Cli, UsageListsSchedulersShardPoliciesAndHashKeys) {
  const std::string u = usage_text();
  for (const char* line :
       {"  rr      round robin", "  wrr     weighted round robin", "  lc      least connections",
        "  wlc     weighted least connections", "  sh      source hashing",
        "  mh      Maglev consistent hashing", "  port    the socket's bound local port",
        "  fixed   the first usable real server", "  fo      weighted failover",
        "  tgid    the connecting process (default)",
        "  local   the socket's bound local address and port", "  cgroup  the socket's cgroup (v2)",
        "  rr      round robin over the shards (default)",
        "  lc      the shard with the fewest open connections",
        "  cpu     the current CPU modulo the shards",
        "  hash    the service's hash key modulo the shards"}) {
    EXPECT_NE(u.find(line), std::string::npos) << line;
  }
  for (const char* opt : {"--hash-key", "--shard-policy", "--u-threshold  -x", "--l-threshold  -y",
                          "--shards", "--thresholds", "PerShard",
                          "--hash-key local --shard-policy lc", "-x 100 -y 50 --shards 4"}) {
    EXPECT_NE(u.find(opt), std::string::npos) << opt;
  }
}

TEST(Cli, TerminateOnAddAndEditService) {
  for (const auto& [name, policy] :
       {std::pair{"none", sockvs::Terminate::kNone}, std::pair{"udp", sockvs::Terminate::kUdp},
        std::pair{"all", sockvs::Terminate::kAll}}) {
    EXPECT_EQ(parse({"-A", "-u", "10.0.0.1:53", "--terminate", name}).terminate, policy) << name;
    const std::string attached = "--terminate=" + std::string(name);
    EXPECT_EQ(parse({"-E", "-t", "10.0.0.1:80", attached.c_str()}).terminate, policy) << name;
  }
  // Not given: the module's default (-A), unchanged (-E).
  EXPECT_FALSE(parse({"-A", "-u", "10.0.0.1:53"}).terminate.has_value());
  EXPECT_FALSE(parse({"-E", "-u", "10.0.0.1:53", "-s", "rr"}).terminate.has_value());
}

TEST(Cli, InvalidTerminate) {
  for (const char* bad : {"sometimes", "UDP", "", "tcp", "1", "yes"}) {
    EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--terminate", bad}),
              "invalid terminate policy '" + std::string(bad) + "': expected none, udp or all")
        << bad;
    EXPECT_EQ(usage_error({"-K", "-t", "10.0.0.1:80", "--terminate", bad}),
              "invalid terminate policy '" + std::string(bad) + "': expected none, udp or all")
        << bad;
  }
  EXPECT_NE(usage_error({"-E", "-t", "10.0.0.1:80", "--terminate"}).find("needs a value"),
            std::string::npos);
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--terminate", "all", "--terminate", "udp"}),
            "option --terminate given more than once");
  EXPECT_EQ(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--terminate", "all"}),
            "option --terminate is not valid with -a");
  EXPECT_EQ(usage_error({"-d", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--terminate", "all"}),
            "option --terminate is not valid with -d");
  EXPECT_EQ(usage_error({"-D", "-t", "10.0.0.1:80", "--terminate", "all"}),
            "option --terminate is not valid with -D");
  EXPECT_EQ(usage_error({"-L", "--terminate", "all"}), "option --terminate is not valid with -L");
}

TEST(Cli, KillOneServerOrTheWholeService) {
  Command c = parse({"-K", "-u", "10.0.0.1:53", "-r", "127.0.0.1:5301"});
  EXPECT_EQ(c.op, Op::kKill);
  EXPECT_EQ(c.service, key(IPPROTO_UDP, "10.0.0.1", 53));
  ASSERT_TRUE(c.dest.has_value());
  EXPECT_EQ(c.dest->addr.to_string(), "127.0.0.1");
  EXPECT_EQ(c.dest->port, 5301);
  EXPECT_FALSE(c.terminate.has_value());  // the service's own policy
  c = parse({"--kill", "--tcp-service", "[fd00::1]:80", "--real-server", "[fd00::2]"});
  EXPECT_EQ(c.op, Op::kKill);
  EXPECT_EQ(c.dest->port, 80);  // the virtual port, as for -a
  c = parse({"-K", "-t", "10.0.0.1:6379", "--terminate", "all"});
  EXPECT_EQ(c.op, Op::kKill);
  EXPECT_FALSE(c.dest.has_value());  // every real server
  EXPECT_EQ(c.terminate, sockvs::Terminate::kAll);
  EXPECT_EQ(parse({"-K", "-u", "10.0.0.1:53", "--terminate=udp"}).terminate,
            sockvs::Terminate::kUdp);
}

TEST(Cli, KillUsageErrors) {
  EXPECT_EQ(usage_error({"-K"}), "-K needs a virtual service (-t or -u ADDRESS:PORT)");
  EXPECT_EQ(usage_error({"-K", "-r", "10.0.0.2"}),
            "-K needs a virtual service (-t or -u ADDRESS:PORT)");
  EXPECT_NE(usage_error({"-K", "-f", "1"}).find("not supported"), std::string::npos);  // fwmark
  EXPECT_EQ(usage_error({"-K", "-u", "10.0.0.1:53", "--terminate", "none"}),
            "--terminate none is not valid with -K: it would terminate nothing (give udp or all, "
            "or no --terminate for the service's own policy)");
  EXPECT_EQ(usage_error({"-K", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "-w", "0"}),
            "option -w is not valid with -K");
  EXPECT_EQ(usage_error({"-K", "-t", "10.0.0.1:80", "-s", "rr"}), "option -s is not valid with -K");
  EXPECT_EQ(usage_error({"-K", "-t", "10.0.0.1:80", "-n"}), "option -n is not valid with -K");
  EXPECT_NE(usage_error({"-K", "-t", "10.0.0.1:80", "-r", "[::1]:80"}).find("IPv6"),
            std::string::npos);
  EXPECT_NE(usage_error({"-K", "-t", "10.0.0.1"}).find("needs a port"), std::string::npos);
  EXPECT_NE(usage_error({"-K", "-d", "-t", "10.0.0.1:80"}).find("only one command"),
            std::string::npos);
}

TEST(Cli, UsageDocumentsTerminateAndKill) {
  const std::string u = usage_text();
  for (const char* text :
       {"--kill            -K", "--terminate", "none|udp|all", "[--terminate udp|all]",
        "ECONNABORTED", "EDESTADDRREQ", "SO_ERROR", "TIME_WAIT", "reset", "Killed",
        "\"terminate\":\"udp\"", "\"killed\":N"}) {
    EXPECT_NE(u.find(text), std::string::npos) << text;
  }
}

std::vector<sockvs::SkipRule> rules(std::initializer_list<sockvs::SkipRule> r) { return r; }

std::vector<sockvs::SkipRule> skips(const Command& c) {
  return c.skip.value_or(std::vector<sockvs::SkipRule>{});
}

TEST(Cli, SkipOptionsInTheOrderGiven) {
  const Command c =
      parse({"-A", "-t", "10.0.0.1:80", "--skip-mark", "0x10/0xf0", "-s", "rr", "--skip-uid",
             "4242-4243", "--skip-cgroup", "/svs-72-skip", "--skip-uid=0", "--skip-mark", "7"});
  const std::vector<sockvs::SkipRule> want{sockvs::SkipMark{0x10, 0xf0},
                                           sockvs::SkipUid{4242, 4243},
                                           sockvs::SkipCgroup{"/svs-72-skip", 0},
                                           sockvs::SkipUid{0, 0}, sockvs::SkipMark{7, 0xffffffffU}};
  ASSERT_TRUE(c.skip.has_value());
  EXPECT_EQ(*c.skip, want);
  EXPECT_EQ(c.scheduler, "rr");
  // -E too; without any --skip-* the rules are left alone (no nest sent).
  EXPECT_EQ(skips(parse({"-E", "-u", "10.0.0.1:53", "--skip-uid", "1000"})),
            rules({sockvs::SkipUid{1000, 1000}}));
  EXPECT_FALSE(parse({"-E", "-u", "10.0.0.1:53", "-s", "rr"}).skip.has_value());
  EXPECT_FALSE(parse({"-A", "-u", "10.0.0.1:53"}).skip.has_value());
}

TEST(Cli, SkipNoneClearsTheRules) {
  const Command c = parse({"-E", "-t", "10.0.0.1:80", "--skip-none"});
  ASSERT_TRUE(c.skip.has_value());
  EXPECT_TRUE(c.skip->empty());
  EXPECT_TRUE(parse({"-A", "-t", "10.0.0.1:80", "--skip-none"}).skip->empty());
  EXPECT_EQ(usage_error({"-E", "-t", "10.0.0.1:80", "--skip-none", "--skip-uid", "5"}),
            "option --skip-none cannot be combined with --skip-uid: the --skip-* options given "
            "replace the exemptions anyway");
  EXPECT_EQ(usage_error({"-E", "-t", "10.0.0.1:80", "--skip-none=x"}),
            "option --skip-none takes no value");
}

TEST(Cli, SkipUidValues) {
  EXPECT_EQ(skips(parse({"-A", "-t", "10.0.0.1:80", "--skip-uid", "4294967294"})),
            rules({sockvs::SkipUid{4294967294U, 4294967294U}}));
  EXPECT_EQ(skips(parse({"-A", "-t", "10.0.0.1:80", "--skip-uid", "7-7"})),
            rules({sockvs::SkipUid{7, 7}}));
  for (const char* bad : {"", "-", "5-", "-5", "a", "1-2-3", "0x10", "+5", " 5", "4294967295",
                          "0-4294967295", "99999999999"}) {
    EXPECT_EQ(
        usage_error({"-A", "-t", "10.0.0.1:80", "--skip-uid", bad}),
        "invalid --skip-uid '" + std::string(bad) + "': expected UID or UID-UID, 0-4294967294")
        << bad;
  }
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--skip-uid", "5-3"}),
            "invalid --skip-uid '5-3': uid range ends before it starts");
}

TEST(Cli, SkipMarkValues) {
  const auto mark = [](const char* text) {
    return skips(parse({"-A", "-t", "10.0.0.1:80", "--skip-mark", text}));
  };
  using M = sockvs::SkipMark;
  EXPECT_EQ(mark("16"), rules({M{16, 0xffffffffU}}));
  EXPECT_EQ(mark("0x10/0xF0"), rules({M{0x10, 0xf0}}));
  EXPECT_EQ(mark("0X10/240"), rules({M{0x10, 0xf0}}));
  EXPECT_EQ(mark("0/0"), rules({M{0, 0}}));  // every socket
  EXPECT_EQ(mark("0xffffffff"), rules({M{0xffffffffU, 0xffffffffU}}));
  for (const char* bad : {"", "/", "0x", "0x/1", "1/", "x10", "0x1g", "-1", "1/2/3", "0x100000000",
                          "4294967296", "1 "}) {
    EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--skip-mark", bad}),
              "invalid --skip-mark '" + std::string(bad) +
                  "': expected VALUE or VALUE/MASK, each decimal or 0x hex up to 0xffffffff")
        << bad;
  }
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--skip-mark", "0x11/0xf0"}),
            "invalid --skip-mark '0x11/0xf0': mark has bits outside its mask");
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--skip-mark", "1/0"}),
            "invalid --skip-mark '1/0': mark has bits outside its mask");
}

TEST(Cli, SkipCgroupPaths) {
  for (const auto& [given, path] :
       {std::pair{"/x/y", "/x/y"}, std::pair{"/sys/fs/cgroup/x/y", "/x/y"},
        std::pair{"/sys/fs/cgroup/system.slice/a.service", "/system.slice/a.service"},
        std::pair{"//x///y/", "/x/y"}, std::pair{"/sys/fs/cgroup", "/"},
        std::pair{"/sys/fs/cgroup/", "/"}, std::pair{"/", "/"},
        std::pair{"/sys/fs/cgroupx", "/sys/fs/cgroupx"}, std::pair{"/sys/fs", "/sys/fs"},
        std::pair{"/a..b/.c", "/a..b/.c"}}) {
    EXPECT_EQ(skips(parse({"-A", "-t", "10.0.0.1:80", "--skip-cgroup", given})),
              rules({sockvs::SkipCgroup{path, 0}}))
        << given;
    EXPECT_EQ(cgroup_skip_path(given), path) << given;
  }
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--skip-cgroup", ""}),
            "invalid cgroup path '': empty");
  for (const char* relative : {"x", "system.slice/a.service", "./x", "sys/fs/cgroup/x"}) {
    EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--skip-cgroup", relative}),
              "invalid cgroup path '" + std::string(relative) +
                  "': not an absolute path (give it from the cgroup v2 root, e.g. "
                  "/system.slice/x.service, or under /sys/fs/cgroup)")
        << relative;
  }
  for (const char* dots : {"/x/../y", "/..", "/x/.", "/sys/fs/cgroup/../etc", "/./x"}) {
    EXPECT_EQ(
        usage_error({"-A", "-t", "10.0.0.1:80", "--skip-cgroup", dots}),
        "invalid cgroup path '" + std::string(dots) + "': '.' and '..' components are not allowed")
        << dots;
  }
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--skip-cgroup", "/a b"}),
            "invalid cgroup path '/a b': blanks are not allowed (-S could not write it for -R)");
  const std::string longest = "/" + std::string(SOCK_VS_SKIP_CGROUP_PATH_MAX - 2, 'x');
  EXPECT_EQ(cgroup_skip_path(longest), longest);
  const std::string too_long = longest + "x";
  EXPECT_EQ(usage_error({"-A", "-t", "10.0.0.1:80", "--skip-cgroup", too_long.c_str()}),
            "invalid cgroup path '" + too_long + "': cgroup path is longer than 4095 bytes");
}

TEST(Cli, SkipAtMostEightRules) {
  std::vector<std::string> args = {"-A", "-t", "10.0.0.1:80"};
  for (int i = 0; i < SOCK_VS_SKIP_MAX; ++i) {
    args.emplace_back(i % 2 == 0 ? "--skip-uid" : "--skip-mark");
    args.push_back(std::to_string(i));
  }
  EXPECT_EQ(parse_command(args).skip->size(), 8U);
  args.emplace_back("--skip-cgroup");
  args.emplace_back("/x");
  try {
    parse_command(args);
    ADD_FAILURE() << "9 rules accepted";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(),
                 "too many exemptions: at most 8 per service (--skip-uid, --skip-cgroup, "
                 "--skip-mark), 9 given");
  }
}

TEST(Cli, SkipOptionsOnlyOnServiceCommands) {
  EXPECT_EQ(usage_error({"-a", "-t", "10.0.0.1:80", "-r", "10.0.0.2", "--skip-uid", "5"}),
            "option --skip-uid is not valid with -a");
  EXPECT_EQ(usage_error({"-D", "-t", "10.0.0.1:80", "--skip-cgroup", "/x"}),
            "option --skip-cgroup is not valid with -D");
  EXPECT_EQ(usage_error({"-K", "-t", "10.0.0.1:80", "--skip-mark", "1"}),
            "option --skip-mark is not valid with -K");
  EXPECT_EQ(usage_error({"-L", "--skip-none"}), "option --skip-none is not valid with -L");
  EXPECT_NE(usage_error({"-A", "-t", "10.0.0.1:80", "--skip-uid"}).find("needs a value"),
            std::string::npos);
}

TEST(Cli, UsageDocumentsExemptions) {
  const std::string u = usage_text();
  for (const char* text :
       {"--skip-uid UID[-UID]", "--skip-cgroup PATH", "--skip-mark VALUE[/MASK]", "--skip-none",
        "fsuid", "descendants", "SO_MARK", "at most 8", "/sys/fs/cgroup",
        "skip-uid 4242-4243 skip-cgroup /x skip-mark 0x10/0xf0",
        R"("skip":[{"uid":[4242,4243]})"}) {
    EXPECT_NE(u.find(text), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace sockvsadm
