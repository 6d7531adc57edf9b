// SPDX-License-Identifier: GPL-2.0
/*
 * Persistence templates (ipvsadm's -p).
 *
 * A template says: this client of this service goes to this real server.
 * The client is the service's hash key of the connect (the process by
 * default; SOCK_VS_HASH_NETNS: every socket of the namespace, what -p
 * means on a client host).  Templates of a namespace live in one
 * rhashtable keyed by (service id, client kind, client): RCU lookups and
 * per-bucket locks on the connect path, nothing host-wide.
 *
 * References (refs): the table's one while the template is in it, one per
 * balanced socket whose current connect used it (its peer record, conn.c).
 * The template expires "timeout" after the last such socket ended: each
 * peer that lets go stamps expires first, so refs == 1 (the table's only)
 * with expires in the past is an expired template.  A template whose real
 * server was deleted, quiesced or is overloaded is dropped when a connect
 * finds it (it schedules anew and makes another) and by the sweep, which
 * runs every second while a namespace has templates, and at once after a
 * configuration change that deletes or quiesces servers.  A template out
 * of the table (dead) serves nobody; it is freed after its last peer, a
 * grace period later.
 *
 * Memory: a slab cache with SLAB_ACCOUNT, allocated GFP_NOWAIT on the
 * connect path (charged to the connecting task's memory cgroup); at most
 * max_templates per namespace: beyond, a connect is balanced without one.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cgroup.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/rhashtable.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>
#include <net/inet_sock.h>
#include <net/netlink.h>

#include "sock_vs.h"

static unsigned int svs_max_templates __read_mostly = 65536;
module_param_named(max_templates, svs_max_templates, uint, 0644);
MODULE_PARM_DESC(max_templates, "Maximum persistence templates per network namespace (default 65536)");

static struct kmem_cache *svs_tmpl_cache __read_mostly;

struct svs_tmpl {
	struct rhash_head node;		/* svs_net.tmpl_ht */
	struct svs_tmpl_key key;
	struct svs_dest *dest;		/* holds a reference */
	struct svs_net *sn;
	atomic_t refs;
	unsigned long dead;		/* bit 0: out of the table */
	unsigned long timeout;		/* jiffies */
	unsigned long expires;		/* jiffies; meaningful when refs == 1 */
	struct rcu_head rcu;
};

static const struct rhashtable_params svs_tmpl_params = {
	.head_offset = offsetof(struct svs_tmpl, node),
	.key_offset = offsetof(struct svs_tmpl, key),
	.key_len = sizeof(struct svs_tmpl_key),
	.automatic_shrinking = true,
};

u32 svs_persist_limit(void)
{
	return READ_ONCE(svs_max_templates);
}

/*
 * What identifies the client of this connect for @svc: the value its hash
 * key names, raw (the listing shows it).  SOCK_VS_HASH_LOCAL on a socket
 * that is not bound is the process, as for sh/mh.
 */
static void svs_persist_key(struct sock *sk, const struct svs_service *svc,
			    u8 hash_key, u64 hash, struct svs_tmpl_key *key)
{
	memset(key, 0, sizeof(*key));
	key->svc_id = svc->id;
	key->kind = hash_key;
	switch (key->kind) {
	case SOCK_VS_HASH_LOCAL:
		if (inet_sk(sk)->inet_num) {
			key->client = hash;
			return;
		}
		key->kind = SOCK_VS_HASH_TGID;
		break;
	case SOCK_VS_HASH_CGROUP:
		key->client = cgroup_id(sock_cgroup_ptr(&sk->sk_cgrp_data));
		return;
	case SOCK_VS_HASH_NETNS:
		return;
	}
	key->client = current->tgid;
}

static void svs_tmpl_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(svs_tmpl_cache, container_of(head, struct svs_tmpl, rcu));
}

static void svs_tmpl_put(struct svs_tmpl *t)
{
	if (!atomic_dec_and_test(&t->refs))
		return;
	svs_dest_put(t->dest);
	call_rcu(&t->rcu, svs_tmpl_free_rcu);
}

/* Out of the table (once): nobody finds it any more. */
static void svs_tmpl_unhash(struct svs_tmpl *t)
{
	if (test_and_set_bit(0, &t->dead))
		return;
	rhashtable_remove_fast(&t->sn->tmpl_ht, &t->node, svs_tmpl_params);
	atomic_dec(&t->sn->num_tmpl);
	svs_tmpl_put(t);
}

struct svs_dest *svs_persist_dest(const struct svs_tmpl *t)
{
	return t->dest;
}

/* A connection that used @t ended (conn.c): it may start to expire. */
void svs_persist_release(struct svs_tmpl *t)
{
	WRITE_ONCE(t->expires, jiffies + t->timeout);
	smp_mb__before_atomic();	/* the stamp before the reference goes */
	svs_tmpl_put(t);
}

/* New connections may go to @dest (weight, overload, still configured). */
static bool svs_dest_usable(const struct svs_dest *dest)
{
	return !READ_ONCE(dest->removed) && READ_ONCE(dest->weight) &&
	       !atomic_read(&dest->live.overloaded);
}

static bool svs_tmpl_expired(struct svs_tmpl *t)
{
	if (atomic_read(&t->refs) != 1)
		return false;
	smp_rmb();	/* refs before the stamp its last peer wrote */
	return time_after_eq(jiffies, READ_ONCE(t->expires));
}

/*
 * The template of this connect's client, with a reference for its peer,
 * or NULL (none, or one that had to go: its server takes no new
 * connections).  RCU.  @key is filled for svs_persist_create().  @hash_key:
 * the service's, as the connect read its settings (svs_svc_view()).
 */
struct svs_tmpl *svs_persist_get(struct svs_net *sn, struct sock *sk,
				 const struct svs_service *svc, u8 hash_key,
				 u64 hash, struct svs_tmpl_key *key)
{
	struct svs_tmpl *t;

	svs_persist_key(sk, svc, hash_key, hash, key);
	if (!atomic_read(&sn->num_tmpl))
		return NULL;
	t = rhashtable_lookup(&sn->tmpl_ht, key, svs_tmpl_params);
	if (!t || test_bit(0, &t->dead))
		return NULL;
	if (!svs_dest_usable(t->dest) || svs_tmpl_expired(t)) {
		svs_tmpl_unhash(t);
		return NULL;
	}
	if (!atomic_inc_not_zero(&t->refs))
		return NULL;
	if (test_bit(0, &t->dead)) {
		svs_persist_release(t);
		return NULL;
	}
	return t;
}

/*
 * A template for a client just scheduled to @dest, with a reference for
 * its peer, or NULL (limit, no memory, another connect of the client made
 * one meanwhile): the connect goes on without.  RCU, any context.
 * @timeout: the service's persistence (s), as the connect read it.
 */
struct svs_tmpl *svs_persist_create(struct svs_net *sn, u32 timeout,
				    struct svs_dest *dest,
				    const struct svs_tmpl_key *key)
{
	struct svs_tmpl *t;

	if (!timeout)
		return NULL;
	if (atomic_inc_return(&sn->num_tmpl) > svs_persist_limit())
		goto full;
	t = kmem_cache_alloc(svs_tmpl_cache, GFP_NOWAIT | __GFP_NOWARN | __GFP_ACCOUNT);
	if (!t)
		goto full;
	t->key = *key;
	t->sn = sn;
	t->dead = 0;
	t->timeout = (unsigned long)timeout * HZ;
	t->expires = jiffies + t->timeout;
	atomic_set(&t->refs, 2);	/* the table's, the peer's */
	if (!refcount_inc_not_zero(&dest->refcnt))
		goto free;
	t->dest = dest;
	if (rhashtable_lookup_insert_fast(&sn->tmpl_ht, &t->node, svs_tmpl_params)) {
		svs_dest_put(dest);
		goto free;
	}
	if (!delayed_work_pending(&sn->tmpl_gc))
		queue_delayed_work(system_power_efficient_wq, &sn->tmpl_gc, HZ);
	return t;
free:
	kmem_cache_free(svs_tmpl_cache, t);
full:
	atomic_dec(&sn->num_tmpl);
	return NULL;
}

/*
 * Drop the templates that expired, whose server takes no new connections,
 * or whose service is gone or no longer persistent (@all: every one, the
 * namespace is going).  Process context, no lock.
 */
static void svs_persist_sweep(struct svs_net *sn, bool all)
{
	struct rhashtable_iter iter;
	struct svs_service *svc;
	struct svs_tmpl *t;

	rhashtable_walk_enter(&sn->tmpl_ht, &iter);
	rhashtable_walk_start(&iter);
	while ((t = rhashtable_walk_next(&iter))) {
		if (IS_ERR(t)) {
			if (PTR_ERR(t) == -EAGAIN)
				continue;
			break;
		}
		if (!all) {
			svc = xa_load(&sn->by_id, t->key.svc_id);
			if (svc && READ_ONCE(svc->conf.persist) &&
			    svs_dest_usable(t->dest) && !svs_tmpl_expired(t))
				continue;
		}
		svs_tmpl_unhash(t);
	}
	rhashtable_walk_stop(&iter);
	rhashtable_walk_exit(&iter);
}

static void svs_persist_gc(struct work_struct *work)
{
	struct svs_net *sn = container_of(to_delayed_work(work), struct svs_net,
					  tmpl_gc);

	svs_persist_sweep(sn, false);
	if (atomic_read(&sn->num_tmpl))
		queue_delayed_work(system_power_efficient_wq, &sn->tmpl_gc, HZ);
}

/* After a change that may have deleted or quiesced servers, or a service. */
void svs_persist_changed(struct svs_net *sn)
{
	if (atomic_read(&sn->num_tmpl))
		svs_persist_sweep(sn, false);
}

int svs_persist_net_init(struct svs_net *sn)
{
	atomic_set(&sn->num_tmpl, 0);
	INIT_DELAYED_WORK(&sn->tmpl_gc, svs_persist_gc);
	return rhashtable_init(&sn->tmpl_ht, &svs_tmpl_params);
}

/* The namespace's sockets were handed back (their templates let go). */
void svs_persist_net_exit(struct svs_net *sn)
{
	cancel_delayed_work_sync(&sn->tmpl_gc);
	svs_persist_sweep(sn, true);
	/* A sweep racing the last queue_delayed_work() of a connect. */
	cancel_delayed_work_sync(&sn->tmpl_gc);
	WARN_ON_ONCE(atomic_read(&sn->num_tmpl));
	rhashtable_destroy(&sn->tmpl_ht);
}

/* The SOCK_VS_CMD_GET_TEMPLATE dump: a table walk kept across rounds. */

static int svs_tmpl_fill(struct sk_buff *skb, const struct svs_tmpl *t,
			 const struct svs_service *svc, u32 portid, u32 seq)
{
	int alen = svc->key.af == AF_INET ? sizeof(struct in_addr) :
					    sizeof(struct in6_addr);
	int refs = atomic_read(&t->refs);
	long left = 0;
	struct nlattr *nest;
	void *hdr;

	if (refs > 1)
		left = t->timeout;
	else if (time_before(jiffies, READ_ONCE(t->expires)))
		left = READ_ONCE(t->expires) - jiffies;
	hdr = svs_genl_put(skb, portid, seq, NLM_F_MULTI, SOCK_VS_CMD_GET_TEMPLATE);
	if (!hdr)
		return -EMSGSIZE;
	nest = nla_nest_start(skb, SOCK_VS_ATTR_TEMPLATE);
	if (!nest)
		goto cancel;
	if (nla_put_u16(skb, SOCK_VS_TMPL_ATTR_AF, svc->key.af) ||
	    nla_put_u16(skb, SOCK_VS_TMPL_ATTR_PROTOCOL, svc->key.protocol) ||
	    nla_put(skb, SOCK_VS_TMPL_ATTR_VADDR, alen, &svc->key.addr) ||
	    nla_put_u16(skb, SOCK_VS_TMPL_ATTR_VPORT, ntohs(svc->key.port)) ||
	    nla_put(skb, SOCK_VS_TMPL_ATTR_DADDR, alen, &t->dest->addr) ||
	    nla_put_u16(skb, SOCK_VS_TMPL_ATTR_DPORT, ntohs(t->dest->port)) ||
	    nla_put_u8(skb, SOCK_VS_TMPL_ATTR_CLIENT_KIND, t->key.kind) ||
	    nla_put_u64_64bit(skb, SOCK_VS_TMPL_ATTR_CLIENT, t->key.client,
			      SOCK_VS_TMPL_ATTR_PAD) ||
	    nla_put_u32(skb, SOCK_VS_TMPL_ATTR_CONNS, refs > 1 ? refs - 1 : 0) ||
	    nla_put_u32(skb, SOCK_VS_TMPL_ATTR_EXPIRES,
			DIV_ROUND_UP((unsigned long)left, HZ)))
		goto cancel;
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

int svs_persist_dump_start(struct netlink_callback *cb)
{
	struct svs_net *sn = svs_net(sock_net(cb->skb->sk));
	struct rhashtable_iter *iter;

	iter = kmalloc(sizeof(*iter), GFP_KERNEL_ACCOUNT);
	if (!iter)
		return -ENOMEM;
	rhashtable_walk_enter(&sn->tmpl_ht, iter);
	cb->args[0] = (long)iter;
	return 0;
}

/*
 * A resize of the table during the dump restarts the walk (-EAGAIN), so a
 * template may then be listed twice; the listing's readers keep the first.
 */
int svs_persist_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct rhashtable_iter *iter = (struct rhashtable_iter *)cb->args[0];
	struct svs_net *sn = svs_net(sock_net(skb->sk));
	u32 portid = NETLINK_CB(cb->skb).portid;
	struct svs_service *svc;
	struct svs_tmpl *t;

	rhashtable_walk_start(iter);
	while ((t = rhashtable_walk_peek(iter))) {
		if (IS_ERR(t)) {
			if (PTR_ERR(t) == -EAGAIN) {
				rhashtable_walk_next(iter);
				continue;
			}
			break;
		}
		svc = xa_load(&sn->by_id, t->key.svc_id);
		if (!test_bit(0, &t->dead) && svc && !svs_tmpl_expired(t) &&
		    svs_tmpl_fill(skb, t, svc, portid, cb->nlh->nlmsg_seq))
			break;	/* full: this one first in the next round */
		rhashtable_walk_next(iter);
	}
	rhashtable_walk_stop(iter);
	return skb->len;
}

int svs_persist_dump_done(struct netlink_callback *cb)
{
	struct rhashtable_iter *iter = (struct rhashtable_iter *)cb->args[0];

	if (iter) {
		rhashtable_walk_exit(iter);
		kfree(iter);
	}
	return 0;
}

int svs_persist_init(void)
{
	svs_tmpl_cache = KMEM_CACHE(svs_tmpl, SLAB_ACCOUNT);
	return svs_tmpl_cache ? 0 : -ENOMEM;
}

/* After every namespace's exit and an RCU barrier. */
void svs_persist_exit(void)
{
	kmem_cache_destroy(svs_tmpl_cache);
}
