// SPDX-License-Identifier: GPL-2.0
/*
 * lc and wlc: least connection, as IPVS's ip_vs_lc and ip_vs_wlc, with
 * open balanced connections as the load (a client host sees no inactive
 * connections of a server's, so IPVS's overhead = active * 256 + inactive
 * reduces to the open count).
 *
 * lc picks the usable server with the fewest open connections; wlc the
 * one with the fewest per unit of weight, comparing conns_a / weight_a
 * with conns_b / weight_b by cross-multiplication in u64 like IPVS.
 *
 * Unlike IPVS, which takes the first minimum in configuration order, ties
 * are broken fairly: a first pass finds the minimum and how many servers
 * share it, a second takes the (seq % ties)-th of them in configuration
 * order, so servers with equal load take turns (with all loads equal, lc
 * is rr).  Both passes are O(servers), lock-free and allocation-free.
 */
#include "svs_sched.h"

/*
 * Compare the load of server @a (conns @ca, weight @wa) with that of @b:
 * negative, zero or positive as a's load is below, equal to or above b's.
 */
static int svs_lc_cmp(bool weighted, u32 ca, u32 wa, u32 cb, u32 wb)
{
	u64 la = ca, lb = cb;

	if (weighted) {
		la *= wb;
		lb *= wa;
	}
	return la < lb ? -1 : la > lb;
}

static int svs_lc_pick_common(const struct svs_sched_in *in, bool weighted)
{
	u32 i, best = 0, best_c = 0, ties = 0, target;
	int first = -1;

	for (i = 0; i < in->n; i++) {
		u32 c;
		int d;

		if (!svs_sched_usable(in, i))
			continue;
		c = svs_sched_conns(in, i);
		d = first < 0 ? -1 : svs_lc_cmp(weighted, c, in->weight[i],
						best_c, in->weight[best]);
		if (d < 0) {
			first = (int)i;
			best = i;
			best_c = c;
			ties = 1;
		} else if (!d) {
			ties++;
		}
	}
	if (ties <= 1)
		return first;

	/* Rotate among the tied servers. */
	target = svs_mod64(in->seq, ties);
	for (i = best; i < in->n; i++) {
		if (!svs_sched_usable(in, i))
			continue;
		if (svs_lc_cmp(weighted, svs_sched_conns(in, i), in->weight[i],
			       best_c, in->weight[best]))
			continue;
		if (!target--)
			return (int)i;
	}
	/* Loads changed under us: the first minimum found. */
	return first;
}

static int svs_lc_pick(const struct svs_sched_in *in)
{
	return svs_lc_pick_common(in, false);
}

static int svs_wlc_pick(const struct svs_sched_in *in)
{
	return svs_lc_pick_common(in, true);
}

const struct svs_sched_ops svs_sched_lc = {
	.name = "lc",
	.build = svs_sched_nobuild,
	.free = svs_sched_nofree,
	.pick = svs_lc_pick,
};

const struct svs_sched_ops svs_sched_wlc = {
	.name = "wlc",
	.build = svs_sched_nobuild,
	.free = svs_sched_nofree,
	.pick = svs_wlc_pick,
};
