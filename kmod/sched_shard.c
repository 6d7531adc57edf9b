// SPDX-License-Identifier: GPL-2.0
/*
 * Shard choice for sharded real servers.
 *
 * A sharded server (Seastar's "port" load-balancing policy, ScyllaDB's
 * shard-aware port) serves a connection on shard (client port % nshards).
 * svs_shard_pick() chooses the shard a new connection should land on, by
 * the service's policy: rr (seq % nshards), lc (fewest open connections,
 * ties taking turns), cpu (cpu % nshards, for thread-per-core clients
 * whose CPU c talks to shard c), hash (the service's hash key, remixed so
 * that it uses other bits than the server choice of sh/mh).
 *
 * svs_shard_port_count() and svs_shard_port_nth() enumerate the ports of
 * one residue class within the ephemeral port range, so that the connect
 * path can try the candidates from a random one on, each once, to find a
 * free local port that lands on the chosen shard.
 */
#include "svs_sched.h"

/* The shard with the fewest open connections; ties take turns by @seq. */
static u32 svs_shard_lc(u32 nshards, const svs_atomic_t *conns, u64 seq)
{
	u32 i, best = 0, ties = 0, target;

	for (i = 0; i < nshards; i++) {
		u32 c = (u32)svs_atomic_read(&conns[i]);

		if (!ties || c < best) {
			best = c;
			ties = 1;
		} else if (c == best) {
			ties++;
		}
	}
	target = svs_mod64(seq, ties);
	for (i = 0; i < nshards; i++)
		if ((u32)svs_atomic_read(&conns[i]) == best && !target--)
			return i;
	/* Counts changed under us: any shard will do. */
	return svs_mod64(seq, nshards);
}

u32 svs_shard_pick(enum svs_shard_policy p, u32 nshards,
		   const svs_atomic_t *shard_conns, u64 seq, u32 cpu, u64 hash)
{
	if (nshards <= 1)
		return 0;
	switch (p) {
	case SVS_SHARD_LC:
		if (shard_conns)
			return svs_shard_lc(nshards, shard_conns, seq);
		break;
	case SVS_SHARD_CPU:
		return cpu % nshards;
	case SVS_SHARD_HASH:
		return svs_mod64(svs_sched_mix64(hash), nshards);
	case SVS_SHARD_RR:
	default:
		break;
	}
	return svs_mod64(seq, nshards);
}

/* The smallest port >= @lo of class @shard, as u64 (may exceed @hi). */
static u64 svs_shard_first(u32 lo, u32 nshards, u32 shard)
{
	u32 r = lo % nshards;

	return (u64)lo + (shard >= r ? shard - r : nshards - r + shard);
}

u32 svs_shard_port_count(u32 lo, u32 hi, u32 nshards, u32 shard)
{
	u64 first;

	if (!nshards || shard >= nshards || lo > hi)
		return 0;
	first = svs_shard_first(lo, nshards, shard);
	if (first > hi)
		return 0;
	return (hi - (u32)first) / nshards + 1;
}

u32 svs_shard_port_nth(u32 lo, u32 hi, u32 nshards, u32 shard, u32 k)
{
	u32 count = svs_shard_port_count(lo, hi, nshards, shard);

	if (!count)
		return 0;
	/* Within [lo, hi], so no overflow. */
	return (u32)svs_shard_first(lo, nshards, shard) + k % count * nshards;
}
