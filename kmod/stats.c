// SPDX-License-Identifier: GPL-2.0
/*
 * Counters of services and real servers: per CPU, as IPVS keeps them, but
 * not one alloc_percpu() per object.  The percpu allocator is slow for many
 * small objects and gets slower as its chunks fragment: 10,000 services of
 * four servers took 17.6 s to load after 100,000 had come and gone, against
 * 2.9 s with no per-CPU counters.  So each namespace carves its counters
 * out of blocks of SVS_STATS_PER_BLOCK slots, one alloc_percpu() per block,
 * charged to the memory cgroup of the process that configures it.
 *
 * A slot is taken with the namespace's configuration lock held and given
 * back from an RCU callback (after the connect path's last increment), so
 * the pool has a spinlock of its own; the connect path never takes it.
 * The pool outlives the namespace while servers wait for their grace
 * period: each block holds a reference, and so does the namespace.
 */
#include <linux/bitmap.h>
#include <linux/error-injection.h>
#include <linux/percpu.h>
#include <linux/slab.h>

#include "sock_vs.h"

#define SVS_STATS_PER_BLOCK	BITS_PER_LONG

struct svs_stats_block {
	struct list_head node;		/* pool->partial while not full */
	struct svs_stats_pool *pool;	/* holds a reference */
	struct svs_cpu_stats __percpu *cpu;	/* SVS_STATS_PER_BLOCK slots */
	unsigned long used;		/* bitmap of slots in use */
};

struct svs_stats_pool {
	spinlock_t lock;		/* partial, each block's used */
	refcount_t refcnt;		/* the namespace, each block */
	struct list_head partial;	/* blocks with a free slot */
};

/* In a function of its own for fail_function. */
noinline struct svs_cpu_stats __percpu *svs_alloc_stats(void)
{
	return (struct svs_cpu_stats __percpu *)
		__alloc_percpu_gfp(sizeof(struct svs_cpu_stats) * SVS_STATS_PER_BLOCK,
				   __alignof__(struct svs_cpu_stats), GFP_KERNEL_ACCOUNT);
}

ALLOW_ERROR_INJECTION(svs_alloc_stats, NULL);

struct svs_stats_pool *svs_stats_pool_create(void)
{
	struct svs_stats_pool *pool = kzalloc(sizeof(*pool), GFP_KERNEL_ACCOUNT);

	if (!pool)
		return NULL;
	spin_lock_init(&pool->lock);
	refcount_set(&pool->refcnt, 1);
	INIT_LIST_HEAD(&pool->partial);
	return pool;
}

static void svs_stats_pool_put(struct svs_stats_pool *pool)
{
	if (refcount_dec_and_test(&pool->refcnt)) {
		WARN_ON_ONCE(!list_empty(&pool->partial));
		kfree(pool);
	}
}

/* The namespace is gone; counters still in use keep the pool. */
void svs_stats_pool_release(struct svs_stats_pool *pool)
{
	svs_stats_pool_put(pool);
}

static struct svs_stats_block *svs_stats_block_new(struct svs_stats_pool *pool)
{
	struct svs_stats_block *b = kzalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
	int cpu, i;

	if (!b)
		return NULL;
	b->cpu = svs_alloc_stats();
	if (!b->cpu) {
		kfree(b);
		return NULL;
	}
	for_each_possible_cpu(cpu)
		for (i = 0; i < SVS_STATS_PER_BLOCK; i++)
			u64_stats_init(&per_cpu_ptr(b->cpu + i, cpu)->syncp);
	b->pool = pool;
	refcount_inc(&pool->refcnt);
	return b;
}

static u64 svs_stat_sum(const struct svs_stats *s, enum svs_stat i)
{
	unsigned int start;
	u64 sum = 0, v;
	int cpu;

	for_each_possible_cpu(cpu) {
		const struct svs_cpu_stats *c = per_cpu_ptr(s->cpu, cpu);

		do {
			start = u64_stats_fetch_begin(&c->syncp);
			v = u64_stats_read(&c->v[i]);
		} while (u64_stats_fetch_retry(&c->syncp, start));
		sum += v;
	}
	return sum;
}

/* The counters keep running; zero moves the base. */
void svs_stats_zero(struct svs_stats *s)
{
	int i;

	for (i = 0; i < SVS_STAT_N; i++)
		WRITE_ONCE(s->base[i], svs_stat_sum(s, i));
}

/* Since the last zeroing; O(CPUs), for the listings. */
u64 svs_stat_read(const struct svs_stats *s, enum svs_stat i)
{
	return svs_stat_sum(s, i) - READ_ONCE(s->base[i]);
}

/*
 * A slot for @s, with svs_net.lock held (so never two at once: only
 * svs_stats_free() runs beside it).  A reused slot keeps counting from
 * where its last owner left it, so @s starts zeroed by its base.
 */
int svs_stats_init(struct svs_stats_pool *pool, struct svs_stats *s)
{
	struct svs_stats_block *b, *fresh = NULL;
	unsigned int slot;

	spin_lock_bh(&pool->lock);
	b = list_first_entry_or_null(&pool->partial, struct svs_stats_block, node);
	if (!b) {
		spin_unlock_bh(&pool->lock);
		fresh = svs_stats_block_new(pool);
		if (!fresh)
			return -ENOMEM;
		spin_lock_bh(&pool->lock);
		b = fresh;
		list_add(&b->node, &pool->partial);
	}
	slot = ffz(b->used);
	__set_bit(slot, &b->used);
	if (b->used == ~0UL)
		list_del_init(&b->node);
	spin_unlock_bh(&pool->lock);

	s->block = b;
	s->slot = slot;
	s->cpu = b->cpu + slot;
	svs_stats_zero(s);
	return 0;
}

/* Any context; after the connect path's last svs_stat_inc() on @s. */
void svs_stats_free(struct svs_stats *s)
{
	struct svs_stats_block *b = s->block;
	struct svs_stats_pool *pool;
	bool empty;

	if (!b)
		return;
	pool = b->pool;
	spin_lock_bh(&pool->lock);
	if (b->used == ~0UL)
		list_add(&b->node, &pool->partial);
	__clear_bit(s->slot, &b->used);
	empty = !b->used;
	if (empty)
		list_del(&b->node);
	spin_unlock_bh(&pool->lock);
	s->block = NULL;
	s->cpu = NULL;
	if (empty) {
		free_percpu(b->cpu);
		kfree(b);
		svs_stats_pool_put(pool);
	}
}
