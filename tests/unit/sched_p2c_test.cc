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
  for (uint64_t seq = 0; seq < 3000; seq++) n[s.pick(seq)]++;
  // The two draws are distinct servers: with equal loads the slow one
  // never wins (drawn with replacement, it won the 1/9 of the picks where
  // both draws fell on it).
  EXPECT_EQ(n[2], 0);
  EXPECT_GT(n[0], 1200);
  EXPECT_GT(n[1], 1200);
}

TEST(SchedP2c, SlowServerGetsLittleUnderLoad) {
  // A closed loop of 16 connections in flight (the bench's faulty case):
  // the slow server wins a pair only when the fast ones carry several
  // times its load, so it holds about one connection.
  Service s(&svs_sched_p2c, {1, 1, 1});
  s.sample_rtt(0, 200);
  s.sample_rtt(1, 200);
  s.sample_rtt(2, 20000);
  s.set_conns(0, 8);
  s.set_conns(1, 7);
  int slow = 0;
  for (uint64_t seq = 0; seq < 3000; seq++) {
    s.set_conns(2, 1);
    slow += s.pick(seq) == 2;
  }
  // (20000 + 5000) * 2 = 50000 > (200 + 5000) * 9 = 46800: never.
  EXPECT_EQ(slow, 0);
  s.set_conns(2, 0);  // 25000 < 46800: every pair that includes it
  for (uint64_t seq = 0; seq < 3000; seq++) slow += s.pick(seq) == 2;
  EXPECT_NEAR(slow, 2000, 150);
}

TEST(SchedP2c, TwoServersAlwaysCompared) {
  Service s(&svs_sched_p2c, {1, 1});
  s.sample_rtt(0, 200);
  s.sample_rtt(1, 20000);
  for (uint64_t seq = 0; seq < 500; seq++) EXPECT_EQ(s.pick(seq), 0);
  s.set_ejected(0, true);  // the only usable one, whatever it costs
  for (uint64_t seq = 0; seq < 50; seq++) EXPECT_EQ(s.pick(seq), 1);
}

TEST(SchedP2c, ColdServerIsNotFlooded) {
  // A pool opened at once: every connect goes out before any handshake
  // completes.  Without samples p2c balances by load alone.
  Service s(&svs_sched_p2c, {1, 1, 1});
  for (int k = 0; k < 16; k++) ASSERT_GE(s.open(), 0);
  for (size_t i = 0; i < 3; i++) {
    EXPECT_GE(s.conns(i), 4) << i;
    EXPECT_LE(s.conns(i), 6) << i;
  }
  // A new server among measured ones is taken as an average one: with the
  // same load it ties with the mean and is neither flooded nor starved.
  Service t(&svs_sched_p2c, {1, 1, 1});
  t.sample_rtt(0, 100);
  t.sample_rtt(1, 20000);  // mean 10050: server 2 costs that
  t.set_conns(0, 3);       // (100 + 5000) * 4 = 20400
  t.set_conns(1, 0);       // (20000 + 5000) * 1 = 25000
  t.set_conns(2, 1);       // (10050 + 5000) * 2 = 30100
  std::vector<int> n(3);
  for (uint64_t seq = 0; seq < 900; seq++) n[t.pick(seq)]++;
  EXPECT_EQ(n[2], 0);  // loses to both
  t.set_conns(2, 0);   // 15050: beats both
  n.assign(3, 0);
  for (uint64_t seq = 0; seq < 900; seq++) n[t.pick(seq)]++;
  EXPECT_NEAR(n[2], 600, 80);
  EXPECT_EQ(n[1], 0);
}

TEST(SchedP2c, LoadCountsToo) {
  Service s(&svs_sched_p2c, {1, 1});
  s.sample_rtt(0, 100);
  s.sample_rtt(1, 300);
  s.set_conns(0, 5);  // (100 + 5000) * 6 > (300 + 5000) * 1
  for (uint64_t seq = 0; seq < 50; seq++) EXPECT_EQ(s.pick(seq), 1);
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
