// port (kmod/sched_port.c): the bound local port chooses the server.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "sched_harness.h"

namespace {

using svs_test::Service;

TEST(SchedPort, BoundPortModuloUsableServers) {
  Service s(&svs_sched_port, {1, 1, 1, 1});
  for (uint16_t p = 5000; p < 5100; p++) EXPECT_EQ(s.pick(p * 7, 0, p), p % 4) << p;
}

TEST(SchedPort, WeightsOtherThanZeroPlayNoPart) {
  Service s(&svs_sched_port, {1, 9, 3});
  for (uint16_t p = 1; p < 100; p++) EXPECT_EQ(s.pick(0, 0, p), p % 3);
}

TEST(SchedPort, QuiescedServerLeavesTheModulus) {
  Service s(&svs_sched_port, {1, 0, 1, 1});
  const int usable[] = {0, 2, 3};
  for (uint16_t p = 5000; p < 5100; p++) EXPECT_EQ(s.pick(0, 0, p), usable[p % 3]) << p;
}

TEST(SchedPort, OverloadedServerLeavesTheModulus) {
  Service s(&svs_sched_port, {1, 1, 1, 1});
  s.set_thresholds(2, 10, 4);
  s.set_conns(2, 10);
  const int usable[] = {0, 1, 3};
  for (uint16_t p = 5000; p < 5100; p++) EXPECT_EQ(s.pick(0, 0, p), usable[p % 3]) << p;
  s.set_conns(2, 5);  // above the lower threshold: still out
  for (uint16_t p = 5000; p < 5100; p++) EXPECT_EQ(s.pick(0, 0, p), usable[p % 3]) << p;
  s.set_conns(2, 4);  // back in
  for (uint16_t p = 5000; p < 5100; p++) EXPECT_EQ(s.pick(0, 0, p), p % 4) << p;
}

TEST(SchedPort, HighPorts) {
  Service s(&svs_sched_port, {1, 1, 1, 1, 1, 1, 1});
  for (uint32_t p = 65000; p <= 65535; p++) EXPECT_EQ(s.pick(0, 0, static_cast<uint16_t>(p)), static_cast<int>(p % 7));
}

TEST(SchedPort, UnboundSocketGoesRoundRobinLikeRr) {
  std::vector<uint32_t> w = {1, 0, 3, 1, 2};
  Service port(&svs_sched_port, w), rr(&svs_sched_rr, w);
  for (uint64_t seq = 0; seq < 200; seq++) ASSERT_EQ(port.pick(seq), rr.pick(seq)) << seq;
  // Also while one is overloaded.
  port.set_thresholds(3, 1, 0);
  port.set_conns(3, 1);
  rr.set_thresholds(3, 1, 0);
  rr.set_conns(3, 1);
  for (uint64_t seq = 0; seq < 200; seq++) {
    ASSERT_EQ(port.pick(seq), rr.pick(seq)) << seq;
    ASSERT_NE(port.pick(seq), 3);
  }
  EXPECT_EQ(port.pick(UINT64_MAX), rr.pick(UINT64_MAX));
}

TEST(SchedPort, NoUsableServer) {
  Service none(&svs_sched_port, {});
  EXPECT_EQ(none.pick(0, 0, 0), -1);
  EXPECT_EQ(none.pick(0, 0, 5000), -1);
  Service zero(&svs_sched_port, {0, 0});
  EXPECT_EQ(zero.pick(0, 0, 0), -1);
  EXPECT_EQ(zero.pick(0, 0, 5000), -1);
}

}  // namespace
