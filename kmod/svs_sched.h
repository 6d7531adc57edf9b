/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Schedulers: plain C shared by the module and the host unit tests.
 *
 * A scheduler sees an immutable snapshot of a service's real servers (their
 * weights and stable identities, in configuration order).  ->build() runs
 * on the configuration path whenever the snapshot changes and may
 * precompute whatever ->pick() needs; ->pick() runs on the connect path, in
 * atomic context, without locks.  Its mutable inputs are @seq, a
 * per-service counter that the caller increments atomically once per pick,
 * and each real server's live state (open connections, overload flag),
 * which it reads (and for the overload flag, updates) with atomics.
 */
#ifndef _SOCK_VS_SCHED_H
#define _SOCK_VS_SCHED_H

#include "sched_compat.h"

/* Per real server state that changes between snapshots. */
struct svs_sched_live {
	svs_atomic_t conns;		/* open balanced connections */
	svs_atomic_t overloaded;	/* 1 while over its upper threshold */
	svs_atomic_t ejected;		/* 1 while ejected (passive health) */
	/*
	 * p2c's signal: peak EWMA of the handshake time (us) of recent
	 * balanced connects, 0 before the first; the ms stamp of the last.
	 */
	svs_atomic_t rtt_us;
	svs_atomic_t rtt_ms;
	u32 u_thresh;			/* 0: no upper threshold */
	u32 l_thresh;			/* 0: 3/4 of u_thresh (IPVS) */
};

/* What ->build() sees: the snapshot. */
struct svs_sched_build {
	u32 n;			/* real servers */
	const u32 *weight;	/* their weights, configuration order */
	const u64 *id;		/* stable identity of each (address, port) */
};

/* What ->pick() sees. */
struct svs_sched_in {
	u32 n;
	const u32 *weight;
	const u64 *id;
	struct svs_sched_live *const *live;	/* n pointers; NULL: no live state */
	const void *priv;	/* what ->build() made */
	u64 seq;		/* per-service pick counter */
	u64 hash;		/* the service's hash key for this connect */
	u16 lport;		/* local port the socket is bound to, 0 if none */
	u32 now_ms;		/* a ms clock, for p2c's decay */
	/*
	 * n upper and lower connection thresholds, as the snapshot has them
	 * (so that a pick sees one configuration); NULL: the live ones.
	 */
	const u32 *u_thresh;
	const u32 *l_thresh;
};

struct svs_sched_ops {
	const char *name;
	/* Precompute for a snapshot; may leave *priv NULL.  0 or -errno. */
	int (*build)(const struct svs_sched_build *b, void **priv);
	void (*free)(void *priv);
	/* Index of the chosen real server, or -1 if none is usable. */
	int (*pick)(const struct svs_sched_in *in);
};

extern const struct svs_sched_ops svs_sched_rr;
extern const struct svs_sched_ops svs_sched_wrr;
extern const struct svs_sched_ops svs_sched_lc;
extern const struct svs_sched_ops svs_sched_wlc;
extern const struct svs_sched_ops svs_sched_sh;
extern const struct svs_sched_ops svs_sched_mh;
extern const struct svs_sched_ops svs_sched_port;
extern const struct svs_sched_ops svs_sched_fixed;
extern const struct svs_sched_ops svs_sched_fo;
extern const struct svs_sched_ops svs_sched_p2c;

/*
 * p2c's signal (sched_p2c.c): fold a handshake time of @sample_us, taken at
 * @now_ms, into @live's peak EWMA.  @rtt_us decays by half every
 * SVS_P2C_DECAY_MS without samples, so an idle server is tried again.
 */
#define SVS_P2C_DECAY_MS	2000
#define SVS_P2C_RTT_FLOOR_US	5000
void svs_p2c_sample(struct svs_sched_live *live, u32 sample_us, u32 now_ms);
u32 svs_p2c_rtt(const struct svs_sched_live *live, u32 now_ms);

/* ->build() and ->free() of schedulers that precompute nothing. */
int svs_sched_nobuild(const struct svs_sched_build *b, void **priv);
void svs_sched_nofree(void *priv);

/*
 * Maglev table size (entries, a prime) that sh/mh use for a snapshot of
 * @n real servers: the smallest of a fixed list of primes >= 100 * @n, at
 * least 65521, at most 1048571.  Entries are u16, so 2 bytes each.
 */
u32 svs_sched_mh_table_size(u32 n);

/*
 * Stable identity of a real server, from its address (16 bytes; IPv4 in
 * the first 4, rest zero) and port: the same on every host, so that hash
 * schedulers map keys alike everywhere, whatever the configuration order.
 */
u64 svs_sched_dest_id(const u8 *addr16, u16 port);

/* A well-mixed 64-bit hash of @x (for keys: tgid, port, cgroup id). */
static inline u64 svs_sched_mix64(u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Look a scheduler up by name; NULL if unknown. */
const struct svs_sched_ops *svs_sched_find(const char *name);

/* Open connections of real server @i (0 without live state). */
static inline u32 svs_sched_conns(const struct svs_sched_in *in, u32 i)
{
	return in->live ? (u32)svs_atomic_read(&in->live[i]->conns) : 0;
}

/*
 * May real server @i take a new connection?  Weight > 0, not ejected (the
 * module's passive health) and not overloaded.
 * Overload follows IPVS: set when its connections reach the upper
 * threshold, cleared when they drop to the lower one (or below 3/4 of the
 * upper one when no lower threshold is set).
 */
bool svs_sched_usable(const struct svs_sched_in *in, u32 i);

/*
 * Sharded real servers (Seastar's "port" policy, ScyllaDB's shard-aware
 * port): a server with nshards shards serves a connection on shard
 * (client local port % nshards).  The values match enum
 * sock_vs_shard_policy in the uapi header.
 */
enum svs_shard_policy {
	SVS_SHARD_RR = 0,	/* seq % nshards */
	SVS_SHARD_LC = 1,	/* fewest open connections, ties rotate */
	SVS_SHARD_CPU = 2,	/* cpu % nshards */
	SVS_SHARD_HASH = 3,	/* mix64(hash) % nshards */
};

/*
 * The shard a new connection should land on, in [0, @nshards) (0 when
 * @nshards <= 1).  @shard_conns: @nshards open-connection counters, or
 * NULL (then SVS_SHARD_LC acts as SVS_SHARD_RR).  Bounded, lock-free and
 * allocation-free: callable in atomic context.
 */
u32 svs_shard_pick(enum svs_shard_policy p, u32 nshards,
		   const svs_atomic_t *shard_conns, u64 seq, u32 cpu, u64 hash);

/* How many ports p in [@lo, @hi] have p % @nshards == @shard. */
u32 svs_shard_port_count(u32 lo, u32 hi, u32 nshards, u32 shard);

/*
 * The @k-th (from 0, taken modulo the count) port p in [@lo, @hi] with
 * p % @nshards == @shard, in increasing order; 0 if there is none.  Start
 * at a random k and walk k + 1, k + 2, ... to try every candidate once.
 */
u32 svs_shard_port_nth(u32 lo, u32 hi, u32 nshards, u32 shard, u32 k);

#endif /* _SOCK_VS_SCHED_H */
