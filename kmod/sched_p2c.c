// SPDX-License-Identifier: GPL-2.0
/*
 * p2c: the power of two choices with a latency-aware cost.  Two distinct
 * usable servers are drawn at random, each with probability proportional
 * to its weight (two draws of the pick counter's hash, the second among the
 * servers other than the first), and the one of lower cost takes the
 * connection:
 *
 *	cost = rtt * (open balanced connections + 1)
 *
 * where rtt is the server's peak EWMA of the handshake time of recent
 * balanced connects (the kernel's own smoothed RTT of each balanced socket
 * as its handshake completes, eject.c): a sample above the average
 * replaces it (peak), one below moves it by 1/8; without samples it halves
 * every SVS_P2C_DECAY_MS (2 s), so a slow server that recovered is tried
 * again.  A server with no sample yet is taken to have the mean RTT of
 * the usable servers that have one (0 when none has): a new server is tried
 * as an average one, by its load, not flooded while its first handshakes
 * are still out.  (Drawing with replacement, and a cost of 0 for a server
 * without a sample, gave a server 20 ms slower 1/9 of the connects with
 * three servers, 1/4 with two, and 9 of a 16-connection pool opened at
 * once: bench/results/<kernel>-feedback.md of c98dcd0.)
 * SVS_P2C_RTT_FLOOR_US (5 ms) is added to a measured RTT: differences of
 * a few milliseconds (one data centre, a loaded host's noise) weigh little
 * against the load, a server 20 ms slower stays far costlier.  (With a
 * 1 ms floor, loopback noise under QEMU TCG split 90 held-open connections
 * to equal servers 36/38/16.)  Ties go to fewer open connections, then to
 * the first draw.  Three O(n) passes, lock-free, allocation-free.
 */
#include "svs_sched.h"

u32 svs_p2c_rtt(const struct svs_sched_live *live, u32 now_ms)
{
	u32 rtt = (u32)svs_atomic_read(&live->rtt_us);
	u32 age = now_ms - (u32)svs_atomic_read(&live->rtt_ms);
	u32 halvings = age / SVS_P2C_DECAY_MS;

	return halvings >= 32 ? 0 : rtt >> halvings;
}

void svs_p2c_sample(struct svs_sched_live *live, u32 sample_us, u32 now_ms)
{
	u32 cur = svs_p2c_rtt(live, now_ms);

	if (!sample_us)
		sample_us = 1;
	if (sample_us > cur || !cur)
		cur = sample_us;
	else
		cur = cur - cur / 8 + sample_us / 8;
	svs_atomic_set(&live->rtt_us, (int)cur);
	svs_atomic_set(&live->rtt_ms, (int)now_ms);
}

/*
 * The usable server other than @skip (-1: none skipped) that weight point
 * @r falls on, in [0, total weight of those servers).
 */
static int svs_p2c_draw(const struct svs_sched_in *in, u64 r, int skip)
{
	u32 i;

	for (i = 0; i < in->n; i++) {
		if ((int)i == skip || !svs_sched_usable(in, i))
			continue;
		if (r < in->weight[i])
			return (int)i;
		r -= in->weight[i];
	}
	return -1;
}

/* @dflt: the RTT that a server without a sample is taken to have. */
static u64 svs_p2c_cost(const struct svs_sched_in *in, int i, u32 dflt)
{
	u32 rtt = in->live ? svs_p2c_rtt(in->live[i], in->now_ms) : 0;

	if (!rtt)
		rtt = dflt;
	if (rtt)
		rtt += SVS_P2C_RTT_FLOOR_US;
	return (u64)rtt * ((u64)svs_sched_conns(in, (u32)i) + 1);
}

static int svs_p2c_pick(const struct svs_sched_in *in)
{
	u64 total = 0, rest, rtt_sum = 0, ca, cb;
	u32 i, rtt, sampled = 0, dflt = 0;
	int a, b;

	for (i = 0; i < in->n; i++) {
		if (!svs_sched_usable(in, i))
			continue;
		total += in->weight[i];
		rtt = in->live ? svs_p2c_rtt(in->live[i], in->now_ms) : 0;
		if (rtt) {
			rtt_sum += rtt;
			sampled++;
		}
	}
	if (!total)
		return -1;
	a = svs_p2c_draw(in, svs_mod64_64(svs_sched_mix64(in->seq * 2 + 1), total), -1);
	if (a < 0)
		return -1;	/* usability changed under us */
	rest = total - in->weight[a];
	if (!rest)
		return a;	/* the only usable server */
	b = svs_p2c_draw(in, svs_mod64_64(svs_sched_mix64(in->seq * 2 + 2), rest), a);
	if (b < 0)
		return a;
	if (sampled)
		dflt = (u32)svs_div64(rtt_sum, sampled);
	ca = svs_p2c_cost(in, a, dflt);
	cb = svs_p2c_cost(in, b, dflt);
	if (cb < ca || (cb == ca && svs_sched_conns(in, (u32)b) < svs_sched_conns(in, (u32)a)))
		return b;
	return a;
}

const struct svs_sched_ops svs_sched_p2c = {
	.name = "p2c",
	.build = svs_sched_nobuild,
	.free = svs_sched_nofree,
	.pick = svs_p2c_pick,
};
