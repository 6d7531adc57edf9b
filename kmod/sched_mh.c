// SPDX-License-Identifier: GPL-2.0
/*
 * mh and sh: Maglev consistent hashing (Eisenbud et al., NSDI'16) of the
 * service's hash key, like IPVS's ip_vs_mh.
 *
 * sh is an alias of mh.  IPVS's sh hashes the client's source address,
 * but on a client host the source address is always ours, so there is
 * nothing useful to hash; both names hash the service's key (in->hash:
 * process, local address and port, or cgroup) through the same table.
 *
 * ->build() fills a lookup table of M entries (M prime, see
 * svs_sched_mh_table_size()) with the servers of weight > 0.  Each server
 * has a permutation of the slots, offset + j * skip (mod M), derived from
 * its stable identity (svs_sched_dest_id(), the same on every host), not
 * from its position in the configuration.  Servers take turns claiming
 * their next free preferred slot until the table is full.
 *
 * Weights: instead of IPVS's "w / gcd consecutive turns per round", which
 * leaves the table unbalanced when the last round is cut short, the turns
 * are interleaved by stride scheduling: a server that has claimed k slots
 * claims its next one at virtual time k / weight, earliest first, ties by
 * identity.  Every server's count is then t * w_i + e_i for a common t
 * and 0 <= e_i <= 1, so its share of the table differs from its share of
 * the weights by at most 1/M or n/M of the latter, whichever is larger:
 * by 1% of it at most, as M >= 100 n.  The order depends only on the
 * (identity, weight) set, so two hosts that configured the same servers in
 * different orders build the same table (up to the index each host uses
 * for a server).
 *
 * Table size M: the smallest of a list of primes that is >= 100 n (n:
 * configured servers, so quiescing one to weight 0 keeps M), so at least
 * 65521, the first (Envoy's default Maglev size is 65537).  100 n
 * is the Maglev paper's rule for balance; the floor is for disruption:
 * when a server is added or removed Maglev also moves some keys between
 * the others, and that share shrinks as M grows.  With 10 servers it is
 * about 2% at M = 1021 (100 n), 0.5% at 16369, 0.25% at 65521 (rarely
 * above 1%).  The floor also keeps M fixed up to 655 servers; past that,
 * adding or removing one can cross a size step (656, 1311, 2622, 5243
 * servers), rebuilding the table at another size, which moves most keys.
 * The primes are the largest below 2^k - 3, so that table and header just
 * fill a power-of-two allocation: 128 KiB up to 655 servers, 256 KiB up to
 * 1310, at most 2 MiB.  Building takes about M ln M probes: up to 20 ms
 * for 655 servers, 40 ms for 1024, 0.5 s at the largest size (host CPU).
 *
 * ->pick() is table[hash % M]; if that server is not usable (overloaded),
 * the following entries are probed for the next usable one, so only the
 * keys of the overloaded server move, spread over the others.  After
 * SVS_MH_PROBES entries (nearly every server overloaded) it falls back to
 * the next usable server in configuration order, bounding the time spent
 * in atomic context to SVS_MH_PROBES + n tests.
 */
#include "svs_sched.h"

#ifdef SVS_HOST
#define svs_mh_resched()	do { } while (0)
#else
#include <linux/sched.h>
/* ->build() runs where it may sleep (it allocates with GFP_KERNEL). */
#define svs_mh_resched()	cond_resched()
#endif

/* Table sizes: the largest primes below 2^k - 3, k = 16 .. 20. */
static const u32 svs_mh_primes[] = {
	65521, 131063, 262139, 524269, 1048571,
};

#define SVS_MH_PROBES	256	/* table entries ->pick() tries */

#define SVS_MH_EMPTY	0xffff	/* table entries are u16 server indexes */

struct svs_mh {
	u32 n;		/* servers in the snapshot */
	u32 size;	/* M; 0 when no server has weight > 0 */
	u16 table[];
};

/* One server's progress through its permutation while building. */
struct svs_mh_perm {
	u64 id;
	u32 idx;	/* index in the snapshot */
	u32 weight;
	u32 claimed;	/* slots taken so far */
	u32 pos;	/* next slot of its permutation to try */
	u32 skip;
};

u32 svs_sched_mh_table_size(u32 n)
{
	u64 want = (u64)n * 100;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(svs_mh_primes); i++)
		if (svs_mh_primes[i] >= want)
			return svs_mh_primes[i];
	return svs_mh_primes[ARRAY_SIZE(svs_mh_primes) - 1];
}

/* Does @a claim its next slot before @b? */
static bool svs_mh_before(const struct svs_mh_perm *a,
			  const struct svs_mh_perm *b)
{
	/* claimed / weight, compared exactly: both products fit in u64 */
	u64 ta = (u64)a->claimed * b->weight, tb = (u64)b->claimed * a->weight;

	if (ta != tb)
		return ta < tb;
	if (a->id != b->id)
		return a->id < b->id;
	return a->idx < b->idx;
}

/* Restore the min-heap @heap of @n entries below position @i. */
static void svs_mh_sift_down(u32 *heap, u32 n, u32 i,
			     const struct svs_mh_perm *perm)
{
	for (;;) {
		u32 l = 2 * i + 1, m = i, t;

		if (l < n && svs_mh_before(&perm[heap[l]], &perm[heap[m]]))
			m = l;
		if (l + 1 < n && svs_mh_before(&perm[heap[l + 1]], &perm[heap[m]]))
			m = l + 1;
		if (m == i)
			return;
		t = heap[i];
		heap[i] = heap[m];
		heap[m] = t;
		i = m;
	}
}

static void svs_mh_fill(struct svs_mh *mh, struct svs_mh_perm *perm,
			u32 *heap, u32 nperm)
{
	u32 m = mh->size, filled, i;

	for (i = 0; i < m; i++)
		mh->table[i] = SVS_MH_EMPTY;
	for (i = 0; i < nperm; i++)
		heap[i] = i;
	for (i = nperm / 2; i-- > 0;)
		svs_mh_sift_down(heap, nperm, i, perm);

	for (filled = 0; filled < m; filled++) {
		struct svs_mh_perm *p = &perm[heap[0]];
		u32 c = p->pos;

		/* A permutation visits every slot: a free one turns up. */
		while (mh->table[c] != SVS_MH_EMPTY) {
			c += p->skip;
			if (c >= m)
				c -= m;
		}
		mh->table[c] = (u16)p->idx;
		c += p->skip;
		p->pos = c >= m ? c - m : c;
		p->claimed++;
		svs_mh_sift_down(heap, nperm, 0, perm);
		if (!(filled & 0xffff))
			svs_mh_resched();
	}
}

static int svs_mh_build(const struct svs_sched_build *b, void **priv)
{
	struct svs_mh_perm *perm = NULL;
	u32 i, nperm = 0, m;
	struct svs_mh *mh;
	u32 *heap = NULL;

	if (b->n >= SVS_MH_EMPTY)
		return -E2BIG;
	for (i = 0; i < b->n; i++)
		if (b->weight[i])
			nperm++;
	m = nperm ? svs_sched_mh_table_size(b->n) : 0;
	mh = svs_zalloc(sizeof(*mh) + (size_t)m * sizeof(mh->table[0]));
	if (!mh)
		return -ENOMEM;
	mh->n = b->n;
	mh->size = m;
	if (!nperm)
		goto out;

	perm = svs_zalloc((size_t)nperm * sizeof(*perm));
	heap = svs_zalloc((size_t)nperm * sizeof(*heap));
	if (!perm || !heap) {
		svs_free(perm);
		svs_free(heap);
		svs_free(mh);
		return -ENOMEM;
	}
	nperm = 0;
	for (i = 0; i < b->n; i++) {
		struct svs_mh_perm *p = &perm[nperm];
		u64 h;

		if (!b->weight[i])
			continue;
		h = svs_sched_mix64(b->id[i]);
		p->id = b->id[i];
		p->idx = i;
		p->weight = b->weight[i];
		p->pos = svs_mod64(h, m);			/* offset */
		p->skip = svs_mod64(svs_sched_mix64(h), m - 1) + 1;
		nperm++;
	}
	svs_mh_fill(mh, perm, heap, nperm);
	svs_free(perm);
	svs_free(heap);
out:
	*priv = mh;
	return 0;
}

static void svs_mh_free(void *priv)
{
	svs_free(priv);
}

static int svs_mh_pick(const struct svs_sched_in *in)
{
	const struct svs_mh *mh = in->priv;
	u32 k, c, i, last = SVS_MH_EMPTY;

	if (!mh || !mh->size || mh->n != in->n)
		return -1;
	c = svs_mod64(in->hash, mh->size);
	for (k = 0; k < SVS_MH_PROBES; k++) {
		i = mh->table[c];
		/* Runs of one server: test it once. */
		if (i != last) {
			if (svs_sched_usable(in, i))
				return (int)i;
			last = i;
		}
		if (++c == mh->size)
			c = 0;
	}
	/* Nearly everything is overloaded: the next usable server in order. */
	for (k = 1; k <= in->n; k++) {
		i = last + k < in->n ? last + k : last + k - in->n;
		if (svs_sched_usable(in, i))
			return (int)i;
	}
	return -1;
}

const struct svs_sched_ops svs_sched_mh = {
	.name = "mh",
	.build = svs_mh_build,
	.free = svs_mh_free,
	.pick = svs_mh_pick,
};

/* sh: the same table under IPVS's other hashing name (see above). */
const struct svs_sched_ops svs_sched_sh = {
	.name = "sh",
	.build = svs_mh_build,
	.free = svs_mh_free,
	.pick = svs_mh_pick,
};
