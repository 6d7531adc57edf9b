// mh and sh (kmod/sched_mh.c): Maglev consistent hashing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "sched_harness.h"

namespace {

using svs_test::Service;

bool is_prime(uint32_t m) {
  if (m < 2) return false;
  for (uint32_t d = 2; d * d <= m; d++)
    if (m % d == 0) return false;
  return true;
}

// The table as the identities of its entries: pick(hash = j) for every slot.
std::vector<u64> table_ids(Service& s, uint32_t m) {
  std::vector<u64> t(m);
  for (uint32_t j = 0; j < m; j++) t[j] = s.id(s.pick(0, j));
  return t;
}

std::vector<u64> random_ids(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<u64> ids(n);
  for (auto& x : ids) x = rng();
  return ids;
}

// Entry counts per server.
std::vector<uint32_t> table_counts(Service& s, uint32_t m) {
  std::vector<uint32_t> c(s.size(), 0);
  for (uint32_t j = 0; j < m; j++) {
    int i = s.pick(0, j);
    EXPECT_GE(i, 0);
    if (i >= 0) c[i]++;
  }
  return c;
}

// Each server's share of the table is within 1% of its weight's share
// (absolute), and its count within 1 + n of M * w / W (see sched_mh.c).
void expect_balanced(Service& s, const std::vector<uint32_t>& w) {
  const uint32_t m = svs_sched_mh_table_size(static_cast<u32>(w.size()));
  auto c = table_counts(s, m);
  double total = 0;
  for (auto x : w) total += x;
  for (size_t i = 0; i < w.size(); i++) {
    double want = w[i] / total;
    EXPECT_NEAR(static_cast<double>(c[i]) / m, want, 0.01) << "server " << i << " weight " << w[i];
    EXPECT_NEAR(c[i], m * want, 1.0 + w.size() * want) << "server " << i << " weight " << w[i];
    if (w[i]) {
      EXPECT_GE(c[i], 1u);
    } else {
      EXPECT_EQ(c[i], 0u);
    }
    // Relative 1% for anyone with at least an average share.
    if (want >= 1.0 / w.size()) {
      EXPECT_NEAR(c[i], m * want, 0.01 * m * want) << "server " << i;
    }
  }
}

TEST(MaglevTableSize, PrimeAtLeast100PerServer) {
  EXPECT_EQ(svs_sched_mh_table_size(0), 65521u);
  EXPECT_EQ(svs_sched_mh_table_size(1), 65521u);
  EXPECT_EQ(svs_sched_mh_table_size(10), 65521u);
  EXPECT_EQ(svs_sched_mh_table_size(655), 65521u);
  EXPECT_EQ(svs_sched_mh_table_size(656), 131063u);
  EXPECT_EQ(svs_sched_mh_table_size(1024), 131063u);
  EXPECT_EQ(svs_sched_mh_table_size(1311), 262139u);
  EXPECT_EQ(svs_sched_mh_table_size(65534), 1048571u);
  uint32_t prev = 0;
  for (uint32_t n = 1; n <= 10485; n++) {
    uint32_t m = svs_sched_mh_table_size(n);
    ASSERT_GE(m, 100 * n);
    ASSERT_GE(m, prev);
    if (m != prev) {
      ASSERT_TRUE(is_prime(m)) << m;
      // Table and an 8-byte header just fit a power-of-two allocation.
      size_t bytes = 8 + 2 * static_cast<size_t>(m), pow2 = 1;
      while (pow2 < bytes) pow2 *= 2;
      ASSERT_LT(pow2 - bytes, 64u) << m;
    }
    prev = m;
  }
}

TEST(Maglev, ShIsMhUnderAnotherName) {
  EXPECT_STREQ(svs_sched_sh.name, "sh");
  EXPECT_STREQ(svs_sched_mh.name, "mh");
  std::vector<uint32_t> w = {1, 3, 0, 2, 5};
  Service mh(&svs_sched_mh, w), sh(&svs_sched_sh, w);
  const uint32_t m = svs_sched_mh_table_size(5);
  EXPECT_EQ(table_ids(mh, m), table_ids(sh, m));
}

TEST(Maglev, LookupIsHashModuloTableSize) {
  Service s(&svs_sched_mh, {1, 1, 1, 1, 1, 1, 1});
  const uint32_t m = svs_sched_mh_table_size(7);
  std::mt19937_64 rng(7);
  for (int k = 0; k < 10000; k++) {
    uint64_t h = rng();
    ASSERT_EQ(s.pick(0, h), s.pick(0, h % m));
    ASSERT_EQ(s.pick(0, h), s.pick(12345, h, 999));  // seq and lport play no part
  }
}

TEST(Maglev, SameTableWhateverTheConfigurationOrder) {
  std::mt19937_64 rng(42);
  for (int trial = 0; trial < 10; trial++) {
    size_t n = 1 + rng() % 40;
    auto ids = random_ids(n, 1000 + trial);
    std::vector<uint32_t> w(n);
    for (auto& x : w) x = trial % 2 ? 1 : static_cast<uint32_t>(rng() % 10);  // some quiesced
    const uint32_t m = svs_sched_mh_table_size(static_cast<u32>(n));
    Service ref(&svs_sched_mh, w, ids);
    auto want = table_ids(ref, m);
    for (int shuffle = 0; shuffle < 3; shuffle++) {
      std::vector<size_t> order(n);
      for (size_t i = 0; i < n; i++) order[i] = i;
      std::shuffle(order.begin(), order.end(), rng);
      std::vector<uint32_t> w2;
      std::vector<u64> ids2;
      for (size_t i : order) {
        w2.push_back(w[i]);
        ids2.push_back(ids[i]);
      }
      Service other(&svs_sched_mh, w2, ids2);
      ASSERT_EQ(table_ids(other, m), want) << "trial " << trial << " shuffle " << shuffle;
    }
  }
}

TEST(Maglev, BalancedWithEqualWeights) {
  for (size_t n : {1, 2, 3, 5, 7, 10, 11, 50, 100, 333}) {
    std::vector<uint32_t> w(n, 1);
    Service s(&svs_sched_mh, w, random_ids(n, n));
    expect_balanced(s, w);
  }
}

TEST(Maglev, BalancedWithWeights) {
  std::mt19937_64 rng(2024);
  std::vector<std::vector<uint32_t>> cases = {
      {1, 2}, {1, 100}, {1000, 1001}, {1, 65535}, {65535, 65535, 1}, {3, 0, 5, 7}, {2, 4, 6, 8, 10, 12},
  };
  for (int k = 0; k < 20; k++) {
    std::vector<uint32_t> w(1 + rng() % 30);
    for (auto& x : w) x = rng() % 4 ? static_cast<uint32_t>(1 + rng() % 100) : static_cast<uint32_t>(rng() % 65536);
    cases.push_back(w);
  }
  for (size_t c = 0; c < cases.size(); c++) {
    SCOPED_TRACE(c);
    Service s(&svs_sched_mh, cases[c], random_ids(cases[c].size(), 77 + c));
    expect_balanced(s, cases[c]);
  }
}

TEST(Maglev, BalancedWith1024Servers) {
  std::vector<uint32_t> w(1024, 1);
  for (size_t i = 0; i < w.size(); i += 3) w[i] = 2;
  Service s(&svs_sched_mh, w, random_ids(w.size(), 1024));
  EXPECT_EQ(svs_sched_mh_table_size(1024), 131063u);
  expect_balanced(s, w);
}

// Fraction of keys whose server (by identity) differs between @a and @b.
double moved(Service& a, Service& b, const std::vector<uint64_t>& keys) {
  size_t moves = 0;
  for (uint64_t k : keys)
    if (a.id(a.pick(0, k)) != b.id(b.pick(0, k))) moves++;
  return static_cast<double>(moves) / keys.size();
}

std::vector<uint64_t> random_keys(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> keys(n);
  for (auto& k : keys) k = rng();
  return keys;
}

TEST(Maglev, RemovingOneOfTenMovesAboutATenth) {
  const size_t n = 10;
  auto keys = random_keys(100000, 99);
  for (uint64_t seed : {1, 2, 3}) {
    auto ids = random_ids(n, seed);
    std::vector<uint32_t> w(n, 1);
    Service all(&svs_sched_mh, w, ids);
    for (size_t gone = 0; gone < n; gone++) {
      std::vector<u64> ids2 = ids;
      ids2.erase(ids2.begin() + gone);
      Service rest(&svs_sched_mh, std::vector<uint32_t>(n - 1, 1), ids2);
      size_t on_gone = 0, others_moved = 0;
      for (uint64_t k : keys) {
        uint64_t before = all.id(all.pick(0, k)), after = rest.id(rest.pick(0, k));
        ASSERT_NE(after, ids[gone]);
        if (before == ids[gone])
          on_gone++;
        else if (before != after)
          others_moved++;
      }
      double frac = static_cast<double>(on_gone + others_moved) / keys.size();
      EXPECT_LE(frac, 1.0 / n + 0.01) << "seed " << seed << " removed " << gone;
      EXPECT_LE(static_cast<double>(others_moved) / keys.size(), 0.01) << "seed " << seed;
    }
  }
}

TEST(Maglev, AddingOneMovesAboutItsShare) {
  const size_t n = 10;
  auto keys = random_keys(100000, 5);
  auto ids = random_ids(n, 8);
  std::vector<u64> first(ids.begin(), ids.end() - 1);
  Service before(&svs_sched_mh, std::vector<uint32_t>(n - 1, 1), first);
  Service after(&svs_sched_mh, std::vector<uint32_t>(n, 1), ids);
  EXPECT_LE(moved(before, after, keys), 1.0 / n + 0.01);
}

TEST(Maglev, QuiescingOneMovesOnlyAboutItsShare) {
  const size_t n = 10;
  auto keys = random_keys(100000, 6);
  auto ids = random_ids(n, 9);
  std::vector<uint32_t> w = {1, 2, 3, 4, 5, 5, 4, 3, 2, 1};
  Service all(&svs_sched_mh, w, ids);
  for (size_t q = 0; q < n; q++) {
    auto w2 = w;
    w2[q] = 0;
    Service drained(&svs_sched_mh, w2, ids);
    double share = w[q] / 30.0;
    EXPECT_LE(moved(all, drained, keys), share + 0.01) << "quiesced " << q;
    for (uint32_t j = 0; j < svs_sched_mh_table_size(n); j++) ASSERT_NE(drained.pick(0, j), static_cast<int>(q));
  }
}

TEST(Maglev, OverloadedServerSpillsToFollowingEntriesOnly) {
  const size_t n = 10;
  Service s(&svs_sched_mh, std::vector<uint32_t>(n, 1), random_ids(n, 10));
  const uint32_t m = svs_sched_mh_table_size(n);
  std::vector<int> before(m);
  for (uint32_t j = 0; j < m; j++) before[j] = s.pick(0, j);

  s.set_thresholds(3, 5, 0);
  s.set_conns(3, 5);
  std::set<int> spilled_to;
  for (uint32_t j = 0; j < m; j++) {
    int now = s.pick(0, j);
    ASSERT_NE(now, 3);
    if (before[j] != 3) {
      ASSERT_EQ(now, before[j]) << j;  // everybody else's keys stay put
    } else {
      // The next entry that is not server 3.
      uint32_t k = (j + 1) % m;
      while (before[k] == 3) k = (k + 1) % m;
      ASSERT_EQ(now, before[k]) << j;
      spilled_to.insert(now);
    }
  }
  EXPECT_GE(spilled_to.size(), n / 2);  // spread, not all to one neighbour

  // Back under the lower threshold (3/4 of 5): its keys come back.
  s.set_conns(3, 3);
  for (uint32_t j = 0; j < m; j++) ASSERT_EQ(s.pick(0, j), before[j]);
}

TEST(Maglev, NoUsableServer) {
  Service none(&svs_sched_mh, {});
  EXPECT_EQ(none.pick(0, 1), -1);
  Service zero(&svs_sched_mh, {0, 0, 0});
  EXPECT_EQ(zero.pick(0, 1), -1);
  Service busy(&svs_sched_mh, {1, 1});
  for (size_t i = 0; i < 2; i++) {
    busy.set_thresholds(i, 1, 0);
    busy.set_conns(i, 1);
  }
  for (uint64_t h = 0; h < 100; h++) EXPECT_EQ(busy.pick(0, h), -1);
}

TEST(Maglev, NearlyAllOverloadedFallsBackToAnyUsable) {
  const size_t n = 100;
  Service s(&svs_sched_mh, std::vector<uint32_t>(n, 1), random_ids(n, 100));
  for (size_t i = 0; i < n; i++) {
    if (i != 57) {
      s.set_thresholds(i, 1, 0);
      s.set_conns(i, 1);
    }
  }
  std::mt19937_64 rng(57);
  for (int k = 0; k < 20000; k++) ASSERT_EQ(s.pick(0, rng()), 57);
}

TEST(Maglev, RefusesMoreServersThanU16Indexes) {
  std::vector<uint32_t> w(65535, 1);
  auto ids = random_ids(w.size(), 1);
  svs_sched_build b{};
  b.n = static_cast<u32>(w.size());
  b.weight = w.data();
  b.id = ids.data();
  void* priv = nullptr;
  EXPECT_EQ(svs_sched_mh.build(&b, &priv), -E2BIG);
}

TEST(Maglev, SingleServerTakesEverything) {
  Service s(&svs_sched_mh, {0, 7, 0});
  for (uint64_t h = 0; h < 1000; h++) EXPECT_EQ(s.pick(0, h * 7919), 1);
}

}  // namespace
