// Scheduler properties, on the same C code the module runs (kmod/sched*.c).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <map>
#include <random>
#include <vector>

extern "C" {
#include "svs_sched.h"
}

namespace {

// Owns what ->build() made for one snapshot of weights.
class Snapshot {
 public:
  Snapshot(const svs_sched_ops* ops, std::vector<uint32_t> weights)
      : ops_(ops), weights_(std::move(weights)) {
    for (size_t i = 0; i < weights_.size(); i++) ids_.push_back(svs_sched_mix64(i + 1));
    svs_sched_build b{};
    b.n = static_cast<u32>(weights_.size());
    b.weight = weights_.data();
    b.id = ids_.data();
    EXPECT_EQ(ops_->build(&b, &priv_), 0);
  }
  ~Snapshot() { ops_->free(priv_); }
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  int pick(uint64_t seq) const {
    svs_sched_in in{};
    in.n = static_cast<u32>(weights_.size());
    in.weight = weights_.data();
    in.id = ids_.data();
    in.priv = priv_;
    in.seq = seq;
    return ops_->pick(&in);
  }

 private:
  const svs_sched_ops* ops_;
  std::vector<uint32_t> weights_;
  std::vector<u64> ids_;
  void* priv_ = nullptr;
};

// IPVS's ip_vs_wrr_schedule(), transcribed with its mutable state, as the oracle.
class IpvsWrr {
 public:
  explicit IpvsWrr(std::vector<uint32_t> w) : w_(std::move(w)) {
    uint32_t g = 0, mx = 0;
    for (uint32_t x : w_) {
      if (x) g = g ? std::gcd(g, x) : x;
      mx = std::max(mx, x);
    }
    di_ = g ? g : 1;
    mw_ = static_cast<int64_t>(mx) - (di_ - 1);
    cw_ = mw_;
    cl_ = -1;  // the list head
  }
  int next() {
    if (mw_ <= 0) return -1;
    int dest = cl_;
    int last = cl_;
    int stop = -2;
    bool last_pass = false, restarted = false;
    const int n = static_cast<int>(w_.size());
    while (true) {
      for (dest = dest + 1; dest < n; dest++) {
        if (static_cast<int64_t>(w_[dest]) >= cw_) {
          cl_ = dest;
          return dest;
        }
        if (dest == stop) return -1;
      }
      dest = -1;
      cw_ -= di_;
      if (cw_ <= 0) {
        cw_ = mw_;
        if (last_pass || last == -1) return -1;
        restarted = true;
      }
      last_pass = cw_ <= di_;
      if (last_pass && restarted && last != -1) stop = last;
    }
  }

 private:
  std::vector<uint32_t> w_;
  int64_t di_, mw_, cw_;
  int cl_;
};

std::vector<int> counts(const Snapshot& s, size_t n, uint64_t picks) {
  std::vector<int> c(n, 0);
  for (uint64_t i = 0; i < picks; i++) {
    int idx = s.pick(i);
    EXPECT_GE(idx, 0);
    EXPECT_LT(idx, static_cast<int>(n));
    if (idx >= 0) c[idx]++;
  }
  return c;
}

TEST(SchedRegistry, FindsKnownNamesOnly) {
  EXPECT_EQ(svs_sched_find("rr"), &svs_sched_rr);
  EXPECT_EQ(svs_sched_find("wrr"), &svs_sched_wrr);
  EXPECT_EQ(svs_sched_find("lcx"), nullptr);
  EXPECT_EQ(svs_sched_find(""), nullptr);
  EXPECT_EQ(svs_sched_find("RR"), nullptr);
}

TEST(SchedRr, CyclesInConfigurationOrder) {
  Snapshot s(&svs_sched_rr, {1, 5, 1});
  for (uint64_t i = 0; i < 30; i++) EXPECT_EQ(s.pick(i), static_cast<int>(i % 3));
}

TEST(SchedRr, SkipsQuiescedServers) {
  Snapshot s(&svs_sched_rr, {0, 3, 0, 1});
  for (uint64_t i = 0; i < 20; i++) EXPECT_EQ(s.pick(i), i % 2 ? 3 : 1);
}

TEST(SchedRr, NoUsableServer) {
  Snapshot none(&svs_sched_rr, {});
  EXPECT_EQ(none.pick(0), -1);
  Snapshot zero(&svs_sched_rr, {0, 0});
  EXPECT_EQ(zero.pick(7), -1);
}

TEST(SchedRr, EvenOver100kPicks) {
  Snapshot s(&svs_sched_rr, {1, 1, 1, 1, 1, 1, 1});
  auto c = counts(s, 7, 100000);
  for (int x : c) EXPECT_NEAR(x, 100000 / 7.0, 1000.0);  // within 1%
}

TEST(SchedRr, LargeCounterWraps) {
  Snapshot s(&svs_sched_rr, {1, 1, 1});
  EXPECT_EQ(s.pick(UINT64_MAX), static_cast<int>(UINT64_MAX % 3));
}

TEST(SchedWrr, IpvsExampleSequence) {
  // IPVS's documented example: weights A=4 B=3 C=2 -> A A B A B C A B C.
  Snapshot s(&svs_sched_wrr, {4, 3, 2});
  std::vector<int> want = {0, 0, 1, 0, 1, 2, 0, 1, 2};
  for (size_t i = 0; i < 2 * want.size(); i++) EXPECT_EQ(s.pick(i), want[i % want.size()]) << i;
}

TEST(SchedWrr, MatchesIpvsOnRandomWeights) {
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 300; trial++) {
    size_t n = 1 + rng() % 8;
    std::vector<uint32_t> w(n);
    for (auto& x : w) {
      switch (rng() % 4) {
        case 0: x = 0; break;
        case 1: x = 1 + rng() % 4; break;
        case 2: x = 10 * (1 + rng() % 5); break;
        default: x = 1 + rng() % 100; break;
      }
    }
    Snapshot s(&svs_sched_wrr, w);
    IpvsWrr oracle(w);
    for (uint64_t i = 0; i < 500; i++) ASSERT_EQ(s.pick(i), oracle.next()) << "trial " << trial << " pick " << i;
  }
}

TEST(SchedWrr, QuiescedServerNeverPicked) {
  Snapshot s(&svs_sched_wrr, {2, 0, 1});
  for (uint64_t i = 0; i < 300; i++) EXPECT_NE(s.pick(i), 1);
}

TEST(SchedWrr, NoUsableServer) {
  Snapshot none(&svs_sched_wrr, {});
  EXPECT_EQ(none.pick(0), -1);
  Snapshot zero(&svs_sched_wrr, {0, 0, 0});
  EXPECT_EQ(zero.pick(3), -1);
}

TEST(SchedWrr, ProportionalWithin1PercentOver100kPicks) {
  std::vector<uint32_t> w = {1, 2, 3, 7, 11, 0, 65535};
  Snapshot s(&svs_sched_wrr, w);
  const uint64_t picks = 100000;
  auto c = counts(s, w.size(), picks);
  double total = 0;
  for (auto x : w) total += x;
  for (size_t i = 0; i < w.size(); i++) {
    double want = picks * w[i] / total;
    EXPECT_NEAR(c[i], want, 0.01 * picks) << "server " << i;
  }
}

TEST(SchedWrr, ExactProportionsOverFullCycle) {
  std::vector<uint32_t> w = {6, 4, 2};  // gcd 2, cycle of 6 picks
  Snapshot s(&svs_sched_wrr, w);
  auto c = counts(s, w.size(), 6 * 1000);
  EXPECT_EQ(c[0], 3000);
  EXPECT_EQ(c[1], 2000);
  EXPECT_EQ(c[2], 1000);
}

TEST(SchedWrr, LargeWeightsAndManyServers) {
  std::vector<uint32_t> w(1024);
  for (size_t i = 0; i < w.size(); i++) w[i] = 65535 - static_cast<uint32_t>(i);
  Snapshot s(&svs_sched_wrr, w);
  // The first round is the heaviest server alone, then the two heaviest...
  EXPECT_EQ(s.pick(0), 0);
  EXPECT_EQ(s.pick(1), 0);
  EXPECT_EQ(s.pick(2), 1);
  EXPECT_EQ(s.pick(UINT64_MAX) >= 0, true);
}

}  // namespace
