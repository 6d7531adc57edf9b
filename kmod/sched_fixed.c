// SPDX-License-Identifier: GPL-2.0
/*
 * fixed and fo: failover schedulers.
 *
 * fixed: always the first usable server (weight > 0, not overloaded) in
 * configuration order; the next one takes over while it is quiesced or
 * overloaded.  A primary/backup list with no IPVS counterpart.
 *
 * fo: IPVS's ip_vs_fo, weighted failover: the usable server with the
 * highest weight, the first in configuration order on a tie.
 *
 * Both are O(servers), lock- and allocation-free.
 */
#include "svs_sched.h"

static int svs_fixed_pick(const struct svs_sched_in *in)
{
	u32 i;

	for (i = 0; i < in->n; i++)
		if (svs_sched_usable(in, i))
			return (int)i;
	return -1;
}

static int svs_fo_pick(const struct svs_sched_in *in)
{
	int best = -1;
	u32 i;

	for (i = 0; i < in->n; i++) {
		if (best >= 0 && in->weight[i] <= in->weight[best])
			continue;
		if (svs_sched_usable(in, i))
			best = (int)i;
	}
	return best;
}

const struct svs_sched_ops svs_sched_fixed = {
	.name = "fixed",
	.build = svs_sched_nobuild,
	.free = svs_sched_nofree,
	.pick = svs_fixed_pick,
};

const struct svs_sched_ops svs_sched_fo = {
	.name = "fo",
	.build = svs_sched_nobuild,
	.free = svs_sched_nofree,
	.pick = svs_fo_pick,
};
