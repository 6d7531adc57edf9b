// SPDX-License-Identifier: GPL-2.0
/*
 * rr: round robin over the real servers with weight > 0, in configuration
 * order (IPVS's rr: weight 0 quiesces a server, other weights are ignored).
 */
#include "svs_sched.h"

struct svs_rr {
	u32 n;		/* usable servers */
	u32 idx[];	/* their indexes */
};

static int svs_rr_build(const u32 *weight, u32 n, void **priv)
{
	struct svs_rr *rr;
	u32 i;

	rr = svs_zalloc(sizeof(*rr) + (size_t)n * sizeof(rr->idx[0]));
	if (!rr)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if (weight[i])
			rr->idx[rr->n++] = i;
	*priv = rr;
	return 0;
}

static void svs_rr_free(void *priv)
{
	svs_free(priv);
}

static int svs_rr_pick(const struct svs_sched_in *in)
{
	const struct svs_rr *rr = in->priv;

	if (!rr || !rr->n)
		return -1;
	return (int)rr->idx[svs_mod64(in->seq, rr->n)];
}

const struct svs_sched_ops svs_sched_rr = {
	.name = "rr",
	.build = svs_rr_build,
	.free = svs_rr_free,
	.pick = svs_rr_pick,
};
