// A virtual service for scheduler tests: servers with weights, stable
// identities and live state (open connections, thresholds), built with a
// scheduler's ->build() and picked with its ->pick(), as the module does.
#ifndef SVS_TESTS_UNIT_SCHED_HARNESS_H_
#define SVS_TESTS_UNIT_SCHED_HARNESS_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

extern "C" {
#include "svs_sched.h"
}

namespace svs_test {

// Default identities: a hash of the position, as the module's are hashes.
inline std::vector<u64> default_ids(size_t n) {
  std::vector<u64> ids;
  for (size_t i = 0; i < n; i++) ids.push_back(svs_sched_mix64(1000 + i));
  return ids;
}

class Service {
 public:
  Service(const svs_sched_ops* ops, std::vector<uint32_t> weights, std::vector<u64> ids = {})
      : ops_(ops), weights_(std::move(weights)), ids_(std::move(ids)), live_(weights_.size()) {
    if (ids_.empty()) ids_ = default_ids(weights_.size());
    for (auto& l : live_) live_ptrs_.push_back(&l);
    svs_sched_build b{};
    b.n = static_cast<u32>(weights_.size());
    b.weight = weights_.data();
    b.id = ids_.data();
    build_err_ = ops_->build(&b, &priv_);
    EXPECT_EQ(build_err_, 0);
  }
  ~Service() {
    if (!build_err_) ops_->free(priv_);
  }
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  int pick(uint64_t seq = 0, uint64_t hash = 0, uint16_t lport = 0, bool with_live = true) {
    svs_sched_in in{};
    in.n = static_cast<u32>(weights_.size());
    in.weight = weights_.data();
    in.id = ids_.data();
    in.live = with_live && !live_ptrs_.empty() ? live_ptrs_.data() : nullptr;
    in.priv = priv_;
    in.seq = seq;
    in.hash = hash;
    in.lport = lport;
    int i = ops_->pick(&in);
    EXPECT_GE(i, -1);
    EXPECT_LT(i, static_cast<int>(weights_.size()));
    return i;
  }

  // Pick with the service's own counter, like the connect hook.
  int next(uint64_t hash = 0, uint16_t lport = 0) { return pick(seq_++, hash, lport); }

  // Pick and keep the connection open.
  int open(uint64_t hash = 0, uint16_t lport = 0) {
    int i = next(hash, lport);
    if (i >= 0) live_[i].conns.counter++;
    return i;
  }

  void set_conns(size_t i, int c) { live_[i].conns.counter = c; }
  int conns(size_t i) const { return live_[i].conns.counter; }
  void set_thresholds(size_t i, u32 upper, u32 lower) {
    live_[i].u_thresh = upper;
    live_[i].l_thresh = lower;
  }
  bool overloaded(size_t i) const { return live_[i].overloaded.counter != 0; }
  // p2c's signal: a handshake time sample of @us at @now_ms.
  void sample_rtt(size_t i, u32 us, u32 now_ms = 0) { svs_p2c_sample(&live_[i], us, now_ms); }
  u32 rtt(size_t i, u32 now_ms = 0) const { return svs_p2c_rtt(&live_[i], now_ms); }
  void set_ejected(size_t i, bool e) { live_[i].ejected.counter = e ? 1 : 0; }
  u64 id(int i) const { return i < 0 ? 0 : ids_[i]; }
  size_t size() const { return weights_.size(); }

 private:
  const svs_sched_ops* ops_;
  std::vector<uint32_t> weights_;
  std::vector<u64> ids_;
  std::vector<svs_sched_live> live_;
  std::vector<svs_sched_live*> live_ptrs_;
  void* priv_ = nullptr;
  int build_err_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace svs_test

#endif  // SVS_TESTS_UNIT_SCHED_HARNESS_H_
