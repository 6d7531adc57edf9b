// Building requests: the attributes of every command, read back.
#include <gtest/gtest.h>

#include <linux/sock_vs.h>

#include <array>
#include <cerrno>
#include <functional>
#include <string>
#include <vector>

#include "nl_test_util.h"
#include "sockvs/error.h"
#include "sockvs/messages.h"

namespace sockvs {
namespace {

using testing::attr_bytes;
using testing::attr_string;
using testing::kFamily;
using testing::parse_request;
using testing::Parsed;

ServiceKey tcp_key() { return ServiceKey{IPPROTO_TCP, *Address::parse("10.0.0.1"), 6379}; }
ServiceKey udp6_key() { return ServiceKey{IPPROTO_UDP, *Address::parse("fd00::1"), 53}; }

RealServer dest(const char* addr, std::uint16_t port, std::uint32_t weight) {
  RealServer d;
  d.addr = *Address::parse(addr);
  d.port = port;
  d.weight = weight;
  return d;
}

void expect_header(const Parsed& p, std::uint8_t cmd, int flags) {
  EXPECT_EQ(p.nlh->nlmsg_type, kFamily);
  EXPECT_EQ(p.nlh->nlmsg_flags & (NLM_F_ACK | NLM_F_DUMP), flags);
  EXPECT_EQ(p.genl->cmd, cmd);
  EXPECT_EQ(p.genl->version, SOCK_VS_GENL_VERSION);
  EXPECT_EQ(p.genl->reserved, 0);
}

void expect_key(const Parsed& p, const ServiceKey& key) {
  ASSERT_NE(p.top[SOCK_VS_ATTR_SERVICE], nullptr);
  // The module parses strictly: nests must carry NLA_F_NESTED.
  EXPECT_NE(p.top[SOCK_VS_ATTR_SERVICE]->nla_type & NLA_F_NESTED, 0);
  ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_AF], nullptr);
  EXPECT_EQ(nla_len(p.svc[SOCK_VS_SVC_ATTR_AF]), 2);
  EXPECT_EQ(nla_get_u16(p.svc[SOCK_VS_SVC_ATTR_AF]), key.af());
  EXPECT_EQ(nla_get_u16(p.svc[SOCK_VS_SVC_ATTR_PROTOCOL]), key.protocol);
  const auto bytes = key.addr.bytes();
  EXPECT_EQ(attr_bytes(p.svc[SOCK_VS_SVC_ATTR_ADDR]),
            std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
  EXPECT_EQ(nla_get_u16(p.svc[SOCK_VS_SVC_ATTR_PORT]), key.port);  // host order
}

TEST(BuildRequest, NewServiceCarriesKeySchedAndFlags) {
  Service svc = Service::from_key(tcp_key(), "rr");
  const auto msg = build_new_service(kFamily, svc);
  const Parsed p = parse_request(msg);
  expect_header(p, SOCK_VS_CMD_NEW_SERVICE, NLM_F_ACK);
  expect_key(p, tcp_key());
  ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_SCHED_NAME], nullptr);
  EXPECT_EQ(attr_string(p.svc[SOCK_VS_SVC_ATTR_SCHED_NAME]), "rr");
  EXPECT_EQ(nla_len(p.svc[SOCK_VS_SVC_ATTR_SCHED_NAME]), 3);  // NUL included
  EXPECT_EQ(nla_get_u32(p.svc[SOCK_VS_SVC_ATTR_FLAGS]), 0U);
  EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_STATS], nullptr);  // output only
  EXPECT_EQ(p.top[SOCK_VS_ATTR_DEST], nullptr);
  EXPECT_EQ(p.top_count, 1);
}

TEST(BuildRequest, NewServiceIPv6AddressIs16Bytes) {
  const auto msg = build_new_service(kFamily, Service::from_key(udp6_key(), "wrr"));
  const Parsed p = parse_request(msg);
  expect_key(p, udp6_key());
  EXPECT_EQ(nla_len(p.svc[SOCK_VS_SVC_ATTR_ADDR]), 16);
  EXPECT_EQ(nla_get_u16(p.svc[SOCK_VS_SVC_ATTR_AF]), AF_INET6);
}

TEST(BuildRequest, NewServiceWithoutSchedLeavesItToTheModule) {
  const auto msg = build_new_service(kFamily, Service::from_key(tcp_key()));
  const Parsed p = parse_request(msg);
  EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_SCHED_NAME], nullptr);
}

TEST(BuildRequest, SetService) {
  auto msg = build_set_service(kFamily, Service::from_key(tcp_key(), "wrr"));
  Parsed p = parse_request(msg);
  expect_header(p, SOCK_VS_CMD_SET_SERVICE, NLM_F_ACK);
  expect_key(p, tcp_key());
  EXPECT_EQ(attr_string(p.svc[SOCK_VS_SVC_ATTR_SCHED_NAME]), "wrr");
  msg = build_set_service(kFamily, Service::from_key(tcp_key()));
  p = parse_request(msg);
  EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_SCHED_NAME], nullptr);  // unchanged
}

TEST(BuildRequest, DelAndGetServiceCarryOnlyTheKey) {
  for (auto* build : {&build_del_service, &build_get_service}) {
    const auto msg = (*build)(kFamily, udp6_key());
    const Parsed p = parse_request(msg);
    expect_key(p, udp6_key());
    EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_SCHED_NAME], nullptr);
    EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_FLAGS], nullptr);
    EXPECT_EQ(p.top_count, 1);
  }
  const auto del = build_del_service(kFamily, tcp_key());
  expect_header(parse_request(del), SOCK_VS_CMD_DEL_SERVICE, NLM_F_ACK);
  const auto get = build_get_service(kFamily, tcp_key());
  expect_header(parse_request(get), SOCK_VS_CMD_GET_SERVICE, NLM_F_ACK);
}

TEST(BuildRequest, ListServicesIsAnEmptyDump) {
  const auto msg = build_list_services(kFamily);
  const Parsed p = parse_request(msg);
  expect_header(p, SOCK_VS_CMD_GET_SERVICE, NLM_F_DUMP);
  EXPECT_EQ(p.top_count, 0);
}

TEST(BuildRequest, NewDest) {
  const auto msg = build_new_dest(kFamily, tcp_key(), dest("192.168.1.5", 6380, 2));
  const Parsed p = parse_request(msg);
  expect_header(p, SOCK_VS_CMD_NEW_DEST, NLM_F_ACK);
  expect_key(p, tcp_key());
  ASSERT_NE(p.top[SOCK_VS_ATTR_DEST], nullptr);
  EXPECT_NE(p.top[SOCK_VS_ATTR_DEST]->nla_type & NLA_F_NESTED, 0);
  EXPECT_EQ(attr_bytes(p.dest[SOCK_VS_DEST_ATTR_ADDR]),
            (std::vector<std::uint8_t>{192, 168, 1, 5}));
  EXPECT_EQ(nla_get_u16(p.dest[SOCK_VS_DEST_ATTR_PORT]), 6380);
  EXPECT_EQ(nla_get_u32(p.dest[SOCK_VS_DEST_ATTR_WEIGHT]), 2U);
  EXPECT_EQ(nla_get_u16(p.dest[SOCK_VS_DEST_ATTR_AF]), AF_INET);
  EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_STATS], nullptr);
  EXPECT_EQ(p.top_count, 2);
}

TEST(BuildRequest, SetDestCarriesWeight) {
  const auto msg = build_set_dest(kFamily, udp6_key(), dest("fd00::2", 8053, 0));
  const Parsed p = parse_request(msg);
  expect_header(p, SOCK_VS_CMD_SET_DEST, NLM_F_ACK);
  expect_key(p, udp6_key());
  EXPECT_EQ(nla_len(p.dest[SOCK_VS_DEST_ATTR_ADDR]), 16);
  EXPECT_EQ(nla_get_u32(p.dest[SOCK_VS_DEST_ATTR_WEIGHT]), 0U);
  EXPECT_EQ(nla_get_u16(p.dest[SOCK_VS_DEST_ATTR_AF]), AF_INET6);
}

TEST(BuildRequest, DelDestHasNoWeight) {
  const auto msg = build_del_dest(kFamily, tcp_key(), dest("192.168.1.5", 6380, 9));
  const Parsed p = parse_request(msg);
  expect_header(p, SOCK_VS_CMD_DEL_DEST, NLM_F_ACK);
  EXPECT_EQ(nla_get_u16(p.dest[SOCK_VS_DEST_ATTR_PORT]), 6380);
  EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_WEIGHT], nullptr);
}

TEST(BuildRequest, ListDestsIsADumpWithTheKey) {
  const auto msg = build_list_dests(kFamily, tcp_key());
  const Parsed p = parse_request(msg);
  expect_header(p, SOCK_VS_CMD_GET_DEST, NLM_F_DUMP);
  expect_key(p, tcp_key());
  EXPECT_EQ(p.top_count, 1);
}

TEST(BuildRequest, FlushZeroInfo) {
  const auto flush = build_flush(kFamily);
  Parsed p = parse_request(flush);
  expect_header(p, SOCK_VS_CMD_FLUSH, NLM_F_ACK);
  EXPECT_EQ(p.top_count, 0);
  const auto info = build_get_info(kFamily);
  p = parse_request(info);
  expect_header(p, SOCK_VS_CMD_GET_INFO, NLM_F_ACK);
  EXPECT_EQ(p.top_count, 0);
}

TEST(BuildRequest, ZeroAllOrOne) {
  auto all = build_zero(kFamily, std::nullopt);
  Parsed p = parse_request(all);
  expect_header(p, SOCK_VS_CMD_ZERO, NLM_F_ACK);
  EXPECT_EQ(p.top_count, 0);
  auto one = build_zero(kFamily, tcp_key());
  p = parse_request(one);
  expect_key(p, tcp_key());
}

TEST(BuildRequest, AutoPortAndSeqAreLeftForSending) {
  const auto msg = build_flush(kFamily);
  EXPECT_EQ(nlmsg_hdr(msg.get())->nlmsg_seq, static_cast<std::uint32_t>(NL_AUTO_SEQ));
  EXPECT_EQ(nlmsg_hdr(msg.get())->nlmsg_pid, static_cast<std::uint32_t>(NL_AUTO_PORT));
}

int error_code(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return 0;
}

TEST(BuildRequest, RejectsInvalidInput) {
  ServiceKey no_addr = tcp_key();
  no_addr.addr = Address();
  EXPECT_EQ(error_code([&] { build_del_service(kFamily, no_addr); }), EINVAL);
  ServiceKey no_port = tcp_key();
  no_port.port = 0;
  EXPECT_EQ(error_code([&] { build_get_service(kFamily, no_port); }), EINVAL);
  ServiceKey sctp = tcp_key();
  sctp.protocol = IPPROTO_SCTP;
  EXPECT_EQ(error_code([&] { build_new_service(kFamily, Service::from_key(sctp)); }), EINVAL);
  EXPECT_EQ(error_code([&] {
              build_new_service(kFamily, Service::from_key(tcp_key(), "abcdefghijklmnop"));
            }),
            EINVAL);
  EXPECT_EQ(error_code([&] { build_new_dest(kFamily, tcp_key(), dest("10.0.0.2", 80, 65536)); }),
            EINVAL);
  EXPECT_EQ(error_code([&] { build_new_dest(kFamily, tcp_key(), dest("10.0.0.2", 0, 1)); }),
            EINVAL);
}

TEST(BuildRequest, RejectsFamilyMismatch) {
  EXPECT_EQ(error_code([&] { build_new_dest(kFamily, tcp_key(), dest("fd00::2", 80, 1)); }),
            EAFNOSUPPORT);
  EXPECT_EQ(error_code([&] { build_del_dest(kFamily, udp6_key(), dest("10.0.0.2", 80, 1)); }),
            EAFNOSUPPORT);
}

TEST(BuildRequest, ServiceHashKeyAndShardPolicyAreU8AttributesWhenSet) {
  Service svc = Service::from_key(tcp_key(), "mh");
  svc.hash_key = HashKey::kLocal;
  svc.shard_policy = ShardPolicy::kLc;
  for (auto* build : {&build_new_service, &build_set_service}) {
    const auto msg = (*build)(kFamily, svc);
    const Parsed p = parse_request(msg);
    expect_key(p, tcp_key());
    ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_HASH_KEY], nullptr);
    EXPECT_EQ(nla_len(p.svc[SOCK_VS_SVC_ATTR_HASH_KEY]), 1);
    EXPECT_EQ(nla_get_u8(p.svc[SOCK_VS_SVC_ATTR_HASH_KEY]), SOCK_VS_HASH_LOCAL);
    ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_SHARD_POLICY], nullptr);
    EXPECT_EQ(nla_len(p.svc[SOCK_VS_SVC_ATTR_SHARD_POLICY]), 1);
    EXPECT_EQ(nla_get_u8(p.svc[SOCK_VS_SVC_ATTR_SHARD_POLICY]), SOCK_VS_SHARD_LC);
  }
  // Every value of the enums goes through as is.
  svc.hash_key = HashKey::kCgroup;
  svc.shard_policy = ShardPolicy::kHash;
  auto msg = build_new_service(kFamily, svc);
  Parsed p = parse_request(msg);
  EXPECT_EQ(nla_get_u8(p.svc[SOCK_VS_SVC_ATTR_HASH_KEY]), SOCK_VS_HASH_CGROUP);
  EXPECT_EQ(nla_get_u8(p.svc[SOCK_VS_SVC_ATTR_SHARD_POLICY]), SOCK_VS_SHARD_HASH);
  svc.hash_key = HashKey::kTgid;  // the default, but given: sent
  svc.shard_policy = ShardPolicy::kCpu;
  msg = build_set_service(kFamily, svc);
  p = parse_request(msg);
  EXPECT_EQ(nla_get_u8(p.svc[SOCK_VS_SVC_ATTR_HASH_KEY]), SOCK_VS_HASH_TGID);
  EXPECT_EQ(nla_get_u8(p.svc[SOCK_VS_SVC_ATTR_SHARD_POLICY]), SOCK_VS_SHARD_CPU);
}

TEST(BuildRequest, ServiceOptionsNotSetAreNotSent) {
  Service svc = Service::from_key(tcp_key(), "rr");
  for (auto* build : {&build_new_service, &build_set_service}) {
    const auto msg = (*build)(kFamily, svc);
    const Parsed p = parse_request(msg);
    EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_HASH_KEY], nullptr);
    EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_SHARD_POLICY], nullptr);
  }
  svc.shard_policy = ShardPolicy::kHash;  // only one of them
  const auto msg = build_set_service(kFamily, svc);
  const Parsed p = parse_request(msg);
  EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_HASH_KEY], nullptr);
  EXPECT_EQ(nla_get_u8(p.svc[SOCK_VS_SVC_ATTR_SHARD_POLICY]), SOCK_VS_SHARD_HASH);
}

TEST(BuildRequest, DestThresholdsAreU32AndShardsU16WhenSet) {
  RealServer d = dest("192.168.1.5", 6380, 2);
  d.u_threshold = 100;
  d.l_threshold = 50;
  d.shards = 4;
  for (auto* build : {&build_new_dest, &build_set_dest}) {
    const auto msg = (*build)(kFamily, tcp_key(), d);
    const Parsed p = parse_request(msg);
    ASSERT_NE(p.dest[SOCK_VS_DEST_ATTR_U_THRESH], nullptr);
    EXPECT_EQ(nla_len(p.dest[SOCK_VS_DEST_ATTR_U_THRESH]), 4);
    EXPECT_EQ(nla_get_u32(p.dest[SOCK_VS_DEST_ATTR_U_THRESH]), 100U);
    ASSERT_NE(p.dest[SOCK_VS_DEST_ATTR_L_THRESH], nullptr);
    EXPECT_EQ(nla_len(p.dest[SOCK_VS_DEST_ATTR_L_THRESH]), 4);
    EXPECT_EQ(nla_get_u32(p.dest[SOCK_VS_DEST_ATTR_L_THRESH]), 50U);
    ASSERT_NE(p.dest[SOCK_VS_DEST_ATTR_SHARDS], nullptr);
    EXPECT_EQ(nla_len(p.dest[SOCK_VS_DEST_ATTR_SHARDS]), 2);
    EXPECT_EQ(nla_get_u16(p.dest[SOCK_VS_DEST_ATTR_SHARDS]), 4);
    // Outputs are never sent.
    EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_SHARD_CONNS], nullptr);
    EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_OVERLOADED], nullptr);
  }
  // Zero thresholds and one shard, when given, are sent (an edit back to
  // the defaults).
  d.u_threshold = 0;
  d.l_threshold = 0;
  d.shards = 1;
  const auto msg = build_set_dest(kFamily, tcp_key(), d);
  const Parsed p = parse_request(msg);
  EXPECT_EQ(nla_get_u32(p.dest[SOCK_VS_DEST_ATTR_U_THRESH]), 0U);
  EXPECT_EQ(nla_get_u32(p.dest[SOCK_VS_DEST_ATTR_L_THRESH]), 0U);
  EXPECT_EQ(nla_get_u16(p.dest[SOCK_VS_DEST_ATTR_SHARDS]), 1);
}

TEST(BuildRequest, DestOptionsNotSetAreNotSent) {
  RealServer d = dest("192.168.1.5", 6380, 2);
  d.shard_conns = {1, 2};  // output only: ignored
  d.overloaded = true;
  for (auto* build : {&build_new_dest, &build_set_dest}) {
    const auto msg = (*build)(kFamily, tcp_key(), d);
    const Parsed p = parse_request(msg);
    EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_U_THRESH], nullptr);
    EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_L_THRESH], nullptr);
    EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_SHARDS], nullptr);
    EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_SHARD_CONNS], nullptr);
    EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_OVERLOADED], nullptr);
  }
  d.l_threshold = 7;  // just one: -e -y 7 (the module compares with the current upper)
  const auto msg = build_set_dest(kFamily, tcp_key(), d);
  const Parsed p = parse_request(msg);
  EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_U_THRESH], nullptr);
  EXPECT_EQ(nla_get_u32(p.dest[SOCK_VS_DEST_ATTR_L_THRESH]), 7U);
}

TEST(BuildRequest, DelDestNeverCarriesSettings) {
  RealServer d = dest("192.168.1.5", 6380, 2);
  d.u_threshold = 4000000000U;  // even out of range: not checked, not sent
  d.l_threshold = 9;
  d.shards = 0;
  const auto msg = build_del_dest(kFamily, tcp_key(), d);
  const Parsed p = parse_request(msg);
  EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_U_THRESH], nullptr);
  EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_L_THRESH], nullptr);
  EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_SHARDS], nullptr);
}

TEST(BuildRequest, DestOptionBounds) {
  RealServer d = dest("10.0.0.2", 80, 1);
  d.u_threshold = kThresholdMax;
  d.l_threshold = kThresholdMax;  // equal is fine
  d.shards = SOCK_VS_SHARDS_MAX;
  EXPECT_EQ(error_code([&] { build_new_dest(kFamily, tcp_key(), d); }), 0);
  d.shards = 1;
  EXPECT_EQ(error_code([&] { build_new_dest(kFamily, tcp_key(), d); }), 0);

  RealServer bad = d;
  bad.u_threshold = kThresholdMax + 1;
  bad.l_threshold.reset();
  EXPECT_EQ(error_code([&] { build_new_dest(kFamily, tcp_key(), bad); }), EINVAL);
  bad = d;
  bad.u_threshold.reset();
  bad.l_threshold = kThresholdMax + 1;
  EXPECT_EQ(error_code([&] { build_set_dest(kFamily, tcp_key(), bad); }), EINVAL);
  bad = d;
  bad.u_threshold = 50;
  bad.l_threshold = 100;
  try {
    build_new_dest(kFamily, tcp_key(), bad);
    ADD_FAILURE() << "lower > upper accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), EINVAL);
    EXPECT_STREQ(e.what(), "lower threshold 100 is above the upper threshold 50");
  }
  for (const std::uint16_t shards : {0, SOCK_VS_SHARDS_MAX + 1, 65535}) {
    bad = d;
    bad.shards = shards;
    EXPECT_EQ(error_code([&] { build_set_dest(kFamily, tcp_key(), bad); }), EINVAL) << shards;
  }
}

TEST(BuildRequest, RejectsUnknownHashKeyOrShardPolicy) {
  Service svc = Service::from_key(tcp_key(), "sh");
  svc.hash_key = static_cast<HashKey>(SOCK_VS_HASH_MAX + 1);
  EXPECT_EQ(error_code([&] { build_new_service(kFamily, svc); }), EINVAL);
  svc.hash_key.reset();
  svc.shard_policy = static_cast<ShardPolicy>(SOCK_VS_SHARD_MAX + 1);
  EXPECT_EQ(error_code([&] { build_set_service(kFamily, svc); }), EINVAL);
}

TEST(BuildRequest, ServiceTerminateIsAU8AttributeWhenSet) {
  Service svc = Service::from_key(udp6_key(), "rr");
  for (auto* build : {&build_new_service, &build_set_service}) {
    auto msg = (*build)(kFamily, svc);
    Parsed p = parse_request(msg);
    EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_TERMINATE], nullptr);  // the module's default / unchanged
    for (const auto& [policy, value] : {std::pair{Terminate::kNone, SOCK_VS_TERMINATE_NONE},
                                        std::pair{Terminate::kUdp, SOCK_VS_TERMINATE_UDP},
                                        std::pair{Terminate::kAll, SOCK_VS_TERMINATE_ALL}}) {
      svc.terminate = policy;
      msg = (*build)(kFamily, svc);
      p = parse_request(msg);
      expect_key(p, udp6_key());
      ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_TERMINATE], nullptr);
      EXPECT_EQ(nla_len(p.svc[SOCK_VS_SVC_ATTR_TERMINATE]), 1);
      EXPECT_EQ(nla_get_u8(p.svc[SOCK_VS_SVC_ATTR_TERMINATE]), value);
    }
    svc.terminate.reset();
  }
  svc.terminate = static_cast<Terminate>(SOCK_VS_TERMINATE_MAX + 1);
  EXPECT_EQ(error_code([&] { build_new_service(kFamily, svc); }), EINVAL);
}

TEST(BuildRequest, KillOneServerByTheServicesPolicy) {
  const auto msg = build_kill(kFamily, tcp_key(), dest("192.168.1.5", 6380, 7), std::nullopt);
  const Parsed p = parse_request(msg);
  expect_header(p, SOCK_VS_CMD_KILL, NLM_F_ACK);
  expect_key(p, tcp_key());
  EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_TERMINATE], nullptr);
  EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_SCHED_NAME], nullptr);
  EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_FLAGS], nullptr);
  ASSERT_NE(p.top[SOCK_VS_ATTR_DEST], nullptr);
  EXPECT_NE(p.top[SOCK_VS_ATTR_DEST]->nla_type & NLA_F_NESTED, 0);
  const std::uint8_t rip[4] = {192, 168, 1, 5};
  EXPECT_EQ(attr_bytes(p.dest[SOCK_VS_DEST_ATTR_ADDR]), std::vector<std::uint8_t>(rip, rip + 4));
  EXPECT_EQ(nla_get_u16(p.dest[SOCK_VS_DEST_ATTR_PORT]), 6380);
  EXPECT_EQ(nla_get_u16(p.dest[SOCK_VS_DEST_ATTR_AF]), AF_INET);
  EXPECT_EQ(p.dest[SOCK_VS_DEST_ATTR_WEIGHT], nullptr);  // only the key
  EXPECT_EQ(p.top_count, 2);
}

TEST(BuildRequest, KillAWholeServiceWithAPolicyOverride) {
  auto msg = build_kill(kFamily, udp6_key(), std::nullopt, Terminate::kAll);
  Parsed p = parse_request(msg);
  expect_header(p, SOCK_VS_CMD_KILL, NLM_F_ACK);
  expect_key(p, udp6_key());
  ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_TERMINATE], nullptr);
  EXPECT_EQ(nla_len(p.svc[SOCK_VS_SVC_ATTR_TERMINATE]), 1);
  EXPECT_EQ(nla_get_u8(p.svc[SOCK_VS_SVC_ATTR_TERMINATE]), SOCK_VS_TERMINATE_ALL);
  EXPECT_EQ(p.top[SOCK_VS_ATTR_DEST], nullptr);
  EXPECT_EQ(p.top_count, 1);
  msg = build_kill(kFamily, udp6_key(), std::nullopt, Terminate::kUdp);
  p = parse_request(msg);
  EXPECT_EQ(nla_get_u8(p.svc[SOCK_VS_SVC_ATTR_TERMINATE]), SOCK_VS_TERMINATE_UDP);
}

TEST(BuildRequest, KillRejectsNoneAndBadInput) {
  // The module refuses none (nothing to do): refused before sending.
  try {
    build_kill(kFamily, tcp_key(), std::nullopt, Terminate::kNone);
    ADD_FAILURE() << "policy none accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), EINVAL);
    EXPECT_NE(std::string(e.what()).find("none"), std::string::npos) << e.what();
  }
  EXPECT_EQ(error_code([&] {
              build_kill(kFamily, tcp_key(), std::nullopt,
                         static_cast<Terminate>(SOCK_VS_TERMINATE_MAX + 1));
            }),
            EINVAL);
  EXPECT_EQ(
      error_code([&] { build_kill(kFamily, tcp_key(), dest("fd00::2", 80, 1), std::nullopt); }),
      EAFNOSUPPORT);
  EXPECT_EQ(
      error_code([&] { build_kill(kFamily, tcp_key(), dest("10.0.0.2", 0, 1), std::nullopt); }),
      EINVAL);
  ServiceKey no_port = tcp_key();
  no_port.port = 0;
  EXPECT_EQ(error_code([&] { build_kill(kFamily, no_port, std::nullopt, std::nullopt); }), EINVAL);
}

// The entries of a request's SKIP nest: {type, flags, attributes by type}.
struct SkipEntry {
  int type = 0;
  bool nested_flag = false;
  std::array<nlattr*, SOCK_VS_SKIP_ATTR_MAX + 1> tb{};
  int count = 0;  // attributes in the entry
};

std::vector<SkipEntry> skip_entries(nlattr* skip) {
  std::vector<SkipEntry> out;
  nlattr* pos = nullptr;
  int rem = 0;
  nla_for_each_nested(pos, skip, rem) {
    SkipEntry e;
    e.type = nla_type(pos);
    e.nested_flag = (pos->nla_type & NLA_F_NESTED) != 0;
    nla_parse_nested(e.tb.data(), SOCK_VS_SKIP_ATTR_MAX, pos, nullptr);
    e.count = testing::count_attrs(static_cast<nlattr*>(nla_data(pos)), nla_len(pos));
    out.push_back(e);
  }
  return out;
}

TEST(BuildRequest, ServiceSkipNestInOrder) {
  Service svc = Service::from_key(tcp_key(), "rr");
  svc.skip = std::vector<SkipRule>{SkipUid{4242, 4243}, SkipCgroup{"/svs-72-skip", 77},
                                   SkipMark{0x10, 0xf0}, SkipUid{5, 5}, SkipMark{7}};
  for (auto* build : {&build_new_service, &build_set_service}) {
    const auto msg = (*build)(kFamily, svc);
    const Parsed p = parse_request(msg);
    expect_key(p, tcp_key());
    ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_SKIP], nullptr);
    EXPECT_NE(p.svc[SOCK_VS_SVC_ATTR_SKIP]->nla_type & NLA_F_NESTED, 0);  // strict parsing
    const auto e = skip_entries(p.svc[SOCK_VS_SVC_ATTR_SKIP]);
    ASSERT_EQ(e.size(), 5U);
    for (const auto& entry : e) {
      EXPECT_EQ(entry.type, SOCK_VS_SKIP_RULE);
      EXPECT_TRUE(entry.nested_flag);
      EXPECT_EQ(entry.count, entry.tb[SOCK_VS_SKIP_ATTR_CGROUP] != nullptr ? 1 : 2);
    }
    EXPECT_EQ(nla_get_u32(e[0].tb[SOCK_VS_SKIP_ATTR_UID_MIN]), 4242U);
    EXPECT_EQ(nla_get_u32(e[0].tb[SOCK_VS_SKIP_ATTR_UID_MAX]), 4243U);
    ASSERT_NE(e[1].tb[SOCK_VS_SKIP_ATTR_CGROUP], nullptr);
    EXPECT_EQ(attr_string(e[1].tb[SOCK_VS_SKIP_ATTR_CGROUP]), "/svs-72-skip");
    EXPECT_EQ(nla_len(e[1].tb[SOCK_VS_SKIP_ATTR_CGROUP]), 13);  // NUL-terminated
    EXPECT_EQ(e[1].tb[SOCK_VS_SKIP_ATTR_CGROUP_ID], nullptr);  // output only: the module rejects it
    EXPECT_EQ(nla_get_u32(e[2].tb[SOCK_VS_SKIP_ATTR_MARK]), 0x10U);
    EXPECT_EQ(nla_get_u32(e[2].tb[SOCK_VS_SKIP_ATTR_MARK_MASK]), 0xf0U);
    EXPECT_EQ(nla_get_u32(e[3].tb[SOCK_VS_SKIP_ATTR_UID_MIN]), 5U);
    EXPECT_EQ(nla_get_u32(e[3].tb[SOCK_VS_SKIP_ATTR_UID_MAX]), 5U);
    EXPECT_EQ(nla_get_u32(e[4].tb[SOCK_VS_SKIP_ATTR_MARK]), 7U);
    EXPECT_EQ(nla_get_u32(e[4].tb[SOCK_VS_SKIP_ATTR_MARK_MASK]), 0xffffffffU);
  }
}

TEST(BuildRequest, ServiceSkipAbsentKeepsEmptyClears) {
  Service svc = Service::from_key(udp6_key(), "rr");
  for (auto* build : {&build_new_service, &build_set_service}) {
    svc.skip.reset();
    auto msg = (*build)(kFamily, svc);
    Parsed p = parse_request(msg);
    EXPECT_EQ(p.svc[SOCK_VS_SVC_ATTR_SKIP], nullptr);  // SET: the rules stay
    svc.skip.emplace();
    msg = (*build)(kFamily, svc);
    p = parse_request(msg);
    ASSERT_NE(p.svc[SOCK_VS_SVC_ATTR_SKIP], nullptr);  // an empty nest: no rules
    EXPECT_EQ(nla_len(p.svc[SOCK_VS_SVC_ATTR_SKIP]), 0);
    EXPECT_NE(p.svc[SOCK_VS_SVC_ATTR_SKIP]->nla_type & NLA_F_NESTED, 0);
  }
}

TEST(BuildRequest, ServiceSkipRejectsBadRulesAndMoreThanEight) {
  Service svc = Service::from_key(tcp_key(), "rr");
  svc.skip = std::vector<SkipRule>(SOCK_VS_SKIP_MAX, SkipMark{1});
  EXPECT_NO_THROW(build_new_service(kFamily, svc));
  svc.skip->push_back(SkipUid{1, 2});
  EXPECT_EQ(error_code([&] { build_new_service(kFamily, svc); }), E2BIG);
  EXPECT_EQ(error_code([&] { build_set_service(kFamily, svc); }), E2BIG);
  for (const SkipRule& bad : std::vector<SkipRule>{
           SkipUid{5, 3}, SkipUid{0, 4294967295U}, SkipMark{0x11, 0xf0}, SkipCgroup{"", 0},
           SkipCgroup{"x/y", 0}, SkipCgroup{std::string("/a\0b", 4), 0},
           SkipCgroup{"/" + std::string(SOCK_VS_SKIP_CGROUP_PATH_MAX - 1, 'x'), 0}}) {
    svc.skip = std::vector<SkipRule>{SkipUid{1, 1}, bad};
    try {
      build_set_service(kFamily, svc);
      ADD_FAILURE() << "accepted a bad " << skip_kind(bad) << " rule";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), EINVAL);
      EXPECT_EQ(std::string(e.what()), "invalid exemption (" + std::string(skip_kind(bad)) +
                                           "): " + skip_rule_problem(bad));
    }
  }
}

TEST(Types, SkipKindsAndProblems) {
  EXPECT_EQ(skip_kind(SkipUid{1, 2}), "uid");
  EXPECT_EQ(skip_kind(SkipCgroup{"/x", 0}), "cgroup");
  EXPECT_EQ(skip_kind(SkipMark{1}), "mark");
  EXPECT_EQ(SkipMark{}.mask, kSkipMarkMaskAll);
  EXPECT_EQ(skip_rule_problem(SkipUid{0, kSkipUidMax}), "");
  EXPECT_EQ(skip_rule_problem(SkipUid{7, 7}), "");
  EXPECT_EQ(skip_rule_problem(SkipUid{8, 7}), "uid range ends before it starts");
  EXPECT_EQ(skip_rule_problem(SkipUid{4294967295U, 4294967295U}), "uid out of range 0-4294967294");
  EXPECT_EQ(skip_rule_problem(SkipMark{0, 0}), "");
  EXPECT_EQ(skip_rule_problem(SkipMark{0x10, 0xf0}), "");
  EXPECT_EQ(skip_rule_problem(SkipMark{1, 0}), "mark has bits outside its mask");
  EXPECT_EQ(skip_rule_problem(SkipCgroup{"/", 0}), "");
  EXPECT_EQ(skip_rule_problem(SkipCgroup{"", 0}), "cgroup path is empty");
  EXPECT_EQ(skip_rule_problem(SkipCgroup{"rel", 0}), "cgroup path must start with /");
  EXPECT_EQ(skip_rule_problem(SkipCgroup{std::string("/\0", 2), 0}),
            "cgroup path holds a NUL byte");
  EXPECT_EQ(
      skip_rule_problem(SkipCgroup{"/" + std::string(SOCK_VS_SKIP_CGROUP_PATH_MAX - 2, 'x'), 0}),
      "");
  EXPECT_EQ(
      skip_rule_problem(SkipCgroup{"/" + std::string(SOCK_VS_SKIP_CGROUP_PATH_MAX - 1, 'x'), 0}),
      "cgroup path is longer than 4095 bytes");
}

TEST(Types, TerminateNames) {
  EXPECT_EQ(terminate_name(Terminate::kNone), "none");
  EXPECT_EQ(terminate_name(Terminate::kUdp), "udp");
  EXPECT_EQ(terminate_name(Terminate::kAll), "all");
  EXPECT_EQ(terminate_name(static_cast<Terminate>(7)), "7");
  for (const char* name : {"none", "udp", "all"}) {
    ASSERT_TRUE(parse_terminate(name).has_value()) << name;
    EXPECT_EQ(terminate_name(*parse_terminate(name)), name);
  }
  for (const char* bad : {"", "UDP", "tcp", "1", "all ", "yes"}) {
    EXPECT_FALSE(parse_terminate(bad).has_value()) << bad;
  }
  EXPECT_EQ(kDefaultTerminate, Terminate::kUdp);
}

TEST(Types, HashKeyAndShardPolicyNames) {
  EXPECT_EQ(hash_key_name(HashKey::kTgid), "tgid");
  EXPECT_EQ(hash_key_name(HashKey::kLocal), "local");
  EXPECT_EQ(hash_key_name(HashKey::kCgroup), "cgroup");
  EXPECT_EQ(hash_key_name(static_cast<HashKey>(9)), "9");
  EXPECT_EQ(shard_policy_name(ShardPolicy::kRr), "rr");
  EXPECT_EQ(shard_policy_name(ShardPolicy::kLc), "lc");
  EXPECT_EQ(shard_policy_name(ShardPolicy::kCpu), "cpu");
  EXPECT_EQ(shard_policy_name(ShardPolicy::kHash), "hash");
  EXPECT_EQ(shard_policy_name(static_cast<ShardPolicy>(200)), "200");
  for (const char* name : {"tgid", "local", "cgroup"}) {
    ASSERT_TRUE(parse_hash_key(name).has_value()) << name;
    EXPECT_EQ(hash_key_name(*parse_hash_key(name)), name);
  }
  for (const char* name : {"rr", "lc", "cpu", "hash"}) {
    ASSERT_TRUE(parse_shard_policy(name).has_value()) << name;
    EXPECT_EQ(shard_policy_name(*parse_shard_policy(name)), name);
  }
  for (const char* bad : {"", "TGID", "pid", "0", "local ", "wrr"}) {
    EXPECT_FALSE(parse_hash_key(bad).has_value()) << bad;
    EXPECT_FALSE(parse_shard_policy(bad).has_value()) << bad;
  }
  EXPECT_EQ(kDefaultHashKey, HashKey::kTgid);
  EXPECT_EQ(kDefaultShardPolicy, ShardPolicy::kRr);
  EXPECT_EQ(kThresholdMax, 2147483647U);
}

}  // namespace
}  // namespace sockvs
