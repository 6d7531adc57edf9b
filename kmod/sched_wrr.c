// SPDX-License-Identifier: GPL-2.0
/*
 * wrr: weighted round robin in exactly IPVS's order, without its lock.
 *
 * IPVS walks the servers round after round with a "current weight" cw that
 * starts at the largest weight and drops by the gcd g of all weights each
 * round; in a round it picks, in configuration order, every server whose
 * weight >= cw.  With weights normalised by g the rounds are r = m .. 1
 * (m = max weight / g) and round r holds the servers with w/g >= r.  One
 * full cycle is sum(w)/g picks.
 *
 * Consecutive rounds hold the same servers until r crosses a distinct
 * weight, so ->build() groups rounds into "bands" (one per distinct
 * weight); ->pick() maps the pick counter to a band, then to a position
 * within a round of that band.  Pick cost: O(bands + servers) with no
 * shared mutable state besides the caller's counter.
 */
#include "svs_sched.h"

struct svs_wrr_band {
	u64 start;	/* first position of the band within the cycle */
	u32 rounds;	/* rounds in this band */
	u32 members;	/* servers per round */
	u32 min_w;	/* member iff normalised weight >= min_w */
};

struct svs_wrr {
	u64 period;	/* picks per full cycle; 0 if nothing is usable */
	u32 g;		/* gcd of the positive weights */
	u32 nbands;
	struct svs_wrr_band band[];
};

static int svs_wrr_build(const struct svs_sched_build *b, void **priv)
{
	const u32 *weight = b->weight;
	u32 i, g = 0, cur, n = b->n;
	struct svs_wrr *w;
	u64 pos = 0;

	w = svs_zalloc(sizeof(*w) + (size_t)n * sizeof(w->band[0]));
	if (!w)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if (weight[i])
			g = g ? (u32)gcd(g, weight[i]) : weight[i];
	w->g = g;
	*priv = w;
	if (!g)
		return 0;

	/* Distinct normalised weights in decreasing order, one band each. */
	cur = 0;
	for (i = 0; i < n; i++)
		if (weight[i] / g > cur)
			cur = weight[i] / g;
	while (cur) {
		u32 next = 0, members = 0;

		for (i = 0; i < n; i++) {
			u32 nw = weight[i] / g;

			if (nw >= cur)
				members++;
			else if (nw > next)
				next = nw;
		}
		w->band[w->nbands].start = pos;
		w->band[w->nbands].rounds = cur - next;
		w->band[w->nbands].members = members;
		w->band[w->nbands].min_w = cur;
		pos += (u64)(cur - next) * members;
		w->nbands++;
		cur = next;
	}
	w->period = pos;
	return 0;
}

static void svs_wrr_free(void *priv)
{
	svs_free(priv);
}

static int svs_wrr_pick(const struct svs_sched_in *in)
{
	const struct svs_wrr *w = in->priv;
	const struct svs_wrr_band *b;
	u64 pos;
	u32 k, i, slot;

	if (!w || !w->period)
		return -1;
	pos = svs_mod64_64(in->seq, w->period);

	b = &w->band[0];
	for (k = 1; k < w->nbands && w->band[k].start <= pos; k++)
		b = &w->band[k];
	slot = svs_mod64(pos - b->start, b->members);

	for (i = 0; i < in->n; i++) {
		if (in->weight[i] / w->g < b->min_w)
			continue;
		if (!slot--)
			break;
	}
	if (i < in->n && svs_sched_usable(in, i))
		return (int)i;
	/* Overloaded: the next usable server in configuration order. */
	for (k = 1; k <= in->n; k++) {
		u32 j = (i + k) % in->n;

		if (svs_sched_usable(in, j))
			return (int)j;
	}
	return -1;
}

const struct svs_sched_ops svs_sched_wrr = {
	.name = "wrr",
	.build = svs_wrr_build,
	.free = svs_wrr_free,
	.pick = svs_wrr_pick,
};
