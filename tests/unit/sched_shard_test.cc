// Shard choice and shard-class port enumeration (kmod/sched_shard.c).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <utility>
#include <vector>

extern "C" {
#include "svs_sched.h"
}

namespace {

TEST(ShardPick, MatchesTheUapiPolicyNumbers) {
  EXPECT_EQ(SVS_SHARD_RR, 0);
  EXPECT_EQ(SVS_SHARD_LC, 1);
  EXPECT_EQ(SVS_SHARD_CPU, 2);
  EXPECT_EQ(SVS_SHARD_HASH, 3);
}

TEST(ShardPick, UnshardedIsShardZero) {
  for (auto p : {SVS_SHARD_RR, SVS_SHARD_LC, SVS_SHARD_CPU, SVS_SHARD_HASH}) {
    EXPECT_EQ(svs_shard_pick(p, 0, nullptr, 7, 3, 99), 0u);
    EXPECT_EQ(svs_shard_pick(p, 1, nullptr, 7, 3, 99), 0u);
  }
}

TEST(ShardPick, RoundRobin) {
  for (uint64_t seq = 0; seq < 100; seq++) EXPECT_EQ(svs_shard_pick(SVS_SHARD_RR, 7, nullptr, seq, 5, 0), seq % 7);
  EXPECT_EQ(svs_shard_pick(SVS_SHARD_RR, 1024, nullptr, UINT64_MAX, 0, 0), UINT64_MAX % 1024);
}

TEST(ShardPick, Cpu) {
  for (uint32_t cpu = 0; cpu < 64; cpu++) EXPECT_EQ(svs_shard_pick(SVS_SHARD_CPU, 12, nullptr, 99, cpu, 0), cpu % 12);
}

TEST(ShardPick, HashUsesOtherBitsThanTheServerChoice) {
  const uint32_t shards = 8;
  std::vector<int> c(shards, 0);
  // Keys that a table of size 251 (or any modulus dividing 8) sends to one slot.
  for (uint64_t k = 0; k < 80000; k++) {
    uint64_t hash = k * 251 * 8;
    uint32_t s = svs_shard_pick(SVS_SHARD_HASH, shards, nullptr, k, 0, hash);
    ASSERT_EQ(s, svs_sched_mix64(hash) % shards);
    c[s]++;
  }
  for (int x : c) EXPECT_NEAR(x, 10000, 500);
  // Deterministic: the same key, the same shard, whatever seq and cpu.
  EXPECT_EQ(svs_shard_pick(SVS_SHARD_HASH, 16, nullptr, 1, 2, 12345), svs_shard_pick(SVS_SHARD_HASH, 16, nullptr, 9, 8, 12345));
}

TEST(ShardPick, LeastConnections) {
  std::vector<svs_atomic_t> conns(5);
  const int c[] = {4, 2, 3, 2, 9};
  for (size_t i = 0; i < 5; i++) conns[i].counter = c[i];
  // Shards 1 and 3 tie: they take turns.
  for (uint64_t seq = 0; seq < 20; seq++) EXPECT_EQ(svs_shard_pick(SVS_SHARD_LC, 5, conns.data(), seq, 0, 0), seq % 2 ? 3u : 1u);
  conns[3].counter = 1;
  for (uint64_t seq = 0; seq < 20; seq++) EXPECT_EQ(svs_shard_pick(SVS_SHARD_LC, 5, conns.data(), seq, 0, 0), 3u);
  // Without counters: round robin.
  for (uint64_t seq = 0; seq < 20; seq++) EXPECT_EQ(svs_shard_pick(SVS_SHARD_LC, 5, nullptr, seq, 0, 0), seq % 5);
}

TEST(ShardPick, LeastConnectionsKeepsOpenConnectionsLevel) {
  const uint32_t shards = 13;
  std::vector<svs_atomic_t> conns(shards);
  for (auto& x : conns) x.counter = 0;
  for (uint64_t seq = 0; seq < 13 * 100 + 5; seq++) conns[svs_shard_pick(SVS_SHARD_LC, shards, conns.data(), seq, 0, 0)].counter++;
  for (auto& x : conns) {
    EXPECT_GE(x.counter, 100);
    EXPECT_LE(x.counter, 101);
  }
}

TEST(ShardPick, UnknownPolicyFallsBackToRoundRobin) {
  EXPECT_EQ(svs_shard_pick(static_cast<svs_shard_policy>(42), 4, nullptr, 6, 1, 1), 2u);
}

// Brute force over [lo, hi].
std::vector<uint32_t> class_ports(uint32_t lo, uint32_t hi, uint32_t n, uint32_t shard) {
  std::vector<uint32_t> v;
  for (uint64_t p = lo; p <= hi; p++)
    if (p % n == shard) v.push_back(static_cast<uint32_t>(p));
  return v;
}

TEST(ShardPort, ExhaustiveSmallRanges) {
  for (uint32_t lo = 0; lo < 40; lo++)
    for (uint32_t hi = lo; hi < lo + 70; hi++)
      for (uint32_t n = 1; n <= 24; n++)
        for (uint32_t shard = 0; shard < n; shard++) {
          auto want = class_ports(lo, hi, n, shard);
          uint32_t count = svs_shard_port_count(lo, hi, n, shard);
          ASSERT_EQ(count, want.size()) << lo << " " << hi << " " << n << " " << shard;
          if (hi - lo + 1 >= n) {
            ASSERT_GT(count, 0u);
          }
          for (uint32_t k = 0; k < count; k++) ASSERT_EQ(svs_shard_port_nth(lo, hi, n, shard, k), want[k]);
          // k wraps modulo the count.
          if (count) {
            ASSERT_EQ(svs_shard_port_nth(lo, hi, n, shard, count + 1), want[1 % count]);
          }
        }
}

TEST(ShardPort, EphemeralRangesEveryShardCount) {
  const std::vector<std::pair<uint32_t, uint32_t>> ranges = {
      {32768, 60999}, {1024, 65535}, {49152, 65535}, {40000, 40000}, {60000, 61023}, {0, 1023}};
  for (auto [lo, hi] : ranges) {
    const uint32_t size = hi - lo + 1;
    for (uint32_t n = 1; n <= 1024; n++) {
      // Every port of every class for some shard counts, the ends and the
      // middle of every class for all of them.
      const bool full = n <= 8 || n % 101 == 0 || n >= 1022;
      std::vector<bool> seen(full ? size : 0, false);
      size_t total = 0;
      for (uint32_t shard = 0; shard < n; shard++) {
        uint32_t count = svs_shard_port_count(lo, hi, n, shard);
        if (size >= n) {
          ASSERT_GT(count, 0u) << lo << "-" << hi << " n " << n << " shard " << shard;
        }
        // Classes differ in size by at most one.
        ASSERT_GE(count, size / n);
        ASSERT_LE(count, size / n + 1);
        total += count;
        if (!count) continue;
        std::vector<uint32_t> ks = {0, count / 2, count - 1};
        if (full) {
          ks.clear();
          for (uint32_t k = 0; k < count; k++) ks.push_back(k);
        }
        for (uint32_t k : ks) {
          uint32_t p = svs_shard_port_nth(lo, hi, n, shard, k);
          if (p < lo || p > hi || p % n != shard || (k && p != svs_shard_port_nth(lo, hi, n, shard, k - 1) + n)) {
            FAIL() << "port " << p << " for shard " << shard << " of " << n << " in " << lo << "-" << hi;
          }
          if (full) {
            ASSERT_FALSE(seen[p - lo]) << "duplicate " << p;
            seen[p - lo] = true;
          }
        }
        // The first is the lowest of its class, the last the highest.
        uint32_t first = svs_shard_port_nth(lo, hi, n, shard, 0), last = svs_shard_port_nth(lo, hi, n, shard, count - 1);
        ASSERT_TRUE(first < lo + n && last + n > hi);
      }
      ASSERT_EQ(total, size) << lo << "-" << hi << " n " << n;  // the classes partition the range
    }
  }
}

TEST(ShardPort, WalkFromARandomStartVisitsEveryCandidateOnce) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; trial++) {
    uint32_t lo = 1024 + rng() % 40000, hi = lo + rng() % 25000, n = 1 + rng() % 1024, shard = rng() % n;
    uint32_t count = svs_shard_port_count(lo, hi, n, shard);
    uint32_t start = rng() % (count ? count : 1);
    std::set<uint32_t> seen;
    for (uint32_t k = 0; k < count; k++) seen.insert(svs_shard_port_nth(lo, hi, n, shard, (start + k) % count));
    auto want = class_ports(lo, hi, n, shard);
    EXPECT_EQ(seen, std::set<uint32_t>(want.begin(), want.end()));
  }
}

TEST(ShardPort, DegenerateArguments) {
  EXPECT_EQ(svs_shard_port_count(100, 200, 0, 0), 0u);
  EXPECT_EQ(svs_shard_port_count(100, 200, 4, 4), 0u);
  EXPECT_EQ(svs_shard_port_count(200, 100, 4, 1), 0u);
  EXPECT_EQ(svs_shard_port_nth(200, 100, 4, 1, 0), 0u);
  EXPECT_EQ(svs_shard_port_count(100, 102, 8, 7), 0u);  // range smaller than the class stride
  EXPECT_EQ(svs_shard_port_nth(100, 102, 8, 7, 0), 0u);
  // No overflow at the top of u32.
  EXPECT_EQ(svs_shard_port_count(UINT32_MAX - 10, UINT32_MAX, 1024, UINT32_MAX % 1024), 1u);
  EXPECT_EQ(svs_shard_port_nth(UINT32_MAX - 10, UINT32_MAX, 1024, UINT32_MAX % 1024, 5), UINT32_MAX);
  EXPECT_EQ(svs_shard_port_count(UINT32_MAX - 10, UINT32_MAX, 1024, 0), 0u);
}

}  // namespace
