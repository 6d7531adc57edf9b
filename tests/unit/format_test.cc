// -L, -S and -V output.
#include <gtest/gtest.h>

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
  auto d = dest("192.168.1.5", 6380, 1);
  d.stats.conns = 333;
  const std::vector<ServiceEntry> entries{{svc, {d}}};
  EXPECT_EQ(format_list(kInfo, entries, ListOptions{true, false}),
            "Sock VS version 0.1.0 (services=1, hook=kprobe)\n"
            "Prot LocalAddress:Port               Conns  Refused\n"
            "  -> RemoteAddress:Port\n"
            "TCP  10.0.0.1:6379                    1000        0\n"
            "  -> 192.168.1.5:6380                  333\n");
}

TEST(FormatList, StatsLargeNumbersExactOrNot) {
  auto svc = service(IPPROTO_UDP, "fd00::1", 53, "rr");
  svc.stats.conns = 1234567890;
  svc.stats.refused = 100000000;
  const std::vector<ServiceEntry> entries{{svc, {}}};
  EXPECT_EQ(line(format_list(kInfo, entries, ListOptions{true, false}), 3),
            "UDP  [fd00::1]:53                    1234M  100000K\n");
  EXPECT_EQ(line(format_list(kInfo, entries, ListOptions{true, true}), 3),
            "UDP  [fd00::1]:53                 1234567890 100000000\n");
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

TEST(FormatVersion, WithAndWithoutModule) {
  const std::string with = format_version("0.1.0", kInfo, "");
  EXPECT_EQ(with.substr(0, with.find('\n')).rfind("sockvsadm v0.1.0", 0), 0U);
  EXPECT_NE(with.find("Sock VS module version 0.1.0 (hook=kprobe, kernel=6.1.0, services=1"),
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
