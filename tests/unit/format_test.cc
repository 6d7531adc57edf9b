// -L, -S and -V output.
#include <gtest/gtest.h>

#include <linux/sock_vs.h>

#include <optional>
#include <string>
#include <vector>

#include "format.h"

namespace sockvsadm {
namespace {

sockvs::Service service(std::uint16_t proto, const char* addr, std::uint16_t port,
                        const char* sched) {
  return sockvs::Service::from_key(sockvs::ServiceKey{proto, *sockvs::Address::parse(addr), port},
                                   sched);
}

sockvs::RealServer dest(const char* addr, std::uint16_t port, std::uint32_t weight,
                        std::uint32_t active = 0, std::uint32_t inact = 0) {
  sockvs::RealServer d;
  d.addr = *sockvs::Address::parse(addr);
  d.port = port;
  d.weight = weight;
  d.active_conns = active;
  d.inact_conns = inact;
  return d;
}

const sockvs::Info kInfo{"0.1.0", 1, "kprobe", "6.1.0", 256, 64};

// Line `n` (0-based) of `text`, with its newline.
std::string line(const std::string& text, int n) {
  std::size_t start = 0;
  for (int i = 0; i < n; ++i) {
    start = text.find('\n', start) + 1;
  }
  return text.substr(start, text.find('\n', start) + 1 - start);
}

TEST(FmtNumber, LikeIpvsadm) {
  EXPECT_EQ(fmt_number(0, false), "0");
  EXPECT_EQ(fmt_number(1000, false), "1000");
  EXPECT_EQ(fmt_number(99999999, false), "99999999");
  EXPECT_EQ(fmt_number(100000000, false), "100000K");
  EXPECT_EQ(fmt_number(999999999, false), "999999K");
  EXPECT_EQ(fmt_number(1000000000, false), "1000M");
  EXPECT_EQ(fmt_number(99999999999ULL, false), "99999M");
  EXPECT_EQ(fmt_number(100000000000ULL, false), "100G");
  EXPECT_EQ(fmt_number(99999999999999ULL, false), "99999G");
  EXPECT_EQ(fmt_number(100000000000000ULL, false), "100T");
  EXPECT_EQ(fmt_number(18446744073709551615ULL, false), "18446744T");
}

TEST(FmtNumber, ExactIsTheFullInteger) {
  EXPECT_EQ(fmt_number(100000000, true), "100000000");
  EXPECT_EQ(fmt_number(18446744073709551615ULL, true), "18446744073709551615");
}

TEST(FormatList, MatchesIpvsadmLayout) {
  std::vector<ServiceEntry> entries{
      {service(IPPROTO_TCP, "10.0.0.1", 6379, "rr"), {dest("192.168.1.5", 6380, 1)}}};
  EXPECT_EQ(format_list(kInfo, entries, {}),
            "Sock VS version 0.1.0 (services=1, hook=kprobe)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  10.0.0.1:6379 rr\n"
            "  -> 192.168.1.5:6380             Sock    1      0          0         \n");
}

TEST(FormatList, EmptyTableHasOnlyHeaders) {
  sockvs::Info info = kInfo;
  info.num_services = 0;
  info.hook = "ftrace";
  EXPECT_EQ(format_list(info, {}, {}),
            "Sock VS version 0.1.0 (services=0, hook=ftrace)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
}

TEST(FormatList, IPv6UdpAndCountersInOrder) {
  sockvs::Info info = kInfo;
  info.num_services = 2;
  std::vector<ServiceEntry> entries{{service(IPPROTO_UDP, "fd00::1", 53, "wrr"),
                                     {dest("fd00::2", 5353, 65535, 12, 345), dest("::1", 53, 0)}},
                                    {service(IPPROTO_TCP, "10.0.0.9", 80, "rr"), {}}};
  EXPECT_EQ(format_list(info, entries, {}),
            "Sock VS version 0.1.0 (services=2, hook=kprobe)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "UDP  [fd00::1]:53 wrr\n"
            "  -> [fd00::2]:5353               Sock    65535  12         345       \n"
            "  -> [::1]:53                     Sock    0      0          0         \n"
            "TCP  10.0.0.9:80 rr\n");
}

TEST(FormatList, Stats) {
  auto svc = service(IPPROTO_TCP, "10.0.0.1", 6379, "rr");
  svc.stats.conns = 1000;
  svc.stats.killed = 5;
  auto d = dest("192.168.1.5", 6380, 1);
  d.stats.conns = 333;
  d.stats.killed = 3;
  auto e = dest("192.168.1.6", 6380, 1);
  e.stats.conns = 667;
  const std::vector<ServiceEntry> entries{{svc, {d, e}}};
  // Then Ejected and Failed; a real server has no Refused or Untracked (the
  // service's columns are blank).
  EXPECT_EQ(
      format_list(kInfo, entries, ListOptions{true, false}),
      "Sock VS version 0.1.0 (services=1, hook=kprobe)\n"
      "Prot LocalAddress:Port               Conns  Refused Untracked   Killed  Ejected   Failed\n"
      "  -> RemoteAddress:Port\n"
      "TCP  10.0.0.1:6379                    1000        0         0        5        0        0\n"
      "  -> 192.168.1.5:6380                  333                           3        0        0\n"
      "  -> 192.168.1.6:6380                  667                           0        0        0\n");
}

TEST(FormatList, StatsLargeNumbersExactOrNot) {
  auto svc = service(IPPROTO_UDP, "fd00::1", 53, "rr");
  svc.stats.conns = 1234567890;
  svc.stats.refused = 100000000;
  svc.stats.untracked = 12345;
  const std::vector<ServiceEntry> entries{{svc, {}}};
  EXPECT_EQ(
      line(format_list(kInfo, entries, ListOptions{true, false}), 3),
      "UDP  [fd00::1]:53                    1234M  100000K     12345        0        0        0\n");
  EXPECT_EQ(line(format_list(kInfo, entries, ListOptions{true, true}), 3),
            "UDP  [fd00::1]:53                 1234567890 100000000     12345        0        0    "
            "    0\n");
  svc.stats.untracked = 765432100;
  const std::vector<ServiceEntry> big{{svc, {}}};
  EXPECT_EQ(
      line(format_list(kInfo, big, ListOptions{true, false}), 3),
      "UDP  [fd00::1]:53                    1234M  100000K   765432K        0        0        0\n");
  svc.stats.killed = 123456789;
  const std::vector<ServiceEntry> killed{{svc, {}}};
  EXPECT_EQ(
      line(format_list(kInfo, killed, ListOptions{true, false}), 3),
      "UDP  [fd00::1]:53                    1234M  100000K   765432K  123456K        0        0\n");
  EXPECT_EQ(line(format_list(kInfo, killed, ListOptions{true, true}), 3),
            "UDP  [fd00::1]:53                 1234567890 100000000 765432100 123456789        0   "
            "     0\n");
}

TEST(FormatSave, OneLinePerServiceAndServer) {
  const std::vector<ServiceEntry> entries{
      {service(IPPROTO_TCP, "10.0.0.1", 6379, "rr"),
       {dest("192.168.1.5", 6380, 2), dest("192.168.1.6", 6379, 0)}},
      {service(IPPROTO_UDP, "fd00::1", 53, "wrr"), {dest("fd00::2", 53, 65535)}},
      {service(IPPROTO_TCP, "10.0.0.3", 443, "wrr"), {}}};
  EXPECT_EQ(format_save(entries),
            "-A -t 10.0.0.1:6379 -s rr\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 2\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.6:6379 -w 0\n"
            "-A -u [fd00::1]:53 -s wrr\n"
            "-a -u [fd00::1]:53 -r [fd00::2]:53 -w 65535\n"
            "-A -t 10.0.0.3:443 -s wrr\n");
  EXPECT_EQ(format_save({}), "");
}

sockvs::Service with_options(sockvs::Service svc, std::optional<sockvs::HashKey> key,
                             std::optional<sockvs::ShardPolicy> policy) {
  svc.hash_key = key;
  svc.shard_policy = policy;
  return svc;
}

sockvs::RealServer sharded(const char* addr, std::uint16_t port, std::uint16_t shards,
                           std::vector<std::uint32_t> per_shard, std::uint32_t active,
                           std::uint32_t inact) {
  sockvs::RealServer d = dest(addr, port, 1, active, inact);
  d.shards = shards;
  d.shard_conns = std::move(per_shard);
  return d;
}

TEST(FormatList, ServiceFlagsShowNonDefaultOptionsAfterTheScheduler) {
  const std::vector<ServiceEntry> entries{
      {with_options(service(IPPROTO_TCP, "10.0.0.1", 6379, "mh"), sockvs::HashKey::kLocal,
                    sockvs::ShardPolicy::kLc),
       {dest("192.168.1.5", 6380, 1)}},
      {with_options(service(IPPROTO_TCP, "10.0.0.2", 6379, "sh"), sockvs::HashKey::kCgroup,
                    sockvs::ShardPolicy::kRr),
       {}},
      {with_options(service(IPPROTO_UDP, "fd00::1", 53, "rr"), sockvs::HashKey::kTgid,
                    sockvs::ShardPolicy::kCpu),
       {}},
      {with_options(service(IPPROTO_TCP, "10.0.0.3", 80, "wrr"), sockvs::HashKey::kTgid,
                    sockvs::ShardPolicy::kRr),
       {}},
      {service(IPPROTO_TCP, "10.0.0.4", 80, "fo"), {}}};  // not reported: defaults
  sockvs::Info info = kInfo;
  info.num_services = 5;
  EXPECT_EQ(format_list(info, entries, {}),
            "Sock VS version 0.1.0 (services=5, hook=kprobe)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  10.0.0.1:6379 mh hash-key local shard-policy lc\n"
            "  -> 192.168.1.5:6380             Sock    1      0          0         \n"
            "TCP  10.0.0.2:6379 sh hash-key cgroup\n"
            "UDP  [fd00::1]:53 rr shard-policy cpu\n"
            "TCP  10.0.0.3:80 wrr\n"
            "TCP  10.0.0.4:80 fo\n");
}

TEST(FormatList, DefaultDestLineIgnoresThresholdsAndShards) {
  auto d = sharded("127.0.0.1", 9042, 4, {2, 2, 2, 2}, 8, 0);
  d.u_threshold = 100;
  d.l_threshold = 50;
  d.overloaded = true;
  const std::vector<ServiceEntry> entries{{service(IPPROTO_TCP, "10.0.0.1", 9042, "rr"), {d}}};
  EXPECT_EQ(line(format_list(kInfo, entries, {}), 4),
            "  -> 127.0.0.1:9042               Sock    1      8          0         \n");
}

TEST(FormatList, StatsViewHasNoFlags) {
  const std::vector<ServiceEntry> entries{
      {with_options(service(IPPROTO_TCP, "10.0.0.1", 6379, "mh"), sockvs::HashKey::kLocal,
                    sockvs::ShardPolicy::kLc),
       {}}};
  EXPECT_EQ(
      line(format_list(kInfo, entries, ListOptions{true, false}), 3),
      "TCP  10.0.0.1:6379                       0        0         0        0        0        0\n");
}

TEST(FormatList, ThresholdsLikeIpvsadm) {
  auto a = dest("192.168.1.180", 80, 1, 5, 0);
  a.u_threshold = 0;
  a.l_threshold = 0;
  auto b = dest("192.168.1.181", 80, 1, 7, 0);
  b.u_threshold = 10000;
  b.l_threshold = 0;
  auto c = dest("192.168.1.182", 80, 1, 100, 3);
  c.u_threshold = 100;
  c.l_threshold = 50;
  c.overloaded = true;
  const auto d = dest("192.168.1.183", 80, 1, 1, 2);  // nothing reported: 0
  sockvs::Info info = kInfo;
  info.num_services = 2;
  const std::vector<ServiceEntry> entries{
      {with_options(service(IPPROTO_TCP, "172.25.116.175", 80, "rr"), sockvs::HashKey::kLocal,
                    std::nullopt),
       {a, b, c, d}},
      {service(IPPROTO_UDP, "172.25.116.175", 8080, "rr"), {}}};
  EXPECT_EQ(format_list(info, entries, ListOptions{false, false, true, false}),
            "Sock VS version 0.1.0 (services=2, hook=kprobe)\n"
            "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n"
            "  -> RemoteAddress:Port\n"
            "TCP  172.25.116.175:80 rr hash-key local\n"
            "  -> 192.168.1.180:80             0          0          5          0         \n"
            "  -> 192.168.1.181:80             10000      0          7          0         \n"
            "  -> 192.168.1.182:80             100        50         100        3          "
            "overloaded\n"
            "  -> 192.168.1.183:80             0          0          1          2         \n"
            "UDP  172.25.116.175:8080 rr\n");
}

TEST(FormatList, ShardsView) {
  sockvs::Info info = kInfo;
  info.num_services = 2;
  auto big = sharded("127.0.0.2", 9042, 16, {}, 0, 0);
  big.shard_conns.assign(16, 1);
  big.shard_conns[15] = 12;
  big.active_conns = 27;
  const std::vector<ServiceEntry> entries{
      {with_options(service(IPPROTO_TCP, "10.0.0.1", 9042, "rr"), sockvs::HashKey::kTgid,
                    sockvs::ShardPolicy::kLc),
       {sharded("127.0.0.1", 9042, 4, {2, 2, 2, 2}, 8, 0),
        sharded("192.168.1.5", 9042, 1, {5}, 3, 2), big}},
      {service(IPPROTO_UDP, "fd00::1", 53, "wrr"),
       {dest("fd00::2", 5353, 1, 4, 1),          // older module: 1 shard, its total
        sharded("fd00::3", 53, 2, {}, 0, 0)}}};  // counts missing: "-"
  EXPECT_EQ(format_list(info, entries, ListOptions{false, false, false, true}),
            "Sock VS version 0.1.0 (services=2, hook=kprobe)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Shards ActiveConn InActConn  PerShard\n"
            "TCP  10.0.0.1:9042 rr shard-policy lc\n"
            "  -> 127.0.0.1:9042               4      8          0          2 2 2 2\n"
            "  -> 192.168.1.5:9042             1      3          2          5\n"
            "  -> 127.0.0.2:9042               16     27         0          "
            "1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 12\n"
            "UDP  [fd00::1]:53 wrr\n"
            "  -> [fd00::2]:5353               1      4          1          5\n"
            "  -> [fd00::3]:53                 2      0          0          -\n");
}

TEST(FormatList, PerShardText) {
  EXPECT_EQ(per_shard_text(sharded("10.0.0.1", 1, 3, {0, 4294967295U, 7}, 0, 0)), "0 4294967295 7");
  EXPECT_EQ(per_shard_text(sharded("10.0.0.1", 1, 1, {9}, 0, 0)), "9");
  EXPECT_EQ(per_shard_text(dest("10.0.0.1", 1, 1, 4294967295U, 1)), "4294967296");
  EXPECT_EQ(per_shard_text(sharded("10.0.0.1", 1, 5, {}, 3, 3)), "-");
}

TEST(FormatList, ServiceFlagsHelper) {
  auto svc = service(IPPROTO_TCP, "10.0.0.1", 80, "mh");
  EXPECT_EQ(service_flags(svc), "");
  svc.hash_key = sockvs::HashKey::kTgid;
  svc.shard_policy = sockvs::ShardPolicy::kRr;
  EXPECT_EQ(service_flags(svc), "");
  svc.shard_policy = sockvs::ShardPolicy::kHash;
  EXPECT_EQ(service_flags(svc), " shard-policy hash");
  svc.hash_key = sockvs::HashKey::kLocal;
  EXPECT_EQ(service_flags(svc), " hash-key local shard-policy hash");
  svc.terminate = sockvs::kDefaultTerminate;  // udp: not shown
  EXPECT_EQ(service_flags(svc), " hash-key local shard-policy hash");
  svc.terminate = sockvs::Terminate::kAll;
  svc.flags = SOCK_VS_SVC_F_REAL_PEERNAME;
  EXPECT_EQ(service_flags(svc), " hash-key local shard-policy hash terminate all real-peername");
  svc = service(IPPROTO_UDP, "10.0.0.1", 53, "rr");
  svc.terminate = sockvs::Terminate::kNone;
  EXPECT_EQ(service_flags(svc), " terminate none");
}

TEST(FormatList, TerminatePolicyIsAFlagWhenNotUdp) {
  auto none = service(IPPROTO_UDP, "10.0.0.1", 53, "rr");
  none.terminate = sockvs::Terminate::kNone;
  auto all = service(IPPROTO_TCP, "10.0.0.1", 6379, "wrr");
  all.terminate = sockvs::Terminate::kAll;
  auto udp = service(IPPROTO_UDP, "10.0.0.2", 53, "rr");
  udp.terminate = sockvs::Terminate::kUdp;
  const std::vector<ServiceEntry> entries{{none, {}}, {all, {}}, {udp, {}}};
  const std::string out = format_list(kInfo, entries, {});
  EXPECT_EQ(line(out, 3), "UDP  10.0.0.1:53 rr terminate none\n");
  EXPECT_EQ(line(out, 4), "TCP  10.0.0.1:6379 wrr terminate all\n");
  EXPECT_EQ(line(out, 5), "UDP  10.0.0.2:53 rr\n");
  // -S: --terminate only when not the default, so that existing rules
  // files come out the same.
  EXPECT_EQ(format_save(entries),
            "-A -u 10.0.0.1:53 -s rr --terminate none\n"
            "-A -t 10.0.0.1:6379 -s wrr --terminate all\n"
            "-A -u 10.0.0.2:53 -s rr\n");
}

TEST(FormatHelpers, SocketsTextAndServiceLabel) {
  EXPECT_EQ(sockets_text(0), "0 sockets");
  EXPECT_EQ(sockets_text(1), "1 socket");
  EXPECT_EQ(sockets_text(2), "2 sockets");
  EXPECT_EQ(service_label({IPPROTO_UDP, *sockvs::Address::parse("fd00::1"), 53}),
            "UDP [fd00::1]:53");
  EXPECT_EQ(service_label({IPPROTO_TCP, *sockvs::Address::parse("10.0.0.1"), 80}),
            "TCP 10.0.0.1:80");
}

TEST(FormatHelpers, SkipValues) {
  EXPECT_EQ(skip_value(sockvs::SkipUid{4242, 4243}), "4242-4243");
  EXPECT_EQ(skip_value(sockvs::SkipUid{0, 0}), "0");
  EXPECT_EQ(skip_value(sockvs::SkipUid{4294967294U, 4294967294U}), "4294967294");
  EXPECT_EQ(skip_value(sockvs::SkipCgroup{"/system.slice/a.service", 99}),
            "/system.slice/a.service");
  EXPECT_EQ(skip_value(sockvs::SkipMark{0x10, 0xf0}), "0x10/0xf0");
  EXPECT_EQ(skip_value(sockvs::SkipMark{0xABC, 0xffffffffU}), "0xabc");  // lowercase, no /MASK
  EXPECT_EQ(skip_value(sockvs::SkipMark{0, 0}), "0x0/0x0");
  EXPECT_EQ(skip_value(sockvs::SkipMark{0xffffffffU, 0xffffffffU}), "0xffffffff");
}

TEST(FormatList, SkipRulesAreFlagsInTheirOrder) {
  auto svc = service(IPPROTO_TCP, "10.0.0.1", 80, "rr");
  svc.skip = std::vector<sockvs::SkipRule>{sockvs::SkipUid{4242, 4243},
                                           sockvs::SkipCgroup{"/svs-72-skip", 5},
                                           sockvs::SkipMark{0x10, 0xf0}};
  EXPECT_EQ(service_flags(svc), " skip-uid 4242-4243 skip-cgroup /svs-72-skip skip-mark 0x10/0xf0");
  EXPECT_EQ(skip_words(svc, "--"),
            " --skip-uid 4242-4243 --skip-cgroup /svs-72-skip --skip-mark 0x10/0xf0");
  auto other = service(IPPROTO_UDP, "10.0.0.1", 53, "wrr");
  other.terminate = sockvs::Terminate::kAll;
  other.flags = SOCK_VS_SVC_F_REAL_PEERNAME;
  other.skip = std::vector<sockvs::SkipRule>{sockvs::SkipMark{7}, sockvs::SkipUid{0, 0}};
  auto none = service(IPPROTO_UDP, "10.0.0.2", 53, "rr");
  none.skip = std::vector<sockvs::SkipRule>{};  // no rules: nothing shown
  const std::vector<ServiceEntry> entries{{svc, {}}, {other, {}}, {none, {}}};
  const std::string out = format_list(kInfo, entries, {});
  EXPECT_EQ(
      line(out, 3),
      "TCP  10.0.0.1:80 rr skip-uid 4242-4243 skip-cgroup /svs-72-skip skip-mark 0x10/0xf0\n");
  EXPECT_EQ(line(out, 4),
            "UDP  10.0.0.1:53 wrr terminate all real-peername skip-mark 0x7 skip-uid 0\n");
  EXPECT_EQ(line(out, 5), "UDP  10.0.0.2:53 rr\n");
  EXPECT_EQ(
      format_save(entries),
      "-A -t 10.0.0.1:80 -s rr --skip-uid 4242-4243 --skip-cgroup /svs-72-skip "
      "--skip-mark 0x10/0xf0\n"
      "-A -u 10.0.0.1:53 -s wrr --terminate all --real-peername --skip-mark 0x7 --skip-uid 0\n"
      "-A -u 10.0.0.2:53 -s rr\n");
  // The --stats view has no flags.
  EXPECT_EQ(
      line(format_list(kInfo, entries, ListOptions{true, false}), 3),
      "TCP  10.0.0.1:80                         0        0         0        0        0        0\n");
}

TEST(FormatSave, OnlyNonDefaultOptions) {
  auto d1 = dest("192.168.1.5", 6380, 2);
  d1.u_threshold = 100;
  d1.l_threshold = 50;
  d1.shards = 4;
  d1.shard_conns = {1, 2, 3, 4};  // output only
  d1.overloaded = true;
  auto d2 = dest("192.168.1.6", 6379, 1);
  d2.u_threshold = 0;  // defaults: not printed
  d2.l_threshold = 0;
  d2.shards = 1;
  auto d3 = dest("192.168.1.7", 6379, 0);
  d3.u_threshold = 10;  // lower 0: only -x
  d3.l_threshold = 0;
  auto d4 = dest("192.168.1.8", 6379, 1);
  d4.shards = 1024;
  const std::vector<ServiceEntry> entries{
      {with_options(service(IPPROTO_TCP, "10.0.0.1", 6379, "mh"), sockvs::HashKey::kLocal,
                    sockvs::ShardPolicy::kLc),
       {d1, d2, d3, d4}},
      {with_options(service(IPPROTO_UDP, "fd00::1", 53, "sh"), sockvs::HashKey::kCgroup,
                    sockvs::ShardPolicy::kRr),
       {}},
      {with_options(service(IPPROTO_TCP, "10.0.0.2", 80, "rr"), sockvs::HashKey::kTgid,
                    sockvs::ShardPolicy::kHash),
       {}},
      {with_options(service(IPPROTO_TCP, "10.0.0.3", 80, "wrr"), sockvs::HashKey::kTgid,
                    sockvs::ShardPolicy::kRr),
       {}}};
  EXPECT_EQ(format_save(entries),
            "-A -t 10.0.0.1:6379 -s mh --hash-key local --shard-policy lc\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 2 -x 100 -y 50 --shards 4\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.6:6379 -w 1\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.7:6379 -w 0 -x 10\n"
            "-a -t 10.0.0.1:6379 -r 192.168.1.8:6379 -w 1 --shards 1024\n"
            "-A -u [fd00::1]:53 -s sh --hash-key cgroup\n"
            "-A -t 10.0.0.2:80 -s rr --shard-policy hash\n"
            "-A -t 10.0.0.3:80 -s wrr\n");
}

TEST(FormatVersion, WithAndWithoutModule) {
  const std::string with = format_version("0.1.0", kInfo, "");
  EXPECT_EQ(with.substr(0, with.find('\n')).rfind("sockvsadm v0.1.0", 0), 0U);
  EXPECT_NE(with.find("Sock VS module version 0.1.0 (hook=kprobe, kernel=6.1.0, services=1, "
                      "max_services=256, max_dests=64, untracked=0, templates=0, "
                      "max_templates=0)\n"),
            std::string::npos)
      << with;
  sockvs::Info lost = kInfo;
  lost.untracked = 18446744073709551615ULL;
  EXPECT_NE(format_version("0.1.0", lost, "").find(", untracked=18446744073709551615, "),
            std::string::npos);
  const std::string without = format_version(
      "0.1.0", std::nullopt, "the sock_vs module is not loaded (try: modprobe sock_vs)");
  EXPECT_NE(without.find("not loaded"), std::string::npos);
}

TEST(FormatHelpers, EndpointsAndProtocolOptions) {
  EXPECT_EQ(service_endpoint({IPPROTO_TCP, *sockvs::Address::parse("fd00::1"), 80}),
            "[fd00::1]:80");
  EXPECT_EQ(protocol_option(IPPROTO_TCP), "-t");
  EXPECT_EQ(protocol_option(IPPROTO_UDP), "-u");
  EXPECT_EQ(sockvs::protocol_name(IPPROTO_TCP), "TCP");
  EXPECT_EQ(sockvs::protocol_name(IPPROTO_UDP), "UDP");
  EXPECT_EQ(sockvs::protocol_name(132), "132");
}

}  // namespace
}  // namespace sockvsadm
