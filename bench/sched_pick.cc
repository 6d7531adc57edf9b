// sched_pick: what one pick costs per scheduler, at 16 and 1,024 real
// servers (Google Benchmark; the module's scheduler code, built for the
// host with -DSVS_HOST, as the unit tests use it).
//
//   build/userspace/sched_pick [--benchmark_filter=...]
//
// lc, wlc, port and fixed read every server's live count (and overload
// flag) on every pick: their cost grows with the number of servers; rr,
// wrr, sh and mh use tables built at configuration time.  Live counts are
// spread (server i has i % 7 open connections) so that lc/wlc do real
// comparisons.  Host time, not a guest ratio: bench/results/sched-pick.txt.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

extern "C" {
#include "svs_sched.h"
}

namespace {

struct Table {
  std::vector<u32> weight;
  std::vector<u64> id;
  std::vector<svs_sched_live> live;
  std::vector<svs_sched_live*> live_ptr;
  void* priv = nullptr;
  const svs_sched_ops* ops;

  Table(const svs_sched_ops* o, size_t n) : weight(n), id(n), live(n), ops(o) {
    for (size_t i = 0; i < n; i++) {
      weight[i] = 1 + static_cast<u32>(i % 3);
      id[i] = svs_sched_mix64(1000 + i);
      svs_atomic_set(&live[i].conns, static_cast<int>(i % 7));
      live_ptr.push_back(&live[i]);
    }
    svs_sched_build b{};
    b.n = static_cast<u32>(n);
    b.weight = weight.data();
    b.id = id.data();
    if (ops->build(&b, &priv) != 0) {
      priv = nullptr;
    }
  }
  ~Table() { ops->free(priv); }
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;
};

void pick(benchmark::State& state, const svs_sched_ops* ops) {
  Table t(ops, static_cast<size_t>(state.range(0)));
  svs_sched_in in{};
  in.n = static_cast<u32>(t.weight.size());
  in.weight = t.weight.data();
  in.id = t.id.data();
  in.live = t.live_ptr.data();
  in.priv = t.priv;
  u64 seq = 0;
  for (auto _ : state) {
    in.seq = seq++;
    in.hash = svs_sched_mix64(seq);
    in.lport = static_cast<u16>(32768 + (seq & 0x7fff));
    benchmark::DoNotOptimize(ops->pick(&in));
  }
}

}  // namespace

BENCHMARK_CAPTURE(pick, rr, &svs_sched_rr)->Arg(16)->Arg(1024);
BENCHMARK_CAPTURE(pick, wrr, &svs_sched_wrr)->Arg(16)->Arg(1024);
BENCHMARK_CAPTURE(pick, lc, &svs_sched_lc)->Arg(16)->Arg(1024);
BENCHMARK_CAPTURE(pick, wlc, &svs_sched_wlc)->Arg(16)->Arg(1024);
BENCHMARK_CAPTURE(pick, sh, &svs_sched_sh)->Arg(16)->Arg(1024);
BENCHMARK_CAPTURE(pick, mh, &svs_sched_mh)->Arg(16)->Arg(1024);
BENCHMARK_CAPTURE(pick, port, &svs_sched_port)->Arg(16)->Arg(1024);
BENCHMARK_CAPTURE(pick, fixed, &svs_sched_fixed)->Arg(16)->Arg(1024);
BENCHMARK_CAPTURE(pick, fo, &svs_sched_fo)->Arg(16)->Arg(1024);

BENCHMARK_MAIN();
