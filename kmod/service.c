// SPDX-License-Identifier: GPL-2.0
/*
 * Virtual services and real servers of one network namespace.
 *
 * All functions here run in process context with svs_net->lock held.  The
 * connect path never takes that lock: it looks services up in an
 * rhashtable under RCU and reads each service's current svs_dtable, a
 * snapshot rebuilt and republished after every change, within a read
 * section of the namespace's seqcount (svs_svc_view()): a change that is
 * more than one store (an edited service's settings and snapshot; a
 * transaction, txn.c) is published inside its write section, built
 * completely before it.
 */
#include <linux/error-injection.h>
#include <linux/overflow.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <net/netlink.h>

#include "sock_vs.h"

static struct kmem_cache *svs_service_cache __read_mostly;
static struct kmem_cache *svs_dest_cache __read_mostly;

int svs_caches_init(void)
{
	svs_service_cache = KMEM_CACHE(svs_service, SLAB_ACCOUNT);
	svs_dest_cache = KMEM_CACHE(svs_dest, SLAB_ACCOUNT);
	if (svs_service_cache && svs_dest_cache)
		return 0;
	svs_caches_destroy();
	return -ENOMEM;
}

/* After rcu_barrier(): a leaked object shows up as a slab error here. */
void svs_caches_destroy(void)
{
	kmem_cache_destroy(svs_dest_cache);
	kmem_cache_destroy(svs_service_cache);
}

const struct rhashtable_params svs_ht_params = {
	.head_offset = offsetof(struct svs_service, node),
	.key_offset = offsetof(struct svs_service, key),
	.key_len = sizeof(struct svs_key),
	.automatic_shrinking = true,
};

int svs_net_init_tables(struct svs_net *sn)
{
	int err;

	mutex_init(&sn->lock);
	spin_lock_init(&sn->seq_lock);
	seqcount_spinlock_init(&sn->seq, &sn->seq_lock);
	sn->gen = 0;
	INIT_LIST_HEAD(&sn->txns);
	sn->num_txns = 0;
	xa_init_flags(&sn->by_id, XA_FLAGS_ALLOC);
	sn->next_id = 0;
	sn->num_services = 0;
	spin_lock_init(&sn->dests_lock);
	INIT_LIST_HEAD(&sn->dests);
	sn->next_dest_id = 0;
	sn->stats = svs_stats_pool_create();
	if (!sn->stats)
		return -ENOMEM;
	err = rhashtable_init(&sn->ht, &svs_ht_params);
	if (err)
		svs_stats_pool_release(sn->stats);
	return err;
}

/*
 * The allocations of the configuration path that are not from our slab
 * caches, each in a function of its own so that
 * /sys/kernel/debug/fail_function can make it fail.  Charged to the
 * configuring process's memory cgroup, like the slab objects.
 */
noinline struct svs_dtable *svs_alloc_dtable(size_t size)
{
	return kzalloc(size, GFP_KERNEL_ACCOUNT);
}

ALLOW_ERROR_INJECTION(svs_alloc_dtable, NULL);

noinline atomic_t *svs_alloc_shard_conns(u16 shards)
{
	return kcalloc(shards, sizeof(atomic_t), GFP_KERNEL_ACCOUNT);
}

ALLOW_ERROR_INJECTION(svs_alloc_shard_conns, NULL);

/* A snapshot no reader has seen. */
void svs_dtable_free(struct svs_dtable *dt)
{
	if (!dt)
		return;
	if (dt->sched)
		dt->sched->free(dt->priv);
	kfree(dt);
}

static void svs_dtable_free_rcu(struct rcu_head *head)
{
	svs_dtable_free(container_of(head, struct svs_dtable, rcu));
}

/* A snapshot readers may still see: freed after a grace period. */
void svs_dtable_retire(struct svs_dtable *dt)
{
	if (dt)
		call_rcu(&dt->rcu, svs_dtable_free_rcu);
}

/* Room for a snapshot of @n real servers, its arrays placed. */
static struct svs_dtable *svs_dtable_alloc(u32 n)
{
	struct svs_dtable *dt;

	dt = svs_alloc_dtable(struct_size(dt, dest, n) +
			      n * (sizeof(u64) + sizeof(void *) + 3 * sizeof(u32)));
	if (!dt)
		return NULL;
	dt->id = (u64 *)&dt->dest[n];
	dt->live = (struct svs_sched_live **)&dt->id[n];
	dt->weight = (u32 *)&dt->live[n];
	dt->u_thresh = &dt->weight[n];
	dt->l_thresh = &dt->u_thresh[n];
	dt->n = n;
	return dt;
}

/* @dt's servers, weights and thresholds are in: the rest, and @sched's tables. */
static int svs_dtable_seal(struct svs_dtable *dt, const struct svs_sched_ops *sched)
{
	struct svs_sched_build b;
	struct svs_dest *d;
	u32 i;
	int err;

	for (i = 0; i < dt->n; i++) {
		d = dt->dest[i];
		dt->id[i] = svs_sched_dest_id((const u8 *)&d->addr, ntohs(d->port));
		dt->live[i] = &d->live;
		dt->sharded |= d->shards > 1;
	}
	b.n = dt->n;
	b.weight = dt->weight;
	b.id = dt->id;
	err = sched->build(&b, &dt->priv);
	if (err)
		return err;
	dt->sched = sched;
	return 0;
}

/*
 * A snapshot of @n servers @dests with the weights and thresholds of
 * @confs, for @sched (or an ERR_PTR).
 */
struct svs_dtable *svs_dtable_make(const struct svs_sched_ops *sched, u32 n,
				   struct svs_dest *const *dests,
				   const struct svs_dest_conf *const *confs)
{
	struct svs_dtable *dt = svs_dtable_alloc(n);
	u32 i;
	int err;

	if (!dt)
		return ERR_PTR(-ENOMEM);
	for (i = 0; i < n; i++) {
		dt->dest[i] = dests[i];
		dt->weight[i] = confs[i]->weight;
		dt->u_thresh[i] = confs[i]->u_thresh;
		dt->l_thresh[i] = confs[i]->l_thresh;
	}
	err = svs_dtable_seal(dt, sched);
	if (err) {
		kfree(dt);
		return ERR_PTR(err);
	}
	return dt;
}

/*
 * A snapshot of @svc's real servers (except @skip) for scheduler @sched;
 * @edit (if not NULL) with the weight and thresholds of @conf instead of
 * its own.
 */
static struct svs_dtable *svs_dtable_build(struct svs_service *svc,
					   const struct svs_sched_ops *sched,
					   const struct svs_dest *skip,
					   const struct svs_dest *edit,
					   const struct svs_dest_conf *conf)
{
	u32 n = svc->num_dests - (skip ? 1 : 0);
	struct svs_dtable *dt;
	struct svs_dest *d;
	u32 i = 0;
	int err;

	dt = svs_dtable_alloc(n);
	if (!dt)
		return ERR_PTR(-ENOMEM);
	list_for_each_entry(d, &svc->dests, list) {
		if (d == skip)
			continue;
		dt->dest[i] = d;
		if (d == edit) {
			dt->weight[i] = conf->weight;
			dt->u_thresh[i] = conf->u_thresh;
			dt->l_thresh[i] = conf->l_thresh;
		} else {
			dt->weight[i] = d->weight;
			dt->u_thresh[i] = d->live.u_thresh;
			dt->l_thresh[i] = d->live.l_thresh;
		}
		i++;
	}
	err = svs_dtable_seal(dt, sched);
	if (err) {
		kfree(dt);
		return ERR_PTR(err);
	}
	return dt;
}

static void svs_dtable_install(struct svs_service *svc, struct svs_dtable *dt)
{
	svs_dtable_retire(rcu_replace_pointer(svc->dt, dt, true));
}

/* Rebuild and publish the snapshot; on failure nothing changes. */
static int svs_republish(struct svs_service *svc,
			 const struct svs_sched_ops *sched,
			 const struct svs_dest *skip,
			 struct netlink_ext_ack *extack)
{
	struct svs_dtable *dt = svs_dtable_build(svc, sched, skip, NULL, NULL);

	if (IS_ERR(dt)) {
		NL_SET_ERR_MSG(extack, "out of memory building the scheduler table");
		return PTR_ERR(dt);
	}
	svs_dtable_install(svc, dt);
	return 0;
}

struct svs_service *svs_service_find(struct svs_net *sn,
				     const struct svs_key *key)
{
	return rhashtable_lookup_fast(&sn->ht, key, svs_ht_params);
}

/* The service of @key the connect path may see (RCU held), or NULL. */
struct svs_service *svs_service_lookup_rcu(struct svs_net *sn,
					   const struct svs_key *key)
{
	struct svs_service *svc;

	if (!READ_ONCE(sn->num_services))
		return NULL;
	svc = rhashtable_lookup(&sn->ht, key, svs_ht_params);
	if (svc && READ_ONCE(svc->hidden))
		return NULL;
	return svc;
}

/*
 * The service of @key and, in @v, what a connect needs of it, read within
 * one read section of the namespace's seqcount: all of one configuration,
 * never part of a change being published.  Returns with rcu_read_lock()
 * held, whatever it finds (NULL: no such service); the caller unlocks.
 *
 * A reader retries while a writer publishes (svs_net.seq, whose write
 * sections hold svs_net.seq_lock): on PREEMPT_RT a reader that finds one
 * open waits on that lock (an rt_mutex), so this is called from process
 * context there (the wrappers); elsewhere the write section runs with
 * preemption off and the reader spins, which the probe handlers may do.
 * Readers are connects and datagrams of user sockets: task context, never
 * on the writer's CPU while it publishes.
 */
struct svs_service *svs_svc_view(struct svs_net *sn, const struct svs_key *key,
				 struct svs_svc_view *v) __acquires(RCU)
{
	struct svs_service *svc;
	unsigned int seq;

	for (;;) {
		seq = read_seqcount_begin(&sn->seq);
		rcu_read_lock();
		svc = svs_service_lookup_rcu(sn, key);
		if (svc) {
			v->dt = rcu_dereference(svc->dt);
			v->skip = rcu_dereference(svc->skip);
			v->flags = READ_ONCE(svc->conf.flags);
			v->persist = READ_ONCE(svc->conf.persist);
			v->eject = READ_ONCE(svc->conf.eject);
			v->hash_key = READ_ONCE(svc->conf.hash_key);
			v->shard_policy = READ_ONCE(svc->conf.shard_policy);
		}
		if (!read_seqcount_retry(&sn->seq, seq))
			return svc;
		rcu_read_unlock();
	}
}

/*
 * The hooks @new needs that @old (NULL: a new service) does not: the
 * unconnected UDP probes, the ejection tracepoint.  Nothing on failure.
 */
int svs_hooks_get(const struct svs_svc_conf *old, const struct svs_svc_conf *new,
		  struct netlink_ext_ack *extack)
{
	bool uc = new->flags & SOCK_VS_SVC_F_UNCONNECTED;
	int err;

	if (uc && !(old && (old->flags & SOCK_VS_SVC_F_UNCONNECTED))) {
		err = svs_unconn_get(extack);
		if (err)
			return err;
	} else {
		uc = false;
	}
	if (svs_eject_needed(new) && !(old && svs_eject_needed(old))) {
		err = svs_eject_get(extack);
		if (err) {
			if (uc)
				svs_unconn_put();
			return err;
		}
	}
	return 0;
}

/* The hooks @old had that @new (NULL: deleted) does not need. */
void svs_hooks_put(const struct svs_svc_conf *old, const struct svs_svc_conf *new)
{
	if ((old->flags & SOCK_VS_SVC_F_UNCONNECTED) &&
	    !(new && (new->flags & SOCK_VS_SVC_F_UNCONNECTED)))
		svs_unconn_put();
	if (svs_eject_needed(old) && !(new && svs_eject_needed(new)))
		svs_eject_put();
}

/* A service of @key with @conf, seen by nobody yet (or an ERR_PTR). */
struct svs_service *svs_service_alloc(struct svs_net *sn, const struct svs_key *key,
				      const struct svs_svc_conf *conf,
				      struct netlink_ext_ack *extack)
{
	struct svs_service *svc;

	svc = kmem_cache_zalloc(svs_service_cache, GFP_KERNEL_ACCOUNT);
	if (!svc) {
		NL_SET_ERR_MSG(extack, "out of memory for the service");
		return ERR_PTR(-ENOMEM);
	}
	svc->key = *key;
	svc->conf = *conf;
	INIT_LIST_HEAD(&svc->dests);
	atomic64_set(&svc->seq, 0);
	if (svs_stats_init(sn->stats, &svc->stats)) {
		NL_SET_ERR_MSG(extack, "out of memory for the service's counters");
		kmem_cache_free(svs_service_cache, svc);
		return ERR_PTR(-ENOMEM);
	}
	return svc;
}

/* Free @svc, which was never in the tables (its snapshot, exemptions too). */
void svs_service_free(struct svs_service *svc)
{
	svs_dtable_free(rcu_dereference_protected(svc->dt, true));
	svs_skip_free(rcu_dereference_protected(svc->skip, true));
	svs_stats_free(&svc->stats);
	kmem_cache_free(svs_service_cache, svc);
}

/*
 * Into the namespace's tables: an identifier (creation order) and the
 * hash table, where the connect path finds it unless it is hidden.
 */
int svs_service_insert(struct svs_net *sn, struct svs_service *svc,
		       struct netlink_ext_ack *extack)
{
	int err;

	err = xa_alloc_cyclic(&sn->by_id, &svc->id, svc, xa_limit_32b,
			      &sn->next_id, GFP_KERNEL_ACCOUNT);
	if (err < 0) {
		if (err == -EBUSY)
			NL_SET_ERR_MSG(extack, "out of service identifiers");
		else
			NL_SET_ERR_MSG(extack, "out of memory for the service identifier");
		return err;
	}
	err = rhashtable_lookup_insert_fast(&sn->ht, &svc->node, svs_ht_params);
	if (err) {
		if (err == -EEXIST)
			NL_SET_ERR_MSG(extack, "service already exists");
		else
			NL_SET_ERR_MSG(extack, "out of memory for the service hash table");
		xa_erase(&sn->by_id, svc->id);
		return err;
	}
	sn->num_services++;
	atomic_inc(&svs_services_total);
	return 0;
}

/* Out of the namespace's tables (RCU readers may still hold it). */
void svs_service_unhash(struct svs_net *sn, struct svs_service *svc)
{
	rhashtable_remove_fast(&sn->ht, &svc->node, svs_ht_params);
	xa_erase(&sn->by_id, svc->id);
	sn->num_services--;
	atomic_dec(&svs_services_total);
}

/* @skip: its exemptions (or NULL), the service's if this succeeds. */
int svs_service_add(struct svs_net *sn, const struct svs_key *key,
		    const struct svs_svc_conf *conf, struct svs_skip *skip,
		    struct netlink_ext_ack *extack)
{
	struct svs_service *svc;
	int err;

	if (sn->num_services >= svs_limit_services(sn)) {
		if (sn->userns)
			NL_SET_ERR_MSG(extack,
				       "too many services for a namespace owned by a user namespace (userns_max_services, max_services)");
		else
			NL_SET_ERR_MSG(extack, "too many services (max_services)");
		return -ENOSPC;
	}
	svc = svs_service_alloc(sn, key, conf, extack);
	if (IS_ERR(svc))
		return PTR_ERR(svc);
	err = svs_republish(svc, conf->sched, NULL, extack);
	if (err)
		goto free;
	err = svs_hooks_get(NULL, conf, extack);
	if (err)
		goto free;
	RCU_INIT_POINTER(svc->skip, skip);
	err = svs_service_insert(sn, svc, extack);
	if (err) {
		RCU_INIT_POINTER(svc->skip, NULL);	/* still the caller's */
		goto put_hooks;
	}
	svs_table_changed(sn);
	return 0;

put_hooks:
	svs_hooks_put(conf, NULL);
free:
	svs_service_free(svc);
	return err;
}

/* @svc's settings become @conf: inside a write section of svs_net.seq. */
void svs_service_conf_set(struct svs_service *svc, const struct svs_svc_conf *conf)
{
	/* The connect path reads these without the lock. */
	WRITE_ONCE(svc->conf.hash_key, conf->hash_key);
	WRITE_ONCE(svc->conf.shard_policy, conf->shard_policy);
	svc->conf.terminate = conf->terminate;	/* read under the lock */
	WRITE_ONCE(svc->conf.persist, conf->persist);
	WRITE_ONCE(svc->conf.sched, conf->sched);
	WRITE_ONCE(svc->conf.flags, conf->flags);
	svc->conf.ipvs = conf->ipvs;
	WRITE_ONCE(svc->conf.eject_time, conf->eject_time);
	WRITE_ONCE(svc->conf.eject_time_max, conf->eject_time_max);
	WRITE_ONCE(svc->conf.eject_pct, conf->eject_pct);
	WRITE_ONCE(svc->conf.eject, conf->eject);
}

/*
 * New settings for @svc: what they need is prepared (hooks, a snapshot for
 * a new scheduler), then published at once for the connect path.
 */
int svs_service_edit(struct svs_net *sn, struct svs_service *svc,
		     const struct svs_svc_conf *conf,
		     struct netlink_ext_ack *extack)
{
	struct svs_dtable *dt = NULL, *old_dt = NULL;
	struct svs_svc_conf old = svc->conf;
	int err;

	err = svs_hooks_get(&old, conf, extack);
	if (err)
		return err;
	if (conf->sched != old.sched) {
		dt = svs_dtable_build(svc, conf->sched, NULL, NULL, NULL);
		if (IS_ERR(dt)) {
			NL_SET_ERR_MSG(extack, "out of memory building the scheduler table");
			svs_hooks_put(conf, &old);
			return PTR_ERR(dt);
		}
	}
	svs_publish_begin(sn);
	if (dt)
		old_dt = rcu_replace_pointer(svc->dt, dt, true);
	svs_service_conf_set(svc, conf);
	svs_publish_end(sn);
	svs_dtable_retire(old_dt);
	if (!conf->eject && old.eject)
		svs_eject_reset(svc);	/* every server back */
	svs_hooks_put(&old, conf);
	svs_table_changed(sn);
	return 0;
}

static void svs_dest_free(struct svs_dest *dest)
{
	svs_stats_free(&dest->stats);
	kfree(dest->shard_conns);
	kmem_cache_free(svs_dest_cache, dest);
}

static void svs_dest_free_rcu(struct rcu_head *head)
{
	struct svs_dest *dest = container_of(head, struct svs_dest, rcu);

	/* Its records ended, and what they counted with them (conn.c). */
	WARN_ON_ONCE(atomic_read(&dest->active_conns) || atomic_read(&dest->inact_conns));
	svs_dest_free(dest);
}

/*
 * The last reference (the service's list, or a balanced socket's) gone:
 * off the namespace's list now, freed after a grace period (the connect
 * path may still be reading it from an old snapshot).  Any context.
 */
void svs_dest_put(struct svs_dest *dest)
{
	struct svs_net *sn = dest->sn;

	if (!refcount_dec_and_test(&dest->refcnt))
		return;
	spin_lock_bh(&sn->dests_lock);
	list_del(&dest->net_node);
	spin_unlock_bh(&sn->dests_lock);
	WARN_ON_ONCE(!list_empty(&dest->conns));
	call_rcu(&dest->rcu, svs_dest_free_rcu);
}

static void svs_service_free_rcu(struct rcu_head *head)
{
	struct svs_service *svc = container_of(head, struct svs_service, rcu);

	svs_dtable_free(rcu_dereference_protected(svc->dt, true));
	svs_skip_put(rcu_dereference_protected(svc->skip, true));
	svs_stats_free(&svc->stats);
	kmem_cache_free(svs_service_cache, svc);
}

/*
 * @dest, deleted, gives up its service's reference: to @doomed (the
 * caller terminates its sockets) if the service's policy covers its
 * protocol, else now.
 */
void svs_dest_retire(struct svs_service *svc, struct svs_dest *dest,
		     struct list_head *doomed)
{
	if (doomed && svs_terminate_needed(svc, svc->conf.terminate)) {
		dest->doom = svc->conf.terminate;
		list_add_tail(&dest->list, doomed);
		return;
	}
	svs_dest_put(dest);
}

/*
 * @svc leaves the tables, its servers with it (with @doomed, those whose
 * sockets are to be terminated go there); freed after a grace period.
 * The generation is the caller's business (a transaction moves it once).
 */
void svs_service_remove(struct svs_net *sn, struct svs_service *svc,
			struct list_head *doomed)
{
	struct svs_dest *d, *tmp;

	svs_service_unhash(sn, svc);
	svs_hooks_put(&svc->conf, NULL);
	/*
	 * The servers' memory outlives readers of the old snapshot (freed
	 * after a grace period from their last put), so their references
	 * go now, while the namespace's state certainly exists.
	 */
	list_for_each_entry_safe(d, tmp, &svc->dests, list) {
		list_del(&d->list);
		WRITE_ONCE(d->removed, true);	/* its templates go (persist.c) */
		svs_dest_retire(svc, d, doomed);
	}
	call_rcu(&svc->rcu, svs_service_free_rcu);
}

/* With @doomed, the servers whose sockets are to be terminated go there. */
void svs_service_del(struct svs_net *sn, struct svs_service *svc,
		     struct list_head *doomed)
{
	svs_service_remove(sn, svc, doomed);
	svs_table_changed(sn);
}

void svs_flush(struct svs_net *sn, struct list_head *doomed)
{
	struct svs_service *svc;
	unsigned long id;

	xa_for_each(&sn->by_id, id, svc)
		svs_service_del(sn, svc, doomed);
}

void svs_net_free_tables(struct svs_net *sn)
{
	/* The namespace is going: its sockets are gone (or going). */
	mutex_lock(&sn->lock);
	svs_flush(sn, NULL);
	mutex_unlock(&sn->lock);
	rhashtable_destroy(&sn->ht);
	xa_destroy(&sn->by_id);
	/* Servers still waiting for a grace period keep it a little longer. */
	svs_stats_pool_release(sn->stats);
}

struct svs_dest *svs_dest_find(struct svs_service *svc,
			       const union nf_inet_addr *addr, __be16 port)
{
	struct svs_dest *d;

	list_for_each_entry(d, &svc->dests, list)
		if (d->port == port && nf_inet_addr_cmp(&d->addr, addr))
			return d;
	return NULL;
}

/* @d's settings become @c (read without the lock: persist.c, schedulers). */
void svs_dest_set_conf(struct svs_dest *d, const struct svs_dest_conf *c)
{
	WRITE_ONCE(d->weight, c->weight);
	WRITE_ONCE(d->live.u_thresh, c->u_thresh);
	WRITE_ONCE(d->live.l_thresh, c->l_thresh);
	d->ipvs = c->ipvs;
}

/*
 * A real server of @svc, on the namespace's list but not in @svc's (nor
 * in any snapshot): the caller links it, or puts it.
 */
struct svs_dest *svs_dest_new(struct svs_net *sn, struct svs_service *svc,
			      const union nf_inet_addr *addr, __be16 port,
			      const struct svs_dest_conf *conf,
			      struct netlink_ext_ack *extack)
{
	struct svs_dest *d;

	d = kmem_cache_zalloc(svs_dest_cache, GFP_KERNEL_ACCOUNT);
	if (!d) {
		NL_SET_ERR_MSG(extack, "out of memory for the real server");
		return ERR_PTR(-ENOMEM);
	}
	d->addr = *addr;
	d->port = port;
	d->svc = svc;
	d->shards = conf->shards;
	if (svs_stats_init(sn->stats, &d->stats)) {
		NL_SET_ERR_MSG(extack, "out of memory for the real server's counters");
		kmem_cache_free(svs_dest_cache, d);
		return ERR_PTR(-ENOMEM);
	}
	if (d->shards > 1) {
		d->shard_conns = svs_alloc_shard_conns(d->shards);
		if (!d->shard_conns) {
			NL_SET_ERR_MSG(extack, "out of memory for the shard counters");
			svs_stats_free(&d->stats);
			kmem_cache_free(svs_dest_cache, d);
			return ERR_PTR(-ENOMEM);
		}
	}
	svs_dest_set_conf(d, conf);
	refcount_set(&d->refcnt, 1);
	spin_lock_init(&d->conns_lock);
	INIT_LIST_HEAD(&d->conns);
	INIT_LIST_HEAD(&d->list);
	d->sn = sn;
	spin_lock_bh(&sn->dests_lock);
	d->net_id = sn->next_dest_id++;
	list_add_tail(&d->net_node, &sn->dests);
	spin_unlock_bh(&sn->dests_lock);
	return d;
}

int svs_dest_add(struct svs_net *sn, struct svs_service *svc, const union nf_inet_addr *addr,
		 __be16 port, const struct svs_dest_conf *conf,
		 struct netlink_ext_ack *extack)
{
	struct svs_dest *d;
	int err;

	if (svs_dest_find(svc, addr, port)) {
		NL_SET_ERR_MSG(extack, "real server already exists");
		return -EEXIST;
	}
	if (svc->num_dests >= svs_limit_dests(sn)) {
		if (sn->userns)
			NL_SET_ERR_MSG(extack,
				       "too many real servers for a namespace owned by a user namespace (userns_max_dests, max_dests)");
		else
			NL_SET_ERR_MSG(extack, "too many real servers (max_dests)");
		return -ENOSPC;
	}
	d = svs_dest_new(sn, svc, addr, port, conf, extack);
	if (IS_ERR(d))
		return PTR_ERR(d);
	list_add_tail(&d->list, &svc->dests);
	svc->num_dests++;
	err = svs_republish(svc, svc->conf.sched, NULL, extack);
	if (err) {
		list_del(&d->list);
		svc->num_dests--;
		svs_dest_put(d);
		return err;
	}
	svs_table_changed(sn);
	return 0;
}

/* The new weight and thresholds are published with the new snapshot. */
int svs_dest_edit(struct svs_service *svc, struct svs_dest *dest,
		  const struct svs_dest_conf *conf,
		  struct netlink_ext_ack *extack)
{
	struct svs_net *sn = dest->sn;
	struct svs_dtable *dt, *old;

	if (conf->shards != dest->shards) {
		NL_SET_ERR_MSG(extack, "shards of a real server cannot change (delete, add)");
		return -EINVAL;
	}
	dt = svs_dtable_build(svc, svc->conf.sched, NULL, dest, conf);
	if (IS_ERR(dt)) {
		NL_SET_ERR_MSG(extack, "out of memory building the scheduler table");
		return PTR_ERR(dt);
	}
	svs_publish_begin(sn);
	old = rcu_replace_pointer(svc->dt, dt, true);
	svs_dest_set_conf(dest, conf);
	svs_publish_end(sn);
	svs_dtable_retire(old);
	svs_table_changed(sn);
	return 0;
}

int svs_dest_del(struct svs_service *svc, struct svs_dest *dest,
		 struct netlink_ext_ack *extack, struct list_head *doomed)
{
	int err;

	err = svs_republish(svc, svc->conf.sched, dest, extack);
	if (err)
		return err;
	list_del(&dest->list);
	svc->num_dests--;
	WRITE_ONCE(dest->removed, true);	/* its templates go (persist.c) */
	svs_eject_forget(svc, dest);
	svs_table_changed(dest->sn);
	svs_dest_retire(svc, dest, doomed);
	return 0;
}

void svs_zero_service(struct svs_service *svc)
{
	struct svs_dest *d;

	svs_stats_zero(&svc->stats);
	list_for_each_entry(d, &svc->dests, list)
		svs_stats_zero(&d->stats);
}
