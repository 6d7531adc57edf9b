// Connection thresholds (svs_sched_usable, IPVS semantics) under every
// scheduler: an overloaded server is skipped until its connections drop to
// the lower threshold, or below 3/4 of the upper one without a lower one.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sched_harness.h"

namespace {

using svs_test::Service;

TEST(SchedThreshold, UsableHysteresisWithLowerThreshold) {
  svs_sched_live live{};
  svs_sched_live* lp = &live;
  const u32 w = 1;
  u64 id = 1;
  svs_sched_in in{};
  in.n = 1;
  in.weight = &w;
  in.id = &id;
  in.live = &lp;
  live.u_thresh = 10;
  live.l_thresh = 5;
  auto at = [&](int conns) {
    live.conns.counter = conns;
    return svs_sched_usable(&in, 0);
  };
  EXPECT_TRUE(at(9));
  EXPECT_FALSE(live.overloaded.counter);
  EXPECT_FALSE(at(10));
  EXPECT_TRUE(live.overloaded.counter);
  EXPECT_FALSE(at(6));
  EXPECT_FALSE(at(9));
  EXPECT_TRUE(at(5));
  EXPECT_FALSE(live.overloaded.counter);
  EXPECT_TRUE(at(9));  // rising again: usable until the upper threshold
  EXPECT_FALSE(at(12));
  EXPECT_TRUE(at(0));
}

TEST(SchedThreshold, UsableHysteresisWithoutLowerThreshold) {
  svs_sched_live live{};
  svs_sched_live* lp = &live;
  const u32 w = 1;
  u64 id = 1;
  svs_sched_in in{};
  in.n = 1;
  in.weight = &w;
  in.id = &id;
  in.live = &lp;
  live.u_thresh = 8;  // lower: conns < 6
  auto at = [&](int conns) {
    live.conns.counter = conns;
    return svs_sched_usable(&in, 0);
  };
  EXPECT_FALSE(at(8));
  EXPECT_FALSE(at(7));
  EXPECT_FALSE(at(6));
  EXPECT_TRUE(at(5));
  EXPECT_TRUE(at(7));
  // No upper threshold: always usable; weight 0: never.
  live.u_thresh = 0;
  EXPECT_TRUE(at(1000000));
  const u32 zero = 0;
  in.weight = &zero;
  EXPECT_FALSE(at(0));
}

class EveryScheduler : public ::testing::TestWithParam<std::string> {};

// Server 0 ("A") has thresholds; server 1 ("B") is loaded but unlimited, so
// that every scheduler prefers A whenever A is usable at all.
bool a_picked(Service& s, uint64_t round) {
  bool seen = false;
  for (uint64_t k = 0; k < 64; k++) {
    uint64_t seq = round * 64 + k;
    int i = s.pick(seq, svs_sched_mix64(seq), static_cast<uint16_t>(5000 + seq));
    EXPECT_GE(i, 0);
    if (i == 0) seen = true;
  }
  return seen;
}

void run_hysteresis(const std::string& name, u32 upper, u32 lower, int between, int back) {
  const svs_sched_ops* ops = svs_sched_find(name.c_str());
  ASSERT_NE(ops, nullptr) << name;
  Service s(ops, {1, 1});
  s.set_thresholds(0, upper, lower);
  s.set_conns(1, 1000);

  s.set_conns(0, between);  // never overloaded yet: usable below the upper threshold
  EXPECT_TRUE(a_picked(s, 0)) << name;
  s.set_conns(0, static_cast<int>(upper));
  EXPECT_FALSE(a_picked(s, 1)) << name << ": at the upper threshold";
  EXPECT_TRUE(s.overloaded(0));
  s.set_conns(0, between);
  EXPECT_FALSE(a_picked(s, 2)) << name << ": between the thresholds";
  s.set_conns(0, back + 1);
  EXPECT_FALSE(a_picked(s, 3)) << name << ": just above the lower threshold";
  s.set_conns(0, back);
  EXPECT_TRUE(a_picked(s, 4)) << name << ": back at the lower threshold";
  EXPECT_FALSE(s.overloaded(0));
}

TEST_P(EveryScheduler, SkipsOverloadedUntilLowerThreshold) {
  run_hysteresis(GetParam(), 10, 5, 7, 5);
}

TEST_P(EveryScheduler, SkipsOverloadedUntilBelowThreeQuartersOfUpper) {
  // Upper 20, no lower: usable again below 15.
  run_hysteresis(GetParam(), 20, 0, 17, 14);
}

TEST_P(EveryScheduler, AllOverloadedMeansNone) {
  const svs_sched_ops* ops = svs_sched_find(GetParam().c_str());
  ASSERT_NE(ops, nullptr);
  Service s(ops, {1, 2, 3});
  for (size_t i = 0; i < 3; i++) {
    s.set_thresholds(i, 4, 0);
    s.set_conns(i, 4);
  }
  for (uint64_t seq = 0; seq < 50; seq++)
    EXPECT_EQ(s.pick(seq, svs_sched_mix64(seq), static_cast<uint16_t>(seq)), -1);
}

INSTANTIATE_TEST_SUITE_P(Sched, EveryScheduler,
                         ::testing::Values("rr", "wrr", "lc", "wlc", "sh", "mh", "port", "fixed",
                                           "fo", "p2c"));

}  // namespace
