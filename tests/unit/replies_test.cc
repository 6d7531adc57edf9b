// Parsing replies of the module, and netlink errors with extended ACKs.
#include <gtest/gtest.h>

#include <linux/sock_vs.h>

#include <cerrno>
#include <string>
#include <vector>

#include "nl_test_util.h"
#include "sockvs/error.h"
#include "sockvs/messages.h"

namespace sockvs {
namespace {

using testing::RawMsg;
using testing::ReplyBuilder;

const std::uint8_t kV4[4] = {10, 0, 0, 1};
const std::uint8_t kV6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

int parse_error_code(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return 0;
}

TEST(ParseReply, FullService) {
  ReplyBuilder b(SOCK_VS_CMD_GET_SERVICE, NLM_F_MULTI);
  b.nest(SOCK_VS_ATTR_SERVICE)
      .u16(SOCK_VS_SVC_ATTR_AF, AF_INET)
      .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_SVC_ATTR_ADDR, kV4, 4)
      .u16(SOCK_VS_SVC_ATTR_PORT, 6379)
      .str(SOCK_VS_SVC_ATTR_SCHED_NAME, "rr")
      .u32(SOCK_VS_SVC_ATTR_FLAGS, 0)
      .u32(SOCK_VS_SVC_ATTR_NUM_DESTS, 3)
      .nest(SOCK_VS_SVC_ATTR_STATS)
      .u64(SOCK_VS_STATS_ATTR_CONNS, 1000)
      .u64(SOCK_VS_STATS_ATTR_REFUSED, 7)
      .u64(SOCK_VS_STATS_ATTR_UNTRACKED, 4)
      .end()
      .end();
  const Service s = parse_service_reply(b.hdr());
  EXPECT_EQ(s.af(), AF_INET);
  EXPECT_EQ(s.protocol, IPPROTO_TCP);
  EXPECT_EQ(s.addr.to_string(), "10.0.0.1");
  EXPECT_EQ(s.port, 6379);
  EXPECT_EQ(s.sched_name, "rr");
  EXPECT_EQ(s.flags, 0U);
  EXPECT_EQ(s.num_dests, 3U);
  EXPECT_EQ(s.stats.conns, 1000U);
  EXPECT_EQ(s.stats.refused, 7U);
  EXPECT_EQ(s.stats.untracked, 4U);
}

TEST(ParseReply, IPv6ServiceWithoutOptionalAttributes) {
  ReplyBuilder b(SOCK_VS_CMD_GET_SERVICE);
  b.nest(SOCK_VS_ATTR_SERVICE)
      .u16(SOCK_VS_SVC_ATTR_AF, AF_INET6)
      .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_UDP)
      .raw(SOCK_VS_SVC_ATTR_ADDR, kV6, 16)
      .u16(SOCK_VS_SVC_ATTR_PORT, 53)
      .end();
  const Service s = parse_service_reply(b.hdr());
  EXPECT_EQ(s.af(), AF_INET6);
  EXPECT_EQ(s.addr.to_string(), "fd00::1");
  EXPECT_EQ(s.sched_name, "");
  EXPECT_EQ(s.stats, Stats{});
}

TEST(ParseReply, ServiceFamilyFromAddressLengthWhenAfMissing) {
  ReplyBuilder b(SOCK_VS_CMD_GET_SERVICE);
  b.nest(SOCK_VS_ATTR_SERVICE)
      .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_SVC_ATTR_ADDR, kV6, 16)
      .u16(SOCK_VS_SVC_ATTR_PORT, 80)
      .end();
  EXPECT_TRUE(parse_service_reply(b.hdr()).addr.is_v6());
}

TEST(ParseReply, IgnoresUnknownAttributes) {
  ReplyBuilder b(SOCK_VS_CMD_GET_SERVICE);
  b.nest(SOCK_VS_ATTR_SERVICE)
      .u16(SOCK_VS_SVC_ATTR_AF, AF_INET)
      .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_SVC_ATTR_ADDR, kV4, 4)
      .u16(SOCK_VS_SVC_ATTR_PORT, 80)
      .u32(SOCK_VS_SVC_ATTR_MAX + 5, 12345)  // from a newer module
      .end()
      .u32(SOCK_VS_ATTR_MAX + 3, 1);
  EXPECT_EQ(parse_service_reply(b.hdr()).port, 80);
}

TEST(ParseReply, SchedNameWithoutNulIsBounded) {
  ReplyBuilder b(SOCK_VS_CMD_GET_SERVICE);
  b.nest(SOCK_VS_ATTR_SERVICE)
      .u16(SOCK_VS_SVC_ATTR_AF, AF_INET)
      .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_SVC_ATTR_ADDR, kV4, 4)
      .u16(SOCK_VS_SVC_ATTR_PORT, 80)
      .raw(SOCK_VS_SVC_ATTR_SCHED_NAME, "wrrX", 3)
      .end();
  EXPECT_EQ(parse_service_reply(b.hdr()).sched_name, "wrr");
}

TEST(ParseReply, MalformedServiceIsEPROTO) {
  {
    ReplyBuilder b(SOCK_VS_CMD_GET_SERVICE);  // no nest at all
    EXPECT_EQ(parse_error_code([&] { parse_service_reply(b.hdr()); }), EPROTO);
  }
  {
    ReplyBuilder b(SOCK_VS_CMD_GET_SERVICE);  // no port
    b.nest(SOCK_VS_ATTR_SERVICE)
        .u16(SOCK_VS_SVC_ATTR_AF, AF_INET)
        .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_TCP)
        .raw(SOCK_VS_SVC_ATTR_ADDR, kV4, 4)
        .end();
    EXPECT_EQ(parse_error_code([&] { parse_service_reply(b.hdr()); }), EPROTO);
  }
  {
    ReplyBuilder b(SOCK_VS_CMD_GET_SERVICE);  // AF_INET with 16 bytes
    b.nest(SOCK_VS_ATTR_SERVICE)
        .u16(SOCK_VS_SVC_ATTR_AF, AF_INET)
        .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_TCP)
        .raw(SOCK_VS_SVC_ATTR_ADDR, kV6, 16)
        .u16(SOCK_VS_SVC_ATTR_PORT, 80)
        .end();
    EXPECT_EQ(parse_error_code([&] { parse_service_reply(b.hdr()); }), EPROTO);
  }
  {
    ReplyBuilder b(SOCK_VS_CMD_GET_SERVICE);  // port attribute too short
    const std::uint8_t one = 1;
    b.nest(SOCK_VS_ATTR_SERVICE)
        .u16(SOCK_VS_SVC_ATTR_AF, AF_INET)
        .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_TCP)
        .raw(SOCK_VS_SVC_ATTR_ADDR, kV4, 4)
        .raw(SOCK_VS_SVC_ATTR_PORT, &one, 1)
        .end();
    EXPECT_EQ(parse_error_code([&] { parse_service_reply(b.hdr()); }), EPROTO);
  }
  {
    // Shorter than the generic netlink header.
    RawMsg m;
    nlmsghdr h{};
    h.nlmsg_type = 0x1d;
    m.put(&h, sizeof h);
    EXPECT_EQ(parse_error_code([&] { parse_service_reply(m.finish()); }), EPROTO);
  }
}

TEST(ParseReply, Dest) {
  ReplyBuilder b(SOCK_VS_CMD_GET_DEST, NLM_F_MULTI);
  const std::uint8_t rip[4] = {192, 168, 1, 5};
  b.nest(SOCK_VS_ATTR_DEST)
      .raw(SOCK_VS_DEST_ATTR_ADDR, rip, 4)
      .u16(SOCK_VS_DEST_ATTR_PORT, 6380)
      .u32(SOCK_VS_DEST_ATTR_WEIGHT, 2)
      .u16(SOCK_VS_DEST_ATTR_AF, AF_INET)
      .u32(SOCK_VS_DEST_ATTR_ACTIVE_CONNS, 4)
      .u32(SOCK_VS_DEST_ATTR_INACT_CONNS, 5)
      .nest(SOCK_VS_DEST_ATTR_STATS)
      .u64(SOCK_VS_STATS_ATTR_CONNS, 333)
      .u64(SOCK_VS_STATS_ATTR_REFUSED, 0)
      .end()
      .end();
  const RealServer d = parse_dest_reply(b.hdr());
  EXPECT_EQ(d.addr.to_string(), "192.168.1.5");
  EXPECT_EQ(d.port, 6380);
  EXPECT_EQ(d.weight, 2U);
  EXPECT_EQ(d.active_conns, 4U);
  EXPECT_EQ(d.inact_conns, 5U);
  EXPECT_EQ(d.stats.conns, 333U);
}

TEST(ParseReply, DestIPv6MinimalAndLargeCounters) {
  ReplyBuilder b(SOCK_VS_CMD_GET_DEST, NLM_F_MULTI);
  b.nest(SOCK_VS_ATTR_DEST)
      .raw(SOCK_VS_DEST_ATTR_ADDR, kV6, 16)
      .u16(SOCK_VS_DEST_ATTR_PORT, 8080)
      .u32(SOCK_VS_DEST_ATTR_WEIGHT, 65535)
      .nest(SOCK_VS_DEST_ATTR_STATS)
      .u64(SOCK_VS_STATS_ATTR_CONNS, 0xfedcba9876543210ULL)
      .end()
      .end();
  const RealServer d = parse_dest_reply(b.hdr());
  EXPECT_EQ(d.af(), AF_INET6);
  EXPECT_EQ(d.weight, 65535U);
  EXPECT_EQ(d.active_conns, 0U);
  EXPECT_EQ(d.stats.conns, 0xfedcba9876543210ULL);
}

TEST(ParseReply, DestWithoutWeightIsMalformed) {
  ReplyBuilder b(SOCK_VS_CMD_GET_DEST, NLM_F_MULTI);
  b.nest(SOCK_VS_ATTR_DEST)
      .raw(SOCK_VS_DEST_ATTR_ADDR, kV4, 4)
      .u16(SOCK_VS_DEST_ATTR_PORT, 1)
      .end();
  EXPECT_EQ(parse_error_code([&] { parse_dest_reply(b.hdr()); }), EPROTO);
}

// A service reply with the key of 10.0.0.1:6379/TCP and whatever `extra` adds.
template <typename F>
Service parse_service_with(F&& extra) {
  ReplyBuilder b(SOCK_VS_CMD_GET_SERVICE, NLM_F_MULTI);
  b.nest(SOCK_VS_ATTR_SERVICE)
      .u16(SOCK_VS_SVC_ATTR_AF, AF_INET)
      .u16(SOCK_VS_SVC_ATTR_PROTOCOL, IPPROTO_TCP)
      .raw(SOCK_VS_SVC_ATTR_ADDR, kV4, 4)
      .u16(SOCK_VS_SVC_ATTR_PORT, 6379)
      .str(SOCK_VS_SVC_ATTR_SCHED_NAME, "mh");
  extra(b);
  b.end();
  return parse_service_reply(b.hdr());
}

TEST(ParseReply, ServiceHashKeyAndShardPolicy) {
  const Service s = parse_service_with([](ReplyBuilder& b) {
    b.u8(SOCK_VS_SVC_ATTR_HASH_KEY, SOCK_VS_HASH_LOCAL)
        .u8(SOCK_VS_SVC_ATTR_SHARD_POLICY, SOCK_VS_SHARD_LC);
  });
  EXPECT_EQ(s.sched_name, "mh");
  EXPECT_EQ(s.hash_key, HashKey::kLocal);
  EXPECT_EQ(s.shard_policy, ShardPolicy::kLc);

  const Service d = parse_service_with([](ReplyBuilder& b) {
    b.u8(SOCK_VS_SVC_ATTR_HASH_KEY, SOCK_VS_HASH_TGID)
        .u8(SOCK_VS_SVC_ATTR_SHARD_POLICY, SOCK_VS_SHARD_RR);
  });
  EXPECT_EQ(d.hash_key, HashKey::kTgid);  // reported defaults are kept as reported
  EXPECT_EQ(d.shard_policy, ShardPolicy::kRr);

  const Service c = parse_service_with([](ReplyBuilder& b) {
    b.u8(SOCK_VS_SVC_ATTR_HASH_KEY, SOCK_VS_HASH_CGROUP)
        .u8(SOCK_VS_SVC_ATTR_SHARD_POLICY, SOCK_VS_SHARD_HASH);
  });
  EXPECT_EQ(c.hash_key, HashKey::kCgroup);
  EXPECT_EQ(c.shard_policy, ShardPolicy::kHash);
}

TEST(ParseReply, ServiceFromAnOlderModuleHasNoOptions) {
  const Service s = parse_service_with([](ReplyBuilder&) {});
  EXPECT_FALSE(s.hash_key.has_value());
  EXPECT_FALSE(s.shard_policy.has_value());
  EXPECT_FALSE(s.terminate.has_value());  // the default (udp), for -L, -S and --json
  EXPECT_EQ(s.stats.killed, 0U);
}

TEST(ParseReply, ServiceTerminatePolicyAndKilledCounter) {
  for (const auto& [value, policy] : {std::pair{SOCK_VS_TERMINATE_NONE, Terminate::kNone},
                                      std::pair{SOCK_VS_TERMINATE_UDP, Terminate::kUdp},
                                      std::pair{SOCK_VS_TERMINATE_ALL, Terminate::kAll}}) {
    const Service s = parse_service_with([v = value](ReplyBuilder& b) {
      b.u8(SOCK_VS_SVC_ATTR_TERMINATE, static_cast<std::uint8_t>(v))
          .nest(SOCK_VS_SVC_ATTR_STATS)
          .u64(SOCK_VS_STATS_ATTR_CONNS, 10)
          .u64(SOCK_VS_STATS_ATTR_KILLED, 4)
          .end();
    });
    EXPECT_EQ(s.terminate, policy) << value;
    EXPECT_EQ(s.stats.conns, 10U);
    EXPECT_EQ(s.stats.killed, 4U);
  }
  const Service newer =
      parse_service_with([](ReplyBuilder& b) { b.u8(SOCK_VS_SVC_ATTR_TERMINATE, 9); });
  EXPECT_EQ(terminate_name(newer.terminate.value()), "9");
  EXPECT_EQ(parse_error_code([] {
              parse_service_with([](ReplyBuilder& b) { b.raw(SOCK_VS_SVC_ATTR_TERMINATE, "", 0); });
            }),
            EPROTO);
}

TEST(ParseReply, Killed) {
  for (const std::uint8_t cmd :
       {SOCK_VS_CMD_DEL_DEST, SOCK_VS_CMD_DEL_SERVICE, SOCK_VS_CMD_FLUSH, SOCK_VS_CMD_KILL}) {
    ReplyBuilder b(cmd);
    b.u32(SOCK_VS_ATTR_KILLED, 3);
    EXPECT_EQ(parse_killed_reply(b.hdr()), 3U) << int{cmd};
  }
  ReplyBuilder zero(SOCK_VS_CMD_KILL);
  zero.u32(SOCK_VS_ATTR_KILLED, 0);
  EXPECT_EQ(parse_killed_reply(zero.hdr()), 0U);
  ReplyBuilder big(SOCK_VS_CMD_FLUSH);
  big.u32(SOCK_VS_ATTR_KILLED, 4294967295U).u32(SOCK_VS_ATTR_MAX + 1, 1);  // unknown: ignored
  EXPECT_EQ(parse_killed_reply(big.hdr()), 4294967295U);
}

TEST(ParseReply, KilledMissingOrMalformedIsEPROTO) {
  ReplyBuilder none(SOCK_VS_CMD_DEL_DEST);
  EXPECT_EQ(parse_error_code([&] { parse_killed_reply(none.hdr()); }), EPROTO);
  ReplyBuilder short_attr(SOCK_VS_CMD_DEL_DEST);
  short_attr.u16(SOCK_VS_ATTR_KILLED, 3);
  EXPECT_EQ(parse_error_code([&] { parse_killed_reply(short_attr.hdr()); }), EPROTO);
  EXPECT_EQ(parse_error_code([] { parse_killed_reply(nullptr); }), EPROTO);
}

TEST(ParseReply, ServiceSkipRulesInOrder) {
  const Service s = parse_service_with([](ReplyBuilder& b) {
    b.nest(SOCK_VS_SVC_ATTR_SKIP)
        .nest(SOCK_VS_SKIP_RULE)
        .u32(SOCK_VS_SKIP_ATTR_UID_MIN, 4242)
        .u32(SOCK_VS_SKIP_ATTR_UID_MAX, 4243)
        .end()
        .nest(SOCK_VS_SKIP_RULE)
        .str(SOCK_VS_SKIP_ATTR_CGROUP, "/svs-72-skip")
        .u64(SOCK_VS_SKIP_ATTR_CGROUP_ID, 12345678901ULL)
        .end()
        .nest(SOCK_VS_SKIP_RULE)
        .u32(SOCK_VS_SKIP_ATTR_MARK, 0x10)
        .u32(SOCK_VS_SKIP_ATTR_MARK_MASK, 0xf0)
        .end()
        .end();
  });
  const std::vector<SkipRule> want{SkipUid{4242, 4243}, SkipCgroup{"/svs-72-skip", 12345678901ULL},
                                   SkipMark{0x10, 0xf0}};
  ASSERT_TRUE(s.skip.has_value());
  EXPECT_EQ(*s.skip, want);
  EXPECT_EQ(s.sched_name, "mh");  // the rest of the service is read as before
}

TEST(ParseReply, ServiceSkipDefaultsAndUnknownEntries) {
  const Service s = parse_service_with([](ReplyBuilder& b) {
    b.nest(SOCK_VS_SVC_ATTR_SKIP)
        .nest(SOCK_VS_SKIP_RULE)
        .u32(SOCK_VS_SKIP_ATTR_UID_MIN, 7)  // no UID_MAX: the single uid
        .end()
        .nest(SOCK_VS_SKIP_RULE + 1)  // not a rule: skipped
        .u32(SOCK_VS_SKIP_ATTR_MARK, 1)
        .end()
        .nest(SOCK_VS_SKIP_RULE)
        .u32(SOCK_VS_SKIP_ATTR_MARK, 3)  // no MARK_MASK: all ones
        .end()
        .nest(SOCK_VS_SKIP_RULE)
        .u32(SOCK_VS_SKIP_ATTR_MAX + 1, 9)  // a kind from a newer module: skipped
        .end()
        .nest(SOCK_VS_SKIP_RULE)
        .str(SOCK_VS_SKIP_ATTR_CGROUP, "/x")  // without its id
        .end()
        .end();
  });
  const std::vector<SkipRule> want{SkipUid{7, 7}, SkipMark{3, 0xffffffffU}, SkipCgroup{"/x", 0}};
  ASSERT_TRUE(s.skip.has_value());
  EXPECT_EQ(*s.skip, want);
  // No nest: the service has no rules.
  EXPECT_FALSE(parse_service_with([](ReplyBuilder&) {}).skip.has_value());
}

TEST(ParseReply, ServiceSkipMalformedIsEPROTO) {
  EXPECT_EQ(parse_error_code([] {
              parse_service_with([](ReplyBuilder& b) {
                b.nest(SOCK_VS_SVC_ATTR_SKIP)
                    .nest(SOCK_VS_SKIP_RULE)
                    .u16(SOCK_VS_SKIP_ATTR_UID_MIN, 7)
                    .end()
                    .end();
              });
            }),
            EPROTO);
  EXPECT_EQ(parse_error_code([] {
              parse_service_with([](ReplyBuilder& b) {
                b.nest(SOCK_VS_SVC_ATTR_SKIP)
                    .nest(SOCK_VS_SKIP_RULE)
                    .str(SOCK_VS_SKIP_ATTR_CGROUP, "/x")
                    .u32(SOCK_VS_SKIP_ATTR_CGROUP_ID, 1)  // u64 expected
                    .end()
                    .end();
              });
            }),
            EPROTO);
}

TEST(ParseReply, ServiceOptionValueFromANewerModuleIsKept) {
  const Service s = parse_service_with([](ReplyBuilder& b) {
    b.u8(SOCK_VS_SVC_ATTR_HASH_KEY, 7).u8(SOCK_VS_SVC_ATTR_SHARD_POLICY, 9);
  });
  EXPECT_EQ(hash_key_name(s.hash_key.value()), "7");
  EXPECT_EQ(shard_policy_name(s.shard_policy.value()), "9");
}

TEST(ParseReply, ServiceOptionWithoutPayloadIsMalformed) {
  EXPECT_EQ(parse_error_code([] {
              parse_service_with([](ReplyBuilder& b) { b.raw(SOCK_VS_SVC_ATTR_HASH_KEY, "", 0); });
            }),
            EPROTO);
}

// A real-server reply for 192.168.1.5:6380 and whatever `extra` adds.
template <typename F>
RealServer parse_dest_with(F&& extra, std::size_t size = 0) {
  ReplyBuilder b(SOCK_VS_CMD_GET_DEST, NLM_F_MULTI, size);
  const std::uint8_t rip[4] = {192, 168, 1, 5};
  b.nest(SOCK_VS_ATTR_DEST)
      .raw(SOCK_VS_DEST_ATTR_ADDR, rip, 4)
      .u16(SOCK_VS_DEST_ATTR_PORT, 6380)
      .u32(SOCK_VS_DEST_ATTR_WEIGHT, 2)
      .u16(SOCK_VS_DEST_ATTR_AF, AF_INET)
      .u32(SOCK_VS_DEST_ATTR_ACTIVE_CONNS, 6)
      .u32(SOCK_VS_DEST_ATTR_INACT_CONNS, 2);
  extra(b);
  b.end();
  return parse_dest_reply(b.hdr());
}

TEST(ParseReply, DestKilledCounter) {
  const RealServer d = parse_dest_with([](ReplyBuilder& b) {
    b.nest(SOCK_VS_DEST_ATTR_STATS)
        .u64(SOCK_VS_STATS_ATTR_CONNS, 33)
        .u64(SOCK_VS_STATS_ATTR_KILLED, 18446744073709551615ULL)
        .end();
  });
  EXPECT_EQ(d.stats.conns, 33U);
  EXPECT_EQ(d.stats.killed, 18446744073709551615ULL);
}

TEST(ParseReply, DestThresholdsShardsShardConnsOverloaded) {
  const std::uint32_t per_shard[4] = {2, 3, 0, 3};
  const RealServer d = parse_dest_with([&](ReplyBuilder& b) {
    b.u32(SOCK_VS_DEST_ATTR_U_THRESH, 100)
        .u32(SOCK_VS_DEST_ATTR_L_THRESH, 50)
        .u16(SOCK_VS_DEST_ATTR_SHARDS, 4)
        .u8(SOCK_VS_DEST_ATTR_OVERLOADED, 1)
        .raw(SOCK_VS_DEST_ATTR_SHARD_CONNS, per_shard, sizeof per_shard);  // 4 * 4 bytes
  });
  EXPECT_EQ(d.weight, 2U);
  EXPECT_EQ(d.u_threshold, 100U);
  EXPECT_EQ(d.l_threshold, 50U);
  EXPECT_EQ(d.shards, 4);
  EXPECT_TRUE(d.overloaded);
  EXPECT_EQ(d.shard_conns, (std::vector<std::uint32_t>{2, 3, 0, 3}));
  EXPECT_EQ(d.active_conns, 6U);
  EXPECT_EQ(d.inact_conns, 2U);
}

TEST(ParseReply, DestNotShardedAndNotOverloaded) {
  const std::uint32_t one = 8;
  const RealServer d = parse_dest_with([&](ReplyBuilder& b) {
    b.u32(SOCK_VS_DEST_ATTR_U_THRESH, 0)
        .u32(SOCK_VS_DEST_ATTR_L_THRESH, 0)
        .u16(SOCK_VS_DEST_ATTR_SHARDS, 1)
        .u8(SOCK_VS_DEST_ATTR_OVERLOADED, 0)
        .raw(SOCK_VS_DEST_ATTR_SHARD_CONNS, &one, sizeof one);
  });
  EXPECT_EQ(d.u_threshold, 0U);
  EXPECT_EQ(d.l_threshold, 0U);
  EXPECT_EQ(d.shards, 1);
  EXPECT_FALSE(d.overloaded);
  EXPECT_EQ(d.shard_conns, (std::vector<std::uint32_t>{8}));
}

TEST(ParseReply, DestFromAnOlderModuleHasNoNewSettings) {
  const RealServer d = parse_dest_with([](ReplyBuilder&) {});
  EXPECT_FALSE(d.u_threshold.has_value());
  EXPECT_FALSE(d.l_threshold.has_value());
  EXPECT_FALSE(d.shards.has_value());
  EXPECT_TRUE(d.shard_conns.empty());
  EXPECT_FALSE(d.overloaded);
}

TEST(ParseReply, DestMaxShardsFitsAReply) {
  std::vector<std::uint32_t> per_shard(SOCK_VS_SHARDS_MAX);
  for (std::size_t i = 0; i < per_shard.size(); ++i) {
    per_shard[i] = static_cast<std::uint32_t>(i * 3);
  }
  const RealServer d = parse_dest_with(
      [&](ReplyBuilder& b) {
        b.u16(SOCK_VS_DEST_ATTR_SHARDS, SOCK_VS_SHARDS_MAX)
            .raw(SOCK_VS_DEST_ATTR_SHARD_CONNS, per_shard.data(),
                 static_cast<int>(per_shard.size() * sizeof(std::uint32_t)));
      },
      8192);
  EXPECT_EQ(d.shards, SOCK_VS_SHARDS_MAX);
  EXPECT_EQ(d.shard_conns, per_shard);
}

TEST(ParseReply, DestShardConnsWithoutShardsIsTakenAsIs) {
  const std::uint32_t per_shard[2] = {1, 0};
  const RealServer d = parse_dest_with(
      [&](ReplyBuilder& b) { b.raw(SOCK_VS_DEST_ATTR_SHARD_CONNS, per_shard, sizeof per_shard); });
  EXPECT_FALSE(d.shards.has_value());
  EXPECT_EQ(d.shard_conns, (std::vector<std::uint32_t>{1, 0}));
}

TEST(ParseReply, DestShardConnsMustBeWholeU32s) {
  const std::uint8_t bytes[6] = {1, 0, 0, 0, 2, 0};
  EXPECT_EQ(parse_error_code([&] {
              parse_dest_with([&](ReplyBuilder& b) {
                b.u16(SOCK_VS_DEST_ATTR_SHARDS, 2).raw(SOCK_VS_DEST_ATTR_SHARD_CONNS, bytes, 6);
              });
            }),
            EPROTO);
}

TEST(ParseReply, DestShardConnsMustMatchShards) {
  const std::uint32_t per_shard[3] = {1, 2, 3};
  try {
    parse_dest_with([&](ReplyBuilder& b) {
      b.u16(SOCK_VS_DEST_ATTR_SHARDS, 4)
          .raw(SOCK_VS_DEST_ATTR_SHARD_CONNS, per_shard, sizeof per_shard);
    });
    ADD_FAILURE() << "3 counts for 4 shards accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), EPROTO);
    EXPECT_NE(std::string(e.what()).find("3 entries for 4 shards"), std::string::npos) << e.what();
  }
  // An empty array for 1 shard is just as wrong.
  EXPECT_EQ(parse_error_code([&] {
              parse_dest_with([&](ReplyBuilder& b) {
                b.u16(SOCK_VS_DEST_ATTR_SHARDS, 1).raw(SOCK_VS_DEST_ATTR_SHARD_CONNS, "", 0);
              });
            }),
            EPROTO);
}

TEST(ParseReply, DestSettingsOfTheWrongSizeAreMalformed) {
  const std::uint8_t one = 1;
  EXPECT_EQ(
      parse_error_code([&] {
        parse_dest_with([&](ReplyBuilder& b) { b.raw(SOCK_VS_DEST_ATTR_SHARDS, &one, 1); });  // u16
      }),
      EPROTO);
  EXPECT_EQ(parse_error_code([&] {
              parse_dest_with([&](ReplyBuilder& b) {
                b.u16(SOCK_VS_DEST_ATTR_U_THRESH, 1);  // u32
              });
            }),
            EPROTO);
  EXPECT_EQ(parse_error_code([&] {
              parse_dest_with([&](ReplyBuilder& b) { b.raw(SOCK_VS_DEST_ATTR_OVERLOADED, "", 0); });
            }),
            EPROTO);
}

TEST(ParseReply, Info) {
  ReplyBuilder b(SOCK_VS_CMD_GET_INFO);
  b.nest(SOCK_VS_ATTR_INFO)
      .str(SOCK_VS_INFO_ATTR_VERSION, "0.1.0")
      .u32(SOCK_VS_INFO_ATTR_NUM_SERVICES, 2)
      .str(SOCK_VS_INFO_ATTR_HOOK, "kprobe")
      .str(SOCK_VS_INFO_ATTR_KERNEL, "6.1.0-18-amd64")
      .u32(SOCK_VS_INFO_ATTR_MAX_SERVICES, 256)
      .u32(SOCK_VS_INFO_ATTR_MAX_DESTS, 64)
      .u64(SOCK_VS_INFO_ATTR_UNTRACKED, 9)
      .end();
  const Info i = parse_info_reply(b.hdr());
  EXPECT_EQ(i, (Info{"0.1.0", 2, "kprobe", "6.1.0-18-amd64", 256, 64, 9}));
}

// An older module sends no UNTRACKED: it reads as 0.
TEST(ParseReply, InfoWithoutUntracked) {
  ReplyBuilder b(SOCK_VS_CMD_GET_INFO);
  b.nest(SOCK_VS_ATTR_INFO).str(SOCK_VS_INFO_ATTR_VERSION, "0.1.0").end();
  EXPECT_EQ(parse_info_reply(b.hdr()).untracked, 0U);
}

TEST(ParseReply, InfoNeedsVersion) {
  ReplyBuilder b(SOCK_VS_CMD_GET_INFO);
  b.nest(SOCK_VS_ATTR_INFO).u32(SOCK_VS_INFO_ATTR_NUM_SERVICES, 2).end();
  EXPECT_EQ(parse_error_code([&] { parse_info_reply(b.hdr()); }), EPROTO);
}

// --- NLMSG_ERROR / NLMSG_DONE --------------------------------------------------

// An NLMSG_ERROR as the kernel builds it: nlmsgerr, the echoed request's
// payload (unless capped), then the TLVs.
struct ErrorMsg {
  int error = -EEXIST;
  std::size_t request_payload = 24;  // bytes of the echoed request after its header
  bool capped = false;
  bool tlvs = true;
  std::string msg = "service already exists";
  bool add_offs = true;

  const nlmsghdr* build(RawMsg& m) const {
    nlmsghdr h{};
    h.nlmsg_type = NLMSG_ERROR;
    h.nlmsg_flags =
        static_cast<std::uint16_t>((tlvs ? NLM_F_ACK_TLVS : 0) | (capped ? NLM_F_CAPPED : 0));
    m.put(&h, sizeof h);
    nlmsgerr e{};
    e.error = error;
    e.msg.nlmsg_len = static_cast<std::uint32_t>(NLMSG_HDRLEN + request_payload);
    e.msg.nlmsg_type = 0x1d;
    m.put(&e, sizeof e);
    if (!capped) {
      // Fill the echoed payload with bytes that look like attributes, to
      // catch a parser that starts in the wrong place.
      for (std::size_t i = 0; i < request_payload; ++i) {
        m.bytes().push_back(static_cast<std::uint8_t>(i % 4 == 0 ? 8 : 1));
      }
      m.pad();
    }
    if (tlvs) {
      if (add_offs) {
        const std::uint32_t offs = 20;
        m.attr(NLMSGERR_ATTR_OFFS, &offs, sizeof offs);
      }
      if (!msg.empty()) {
        m.attr_string(NLMSGERR_ATTR_MSG, msg);
      }
    }
    return m.finish();
  }
};

TEST(ParseError, ExtAckAfterEchoedRequest) {
  RawMsg m;
  const NetlinkStatus s = parse_error_message(ErrorMsg{}.build(m));
  EXPECT_EQ(s.error, -EEXIST);
  EXPECT_EQ(s.ext_ack, "service already exists");
}

TEST(ParseError, ExtAckWhenCapped) {
  ErrorMsg spec;
  spec.capped = true;
  spec.request_payload = 1000;  // not present: capped
  spec.msg = "unknown scheduler";
  spec.error = -ENOENT;
  RawMsg m;
  const NetlinkStatus s = parse_error_message(spec.build(m));
  EXPECT_EQ(s.error, -ENOENT);
  EXPECT_EQ(s.ext_ack, "unknown scheduler");
}

TEST(ParseError, UnalignedEchoedPayload) {
  ErrorMsg spec;
  spec.request_payload = 21;  // the TLVs start at the next 4-byte boundary
  spec.add_offs = false;
  RawMsg m;
  EXPECT_EQ(parse_error_message(spec.build(m)).ext_ack, "service already exists");
}

TEST(ParseError, NoTlvsFlagMeansNoMessage) {
  ErrorMsg spec;
  spec.tlvs = false;
  RawMsg m;
  const NetlinkStatus s = parse_error_message(spec.build(m));
  EXPECT_EQ(s.error, -EEXIST);
  EXPECT_EQ(s.ext_ack, "");
}

TEST(ParseError, AckWithoutError) {
  ErrorMsg spec;
  spec.error = 0;
  spec.tlvs = false;
  RawMsg m;
  EXPECT_EQ(parse_error_message(spec.build(m)), (NetlinkStatus{0, ""}));
}

TEST(ParseError, MissingAttributeTypeWithoutMessage) {
  RawMsg m;
  nlmsghdr h{};
  h.nlmsg_type = NLMSG_ERROR;
  h.nlmsg_flags = NLM_F_ACK_TLVS | NLM_F_CAPPED;
  m.put(&h, sizeof h);
  nlmsgerr e{};
  e.error = -EINVAL;
  e.msg.nlmsg_len = 64;
  m.put(&e, sizeof e);
  const std::uint32_t type = SOCK_VS_SVC_ATTR_PORT;
  m.attr(NLMSGERR_ATTR_MISS_TYPE, &type, sizeof type);
  EXPECT_EQ(parse_error_message(m.finish()).ext_ack, "missing attribute 4");
}

TEST(ParseError, MalformedTlvsAreIgnoredSafely) {
  ErrorMsg spec;
  spec.add_offs = false;
  spec.msg = "";
  RawMsg m;
  spec.build(m);
  // A TLV whose length runs past the end of the message.
  nlattr bad{};
  bad.nla_len = 200;
  bad.nla_type = NLMSGERR_ATTR_MSG;
  m.put(&bad, sizeof bad);
  m.put("abcd", 4);
  EXPECT_EQ(parse_error_message(m.finish()).ext_ack, "");

  // An echoed length shorter than a header: no TLVs are looked for.
  RawMsg m2;
  ErrorMsg spec2;
  spec2.request_payload = 0;
  const nlmsghdr* nlh = spec2.build(m2);
  auto* e = reinterpret_cast<nlmsgerr*>(
      const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(nlh) + NLMSG_HDRLEN));
  e->msg.nlmsg_len = 3;
  EXPECT_EQ(parse_error_message(nlh).ext_ack, "");

  // An echoed length claiming more than the message holds.
  e->msg.nlmsg_len = 100000;
  EXPECT_EQ(parse_error_message(nlh).ext_ack, "");
}

TEST(ParseError, MessageWithoutNulIsBounded) {
  RawMsg m;
  nlmsghdr h{};
  h.nlmsg_type = NLMSG_ERROR;
  h.nlmsg_flags = NLM_F_ACK_TLVS | NLM_F_CAPPED;
  m.put(&h, sizeof h);
  nlmsgerr e{};
  e.error = -ESRCH;
  m.put(&e, sizeof e);
  m.attr(NLMSGERR_ATTR_MSG, "no such service", 15);  // no NUL
  EXPECT_EQ(parse_error_message(m.finish()).ext_ack, "no such service");
}

TEST(ParseError, TruncatedErrorMessageThrows) {
  RawMsg m;
  nlmsghdr h{};
  h.nlmsg_type = NLMSG_ERROR;
  m.put(&h, sizeof h);
  const int err = -EPERM;
  m.put(&err, sizeof err);  // no room for the echoed header
  EXPECT_EQ(parse_error_code([&] { parse_error_message(m.finish()); }), EPROTO);
}

TEST(ParseDone, ErrorAndExtAck) {
  RawMsg m;
  nlmsghdr h{};
  h.nlmsg_type = NLMSG_DONE;
  h.nlmsg_flags = NLM_F_MULTI | NLM_F_ACK_TLVS;
  m.put(&h, sizeof h);
  const int err = -ESRCH;
  m.put(&err, sizeof err);
  m.attr_string(NLMSGERR_ATTR_MSG, "no such service");
  EXPECT_EQ(parse_done_message(m.finish()), (NetlinkStatus{-ESRCH, "no such service"}));
}

TEST(ParseDone, SuccessWithOrWithoutPayload) {
  RawMsg m;
  nlmsghdr h{};
  h.nlmsg_type = NLMSG_DONE;
  h.nlmsg_flags = NLM_F_MULTI;
  m.put(&h, sizeof h);
  const int zero = 0;
  m.put(&zero, sizeof zero);
  EXPECT_EQ(parse_done_message(m.finish()), (NetlinkStatus{0, ""}));
  RawMsg bare;
  bare.put(&h, sizeof h);
  EXPECT_EQ(parse_done_message(bare.finish()), (NetlinkStatus{0, ""}));
}

}  // namespace
}  // namespace sockvs
