// p2c (kmod/sched_p2c.c): two weighted random choices, the lower
// handshake RTT x (open connections + 1) wins; the peak EWMA and its decay.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "sched_harness.h"

namespace {

using svs_test::Service;

TEST(SchedP2c, IsRegistered) { EXPECT_EQ(svs_sched_find("p2c"), &svs_sched_p2c); }

TEST(SchedP2c, EqualServersSpreadEvenly) {
  Service s(&svs_sched_p2c, {1, 1, 1});
  for (size_t i = 0; i < 3; i++) s.sample_rtt(i, 500);
  std::vector<int> n(3);
  for (int k = 0; k < 3000; k++) {
    int i = s.open();
    ASSERT_GE(i, 0);
    n[i]++;
  }
  // Each pick goes to the less loaded of two: the loads stay within a few.
  for (int c : n) EXPECT_NEAR(c, 1000, 10);
}

TEST(SchedP2c, PrefersTheFastServer) {
  Service s(&svs_sched_p2c, {1, 1, 1});
  s.sample_rtt(0, 200);
  s.sample_rtt(1, 200);
  s.sample_rtt(2, 20000);  // 100x slower
  std::vector<int> n(3);
  for (uint64_t seq = 0; seq < 1000; seq++) n[s.pick(seq)]++;
  // The slow one wins only when it is drawn twice: 1/9 of the picks.
  EXPECT_LT(n[2], 160);
  EXPECT_GT(n[2], 60);
  EXPECT_GT(n[0], 350);
  EXPECT_GT(n[1], 350);
}

TEST(SchedP2c, LoadCountsToo) {
  Service s(&svs_sched_p2c, {1, 1});
  s.sample_rtt(0, 100);
  s.sample_rtt(1, 300);
  s.set_conns(0, 5);  // 100 * 6 = 600 > 300 * 1
  for (uint64_t seq = 0; seq < 50; seq++) {
    int i = s.pick(seq);
    // a == b (same draw) keeps the draw; otherwise 1 is cheaper
    if (i == 0) continue;
    EXPECT_EQ(i, 1);
  }
}

TEST(SchedP2c, SkipsUnusableAndWeightsDraws) {
  Service s(&svs_sched_p2c, {0, 3, 1});
  s.set_ejected(2, true);
  for (uint64_t seq = 0; seq < 100; seq++) EXPECT_EQ(s.pick(seq), 1);
  s.set_ejected(1, true);
  EXPECT_EQ(s.pick(0), -1);
}

TEST(SchedP2c, PeakEwmaAndDecay) {
  Service s(&svs_sched_p2c, {1});
  s.sample_rtt(0, 1000, 0);
  EXPECT_EQ(s.rtt(0, 0), 1000u);
  s.sample_rtt(0, 5000, 0);  // above: taken at once (peak)
  EXPECT_EQ(s.rtt(0, 0), 5000u);
  s.sample_rtt(0, 1000, 0);  // below: 1/8 of the way
  EXPECT_EQ(s.rtt(0, 0), 5000u - 625u + 125u);
  // Without samples it halves every SVS_P2C_DECAY_MS.
  EXPECT_EQ(s.rtt(0, SVS_P2C_DECAY_MS), 2250u);
  EXPECT_EQ(s.rtt(0, 40 * SVS_P2C_DECAY_MS), 0u);
}

}  // namespace
