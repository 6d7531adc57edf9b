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

static int svs_rr_build(const struct svs_sched_build *b, void **priv)
{
	struct svs_rr *rr;
	u32 i;

	rr = svs_zalloc(sizeof(*rr) + (size_t)b->n * sizeof(rr->idx[0]));
	if (!rr)
		return -ENOMEM;
	for (i = 0; i < b->n; i++)
		if (b->weight[i])
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
	u32 start, k, i;

	if (!rr || !rr->n)
		return -1;
	/* Overloaded servers are skipped: the next usable one in order. */
	start = svs_mod64(in->seq, rr->n);
	for (k = 0; k < rr->n; k++) {
		i = rr->idx[(start + k) % rr->n];
		if (svs_sched_usable(in, i))
			return (int)i;
	}
	return -1;
}

const struct svs_sched_ops svs_sched_rr = {
	.name = "rr",
	.build = svs_rr_build,
	.free = svs_rr_free,
	.pick = svs_rr_pick,
};
