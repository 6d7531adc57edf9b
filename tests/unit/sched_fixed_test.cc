// fixed and fo (kmod/sched_fixed.c): failover.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "sched_harness.h"

namespace {

using svs_test::Service;

TEST(SchedFixed, AlwaysTheFirstUsableServer) {
  Service s(&svs_sched_fixed, {1, 5, 1});
  for (uint64_t seq = 0; seq < 50; seq++) EXPECT_EQ(s.pick(seq, seq * 31, static_cast<uint16_t>(seq)), 0);
}

TEST(SchedFixed, FailsOverInConfigurationOrder) {
  Service quiesced(&svs_sched_fixed, {0, 0, 3, 1});
  EXPECT_EQ(quiesced.pick(0), 2);

  Service s(&svs_sched_fixed, {1, 1, 1});
  s.set_thresholds(0, 2, 1);
  s.set_thresholds(1, 2, 1);
  EXPECT_EQ(s.open(), 0);
  EXPECT_EQ(s.open(), 0);
  EXPECT_EQ(s.open(), 1);  // 0 reached its upper threshold
  EXPECT_EQ(s.open(), 1);
  EXPECT_EQ(s.open(), 2);
  EXPECT_EQ(s.open(), 2);
  s.set_conns(0, 1);  // down to its lower threshold: back to the primary
  EXPECT_EQ(s.pick(0), 0);
}

TEST(SchedFixed, NoUsableServer) {
  Service none(&svs_sched_fixed, {});
  EXPECT_EQ(none.pick(0), -1);
  Service zero(&svs_sched_fixed, {0, 0});
  EXPECT_EQ(zero.pick(0), -1);
}

TEST(SchedFo, HighestWeightFirstOnTies) {
  Service s(&svs_sched_fo, {2, 7, 3, 7, 1});
  for (uint64_t seq = 0; seq < 20; seq++) EXPECT_EQ(s.pick(seq, seq, static_cast<uint16_t>(seq)), 1);
}

TEST(SchedFo, FailsOverByWeight) {
  Service s(&svs_sched_fo, {2, 7, 3, 7, 1});
  s.set_thresholds(1, 1, 0);
  s.set_conns(1, 1);
  EXPECT_EQ(s.pick(0), 3);
  s.set_thresholds(3, 1, 0);
  s.set_conns(3, 1);
  EXPECT_EQ(s.pick(0), 2);
  s.set_conns(1, 0);
  EXPECT_EQ(s.pick(0), 1);
  Service q(&svs_sched_fo, {2, 0, 3, 0, 1});
  EXPECT_EQ(q.pick(0), 2);
}

TEST(SchedFo, NoUsableServer) {
  Service none(&svs_sched_fo, {});
  EXPECT_EQ(none.pick(0), -1);
  Service zero(&svs_sched_fo, {0, 0});
  EXPECT_EQ(zero.pick(0), -1);
}

}  // namespace
