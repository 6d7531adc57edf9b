// lc and wlc (kmod/sched_lc.c): least connection, fair ties.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "sched_harness.h"

namespace {

using svs_test::Service;

TEST(SchedRegistry, FindsNewSchedulers) {
  EXPECT_EQ(svs_sched_find("lc"), &svs_sched_lc);
  EXPECT_EQ(svs_sched_find("wlc"), &svs_sched_wlc);
  EXPECT_EQ(svs_sched_find("sh"), &svs_sched_sh);
  EXPECT_EQ(svs_sched_find("mh"), &svs_sched_mh);
  EXPECT_EQ(svs_sched_find("port"), &svs_sched_port);
  EXPECT_EQ(svs_sched_find("fixed"), &svs_sched_fixed);
  EXPECT_EQ(svs_sched_find("fo"), &svs_sched_fo);
  EXPECT_EQ(svs_sched_find("lblc"), nullptr);
  EXPECT_EQ(svs_sched_find("MH"), nullptr);
}

TEST(SchedLc, PicksFewestConnections) {
  Service s(&svs_sched_lc, {1, 1, 1});
  s.set_conns(0, 5);
  s.set_conns(1, 2);
  s.set_conns(2, 7);
  for (uint64_t seq = 0; seq < 10; seq++) EXPECT_EQ(s.pick(seq), 1);
}

TEST(SchedLc, IgnoresWeightsButNotQuiescing) {
  Service s(&svs_sched_lc, {0, 100, 1});
  s.set_conns(1, 4);
  s.set_conns(2, 3);
  for (uint64_t seq = 0; seq < 10; seq++) EXPECT_EQ(s.pick(seq), 2);
}

TEST(SchedLc, EqualServersTakeTurns) {
  Service s(&svs_sched_lc, {1, 1, 1, 1});
  for (uint64_t seq = 0; seq < 20; seq++) EXPECT_EQ(s.pick(seq), static_cast<int>(seq % 4));
  // Only the tied ones take turns, evenly.
  s.set_conns(0, 5);
  s.set_conns(2, 5);
  for (uint64_t seq = 0; seq < 20; seq++) EXPECT_EQ(s.pick(seq), seq % 2 ? 3 : 1);
}

TEST(SchedLc, WithoutLiveStateIsRoundRobin) {
  Service s(&svs_sched_lc, {1, 0, 1});
  for (uint64_t seq = 0; seq < 10; seq++) EXPECT_EQ(s.pick(seq, 0, 0, false), seq % 2 ? 2 : 0);
}

TEST(SchedLc, NoUsableServer) {
  Service none(&svs_sched_lc, {});
  EXPECT_EQ(none.pick(0), -1);
  Service zero(&svs_sched_lc, {0, 0});
  EXPECT_EQ(zero.pick(3), -1);
}

TEST(SchedLc, OpenConnectionsStayLevel) {
  Service s(&svs_sched_lc, {1, 5, 2});
  for (int i = 0; i < 3001; i++) s.open();
  EXPECT_EQ(s.conns(0) + s.conns(1) + s.conns(2), 3001);
  for (size_t i = 0; i < 3; i++) {
    EXPECT_GE(s.conns(i), 1000);
    EXPECT_LE(s.conns(i), 1001);
  }
}

TEST(SchedWlc, MinimisesConnectionsPerWeight) {
  Service s(&svs_sched_wlc, {1, 4});
  s.set_conns(0, 1);
  s.set_conns(1, 3);  // 3/4 < 1/1
  for (uint64_t seq = 0; seq < 10; seq++) EXPECT_EQ(s.pick(seq), 1);
  s.set_conns(1, 5);  // 5/4 > 1/1
  for (uint64_t seq = 0; seq < 10; seq++) EXPECT_EQ(s.pick(seq), 0);
  s.set_conns(1, 4);  // tie: take turns
  for (uint64_t seq = 0; seq < 10; seq++) EXPECT_EQ(s.pick(seq), static_cast<int>(seq % 2));
}

TEST(SchedWlc, CrossMultipliesIn64Bits) {
  // 2e9 / 65535 = 30518.04 > 30000 / 1: a 32-bit product would overflow.
  Service s(&svs_sched_wlc, {65535, 1});
  s.set_conns(0, 2000000000);
  s.set_conns(1, 30000);
  EXPECT_EQ(s.pick(0), 1);
  s.set_conns(1, 30519);
  EXPECT_EQ(s.pick(0), 0);
}

TEST(SchedWlc, QuiescedNeverPicked) {
  Service s(&svs_sched_wlc, {3, 0, 1});
  for (int i = 0; i < 1000; i++) EXPECT_NE(s.open(), 1);
  EXPECT_EQ(s.conns(0), 750);
  EXPECT_EQ(s.conns(2), 250);
}

TEST(SchedWlc, NoUsableServer) {
  Service none(&svs_sched_wlc, {});
  EXPECT_EQ(none.pick(0), -1);
  Service zero(&svs_sched_wlc, {0, 0, 0});
  EXPECT_EQ(zero.pick(1), -1);
}

TEST(SchedWlc, ProportionalWithin1PercentOver100kOpenConnections) {
  std::vector<uint32_t> w = {1, 2, 3, 7, 11, 0, 100, 65535};
  Service s(&svs_sched_wlc, w);
  const int picks = 100000;
  std::vector<int> c(w.size(), 0);
  for (int i = 0; i < picks; i++) {
    int idx = s.open();
    ASSERT_GE(idx, 0);
    c[idx]++;
  }
  double total = 0;
  for (auto x : w) total += x;
  for (size_t i = 0; i < w.size(); i++) {
    EXPECT_NEAR(static_cast<double>(c[i]) / picks, w[i] / total, 0.01) << "server " << i;
  }
  // Open connections per weight stay level: when server i last got one,
  // (conns_i - 1) / w_i was no more than anybody's conns_j / w_j.
  for (size_t i = 0; i < w.size(); i++)
    for (size_t j = 0; j < w.size(); j++)
      if (w[i] && w[j] && s.conns(i)) {
        EXPECT_LE(static_cast<uint64_t>(s.conns(i) - 1) * w[j], static_cast<uint64_t>(s.conns(j)) * w[i]) << i << " " << j;
      }
}

TEST(SchedWlc, EqualLoadTakesTurnsFairly) {
  // Short connections: all loads 0, so picks go round in proportion 1:1:1.
  Service s(&svs_sched_wlc, {1, 2, 3});
  std::vector<int> c(3, 0);
  for (uint64_t seq = 0; seq < 3000; seq++) c[s.pick(seq)]++;
  EXPECT_EQ(c, std::vector<int>({1000, 1000, 1000}));
}

}  // namespace
