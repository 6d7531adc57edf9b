// SPDX-License-Identifier: GPL-2.0
/*
 * Virtual services and real servers of one network namespace.
 *
 * All functions here run in process context with svs_net->lock held.  The
 * connect path never takes that lock: it looks services up in an
 * rhashtable under RCU and reads each service's current svs_dtable, a
 * snapshot rebuilt and republished after every change.
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

static void svs_dtable_free(struct svs_dtable *dt)
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

/* A snapshot of @svc's real servers (except @skip) for scheduler @sched. */
static struct svs_dtable *svs_dtable_build(struct svs_service *svc,
					   const struct svs_sched_ops *sched,
					   const struct svs_dest *skip)
{
	u32 n = svc->num_dests - (skip ? 1 : 0);
	struct svs_sched_build b;
	struct svs_dtable *dt;
	struct svs_dest *d;
	u32 i = 0;
	int err;

	dt = svs_alloc_dtable(struct_size(dt, dest, n) +
			      n * (sizeof(u64) + sizeof(void *) + sizeof(u32)));
	if (!dt)
		return ERR_PTR(-ENOMEM);
	dt->id = (u64 *)&dt->dest[n];
	dt->live = (struct svs_sched_live **)&dt->id[n];
	dt->weight = (u32 *)&dt->live[n];
	list_for_each_entry(d, &svc->dests, list) {
		if (d == skip)
			continue;
		dt->dest[i] = d;
		dt->weight[i] = d->weight;
		dt->id[i] = svs_sched_dest_id((const u8 *)&d->addr, ntohs(d->port));
		dt->live[i] = &d->live;
		dt->sharded |= d->shards > 1;
		i++;
	}
	dt->n = n;
	b.n = n;
	b.weight = dt->weight;
	b.id = dt->id;
	err = sched->build(&b, &dt->priv);
	if (err) {
		kfree(dt);
		return ERR_PTR(err);
	}
	dt->sched = sched;
	return dt;
}

static void svs_dtable_install(struct svs_service *svc, struct svs_dtable *dt)
{
	struct svs_dtable *old;

	old = rcu_replace_pointer(svc->dt, dt, true);
	if (old)
		call_rcu(&old->rcu, svs_dtable_free_rcu);
}

/* Rebuild and publish the snapshot; on failure nothing changes. */
static int svs_republish(struct svs_service *svc,
			 const struct svs_sched_ops *sched,
			 const struct svs_dest *skip,
			 struct netlink_ext_ack *extack)
{
	struct svs_dtable *dt = svs_dtable_build(svc, sched, skip);

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
	svc = kmem_cache_zalloc(svs_service_cache, GFP_KERNEL_ACCOUNT);
	if (!svc) {
		NL_SET_ERR_MSG(extack, "out of memory for the service");
		return -ENOMEM;
	}
	svc->key = *key;
	svc->conf = *conf;
	RCU_INIT_POINTER(svc->skip, skip);
	INIT_LIST_HEAD(&svc->dests);
	atomic64_set(&svc->seq, 0);
	if (svs_stats_init(sn->stats, &svc->stats)) {
		NL_SET_ERR_MSG(extack, "out of memory for the service's counters");
		err = -ENOMEM;
		goto free;
	}

	err = svs_republish(svc, conf->sched, NULL, extack);
	if (err)
		goto free;
	if (conf->flags & SOCK_VS_SVC_F_UNCONNECTED) {
		err = svs_unconn_get(extack);
		if (err)
			goto free_dt;
	}
	if (svs_eject_needed(conf)) {
		err = svs_eject_get(extack);
		if (err)
			goto put_unconn;
	}

	err = xa_alloc_cyclic(&sn->by_id, &svc->id, svc, xa_limit_32b,
			      &sn->next_id, GFP_KERNEL_ACCOUNT);
	if (err < 0) {
		if (err == -EBUSY)
			NL_SET_ERR_MSG(extack, "out of service identifiers");
		else
			NL_SET_ERR_MSG(extack, "out of memory for the service identifier");
		goto put_eject;
	}
	err = rhashtable_lookup_insert_fast(&sn->ht, &svc->node, svs_ht_params);
	if (err) {
		if (err == -EEXIST)
			NL_SET_ERR_MSG(extack, "service already exists");
		else
			NL_SET_ERR_MSG(extack, "out of memory for the service hash table");
		xa_erase(&sn->by_id, svc->id);
		goto put_eject;
	}
	sn->num_services++;
	atomic_inc(&svs_services_total);
	return 0;

put_eject:
	if (svs_eject_needed(conf))
		svs_eject_put();
put_unconn:
	if (conf->flags & SOCK_VS_SVC_F_UNCONNECTED)
		svs_unconn_put();
free_dt:
	svs_dtable_free(rcu_dereference_protected(svc->dt, true));
free:
	svs_stats_free(&svc->stats);
	kmem_cache_free(svs_service_cache, svc);
	return err;
}

int svs_service_edit(struct svs_net *sn, struct svs_service *svc,
		     const struct svs_svc_conf *conf,
		     struct netlink_ext_ack *extack)
{
	u32 uc_old = svc->conf.flags & SOCK_VS_SVC_F_UNCONNECTED;
	u32 uc_new = conf->flags & SOCK_VS_SVC_F_UNCONNECTED;
	bool tp_old = svs_eject_needed(&svc->conf), tp_new = svs_eject_needed(conf);
	int err;

	if (uc_new && !uc_old) {
		err = svs_unconn_get(extack);
		if (err)
			return err;
	}
	if (tp_new && !tp_old) {
		err = svs_eject_get(extack);
		if (err)
			goto put_unconn;
	}
	if (conf->sched != svc->conf.sched) {
		err = svs_republish(svc, conf->sched, NULL, extack);
		if (err) {
			if (tp_new && !tp_old)
				svs_eject_put();
			goto put_unconn;
		}
	}
	if (uc_old && !uc_new)
		svs_unconn_put();
	if (!conf->eject && svc->conf.eject) {
		WRITE_ONCE(svc->conf.eject, 0);
		svs_eject_reset(svc);	/* every server back */
	}
	if (tp_old && !tp_new)
		svs_eject_put();
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
	return 0;

put_unconn:
	if (uc_new && !uc_old)
		svs_unconn_put();
	return err;
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
static void svs_dest_retire(struct svs_service *svc, struct svs_dest *dest,
			    struct list_head *doomed)
{
	if (doomed && svs_terminate_needed(svc, svc->conf.terminate)) {
		dest->doom = svc->conf.terminate;
		list_add_tail(&dest->list, doomed);
		return;
	}
	svs_dest_put(dest);
}

/* With @doomed, the servers whose sockets are to be terminated go there. */
void svs_service_del(struct svs_net *sn, struct svs_service *svc,
		     struct list_head *doomed)
{
	struct svs_dest *d, *tmp;

	rhashtable_remove_fast(&sn->ht, &svc->node, svs_ht_params);
	xa_erase(&sn->by_id, svc->id);
	if (svc->conf.flags & SOCK_VS_SVC_F_UNCONNECTED)
		svs_unconn_put();
	if (svs_eject_needed(&svc->conf))
		svs_eject_put();
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
	sn->num_services--;
	atomic_dec(&svs_services_total);
	call_rcu(&svc->rcu, svs_service_free_rcu);
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

static void svs_dest_set_conf(struct svs_dest *d, const struct svs_dest_conf *c)
{
	WRITE_ONCE(d->weight, c->weight);
	WRITE_ONCE(d->live.u_thresh, c->u_thresh);
	WRITE_ONCE(d->live.l_thresh, c->l_thresh);
	d->ipvs = c->ipvs;
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
	d = kmem_cache_zalloc(svs_dest_cache, GFP_KERNEL_ACCOUNT);
	if (!d) {
		NL_SET_ERR_MSG(extack, "out of memory for the real server");
		return -ENOMEM;
	}
	d->addr = *addr;
	d->port = port;
	d->svc = svc;
	d->shards = conf->shards;
	if (svs_stats_init(sn->stats, &d->stats)) {
		NL_SET_ERR_MSG(extack, "out of memory for the real server's counters");
		kmem_cache_free(svs_dest_cache, d);
		return -ENOMEM;
	}
	if (d->shards > 1) {
		d->shard_conns = svs_alloc_shard_conns(d->shards);
		if (!d->shard_conns) {
			NL_SET_ERR_MSG(extack, "out of memory for the shard counters");
			svs_stats_free(&d->stats);
			kmem_cache_free(svs_dest_cache, d);
			return -ENOMEM;
		}
	}
	svs_dest_set_conf(d, conf);
	refcount_set(&d->refcnt, 1);
	spin_lock_init(&d->conns_lock);
	INIT_LIST_HEAD(&d->conns);
	d->sn = sn;
	spin_lock_bh(&sn->dests_lock);
	d->net_id = sn->next_dest_id++;
	list_add_tail(&d->net_node, &sn->dests);
	spin_unlock_bh(&sn->dests_lock);

	list_add_tail(&d->list, &svc->dests);
	svc->num_dests++;
	err = svs_republish(svc, svc->conf.sched, NULL, extack);
	if (err) {
		list_del(&d->list);
		svc->num_dests--;
		svs_dest_put(d);
	}
	return err;
}

int svs_dest_edit(struct svs_service *svc, struct svs_dest *dest,
		  const struct svs_dest_conf *conf,
		  struct netlink_ext_ack *extack)
{
	u32 old = dest->weight;
	int err;

	if (conf->shards != dest->shards) {
		NL_SET_ERR_MSG(extack, "shards of a real server cannot change (delete, add)");
		return -EINVAL;
	}
	/* Read without the lock by persistence (persist.c). */
	WRITE_ONCE(dest->weight, conf->weight);
	err = svs_republish(svc, svc->conf.sched, NULL, extack);
	if (err) {
		WRITE_ONCE(dest->weight, old);
		return err;
	}
	svs_dest_set_conf(dest, conf);
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
