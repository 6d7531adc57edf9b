// SPDX-License-Identifier: GPL-2.0
/*
 * Connection tracking: which real server each balanced socket went to, for
 * as long as the socket exists.
 *
 * When the connect hook schedules a socket it records a struct svs_conn
 * (socket -> real server, and the socket's own destructor) and points
 * sk->sk_destruct at svs_sk_destruct().  That drops the record and calls
 * the original destructor, so the end of a socket is never missed,
 * whatever path frees it (close, reset, process exit).  A kprobe would not
 * do: kprobes are skipped when they nest.
 *
 * A TCP socket that listens after a failed balanced connect is handed back
 * first (hook.c), or its accepted children would inherit our destructor
 * without a record; should that ever happen anyway, svs_sk_destruct()
 * falls back to the TCP destructor of the socket's family.
 *
 * All bookkeeping (the sk -> conn table, each real server's list, the
 * destructor swaps) happens under svs_conn_lock, a BH-safe spinlock, so a
 * socket found on a list is alive while the lock is held.
 *
 * Unload restores the family destructor of every tracked socket, then waits
 * for RCU and RCU-tasks grace periods so that no CPU is still inside
 * svs_sk_destruct().
 */
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <net/inet_common.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "sock_vs.h"

typedef void (*svs_destruct_t)(struct sock *sk);

struct svs_conn {
	struct rhash_head node;		/* svs_conns, keyed by sk */
	struct sock *sk;
	struct hlist_node dnode;	/* dest->conns */
	struct list_head all;		/* svs_conn_list */
	struct svs_dest *dest;		/* holds a reference */
	int shard;			/* of a sharded dest, else -1 */
	svs_destruct_t orig;		/* the socket's own destructor */
	struct rcu_head rcu;
};

static const struct rhashtable_params svs_conn_params = {
	.head_offset = offsetof(struct svs_conn, node),
	.key_offset = offsetof(struct svs_conn, sk),
	.key_len = sizeof(struct sock *),
	.automatic_shrinking = true,
};

static struct kmem_cache *svs_conn_cache __read_mostly;
static struct rhashtable svs_conns;
static LIST_HEAD(svs_conn_list);
static DEFINE_SPINLOCK(svs_conn_lock);

/* What TCP sockets of @sk's family use (for an accepted child). */
static svs_destruct_t svs_tcp_destruct(const struct sock *sk)
{
	return sk->sk_family == AF_INET6 ? inet6_sock_destruct :
					   inet_sock_destruct;
}

static void svs_conn_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(svs_conn_cache, container_of(head, struct svs_conn, rcu));
}

static void svs_conn_free(struct svs_conn *conn)
{
	call_rcu(&conn->rcu, svs_conn_free_rcu);
}

/* Forget @conn; caller holds svs_conn_lock.  Returns the dest to put. */
static struct svs_dest *svs_conn_unlink(struct svs_conn *conn)
{
	struct svs_dest *dest = conn->dest;

	rhashtable_remove_fast(&svs_conns, &conn->node, svs_conn_params);
	hlist_del(&conn->dnode);
	list_del(&conn->all);
	atomic_dec(&dest->live.conns);
	if (conn->shard >= 0)
		atomic_dec(&dest->shard_conns[conn->shard]);
	return dest;
}

/* After svs_conn_unlink() and the unlock: drop what the record held. */
static void svs_conn_release(struct svs_conn *conn, struct svs_dest *dest)
{
	svs_dest_put(dest);
	svs_conn_free(conn);
}

static void svs_sk_destruct(struct sock *sk)
{
	struct svs_dest *dest = NULL;
	struct svs_conn *conn;
	svs_destruct_t orig;

	spin_lock_bh(&svs_conn_lock);
	conn = rhashtable_lookup_fast(&svs_conns, &sk, svs_conn_params);
	if (conn) {
		dest = svs_conn_unlink(conn);
		orig = conn->orig;
	} else {
		/* Handed back meanwhile (unload), or an accepted child. */
		orig = READ_ONCE(sk->sk_destruct);
		if (orig == svs_sk_destruct)
			orig = svs_tcp_destruct(sk);
	}
	WRITE_ONCE(sk->sk_destruct, orig);
	spin_unlock_bh(&svs_conn_lock);

	if (conn)
		svs_conn_release(conn, dest);
	if (orig)
		orig(sk);
}

/*
 * The connect hook scheduled @sk to @dest, on @shard if @dest is sharded
 * (else -1).  @dest is RCU-protected: we may race with its deletion.
 * Atomic context.
 */
void svs_conn_track(struct sock *sk, struct svs_dest *dest, int shard)
{
	struct svs_dest *old = NULL;
	struct svs_conn *conn, *fresh = NULL;
	svs_destruct_t cur = READ_ONCE(sk->sk_destruct);

	if (cur != svs_sk_destruct) {
		fresh = kmem_cache_zalloc(svs_conn_cache, GFP_ATOMIC);
		if (!fresh)
			return;
	}
	if (!refcount_inc_not_zero(&dest->refcnt)) {
		if (fresh)
			kmem_cache_free(svs_conn_cache, fresh);
		return;
	}

	spin_lock_bh(&svs_conn_lock);
	conn = rhashtable_lookup_fast(&svs_conns, &sk, svs_conn_params);
	if (conn) {
		/* A reconnect: move the record. */
		old = svs_conn_unlink(conn);
	} else {
		conn = fresh;
		fresh = NULL;
		if (!conn) {
			/* Our destructor without a record: not ours to track. */
			spin_unlock_bh(&svs_conn_lock);
			svs_dest_put(dest);
			return;
		}
		conn->sk = sk;
		conn->orig = cur;
	}
	conn->dest = dest;
	conn->shard = dest->shard_conns ? shard : -1;
	if (rhashtable_insert_fast(&svs_conns, &conn->node, svs_conn_params)) {
		/* No memory for the table: the socket goes untracked. */
		WRITE_ONCE(sk->sk_destruct, conn->orig);
		spin_unlock_bh(&svs_conn_lock);
		svs_conn_release(conn, dest);
		goto out;
	}
	hlist_add_head(&conn->dnode, &dest->conns);
	list_add_tail(&conn->all, &svs_conn_list);
	/* IPVS marks a server overloaded when a connection reaches the limit. */
	if (atomic_inc_return(&dest->live.conns) >= READ_ONCE(dest->live.u_thresh) &&
	    READ_ONCE(dest->live.u_thresh))
		atomic_set(&dest->live.overloaded, 1);
	if (conn->shard >= 0)
		atomic_inc(&dest->shard_conns[conn->shard]);
	WRITE_ONCE(sk->sk_destruct, svs_sk_destruct);
	spin_unlock_bh(&svs_conn_lock);
out:
	if (old)
		svs_dest_put(old);
	if (fresh)
		kmem_cache_free(svs_conn_cache, fresh);
}

/* @sk connects somewhere that is not a virtual service, or listens. */
void svs_conn_untrack(struct sock *sk)
{
	struct svs_dest *dest = NULL;
	struct svs_conn *conn;

	if (READ_ONCE(sk->sk_destruct) != svs_sk_destruct)
		return;
	spin_lock_bh(&svs_conn_lock);
	conn = rhashtable_lookup_fast(&svs_conns, &sk, svs_conn_params);
	if (conn) {
		dest = svs_conn_unlink(conn);
		WRITE_ONCE(sk->sk_destruct, conn->orig);
	}
	spin_unlock_bh(&svs_conn_lock);
	if (conn)
		svs_conn_release(conn, dest);
}

/* Established and other open sockets scheduled to @dest. */
void svs_conn_count(struct svs_dest *dest, u32 *active, u32 *inactive)
{
	struct svs_conn *conn;

	*active = 0;
	*inactive = 0;
	spin_lock_bh(&svs_conn_lock);
	hlist_for_each_entry(conn, &dest->conns, dnode) {
		switch (READ_ONCE(conn->sk->sk_state)) {
		case TCP_ESTABLISHED:
			(*active)++;
			break;
		case TCP_CLOSE:
			break;	/* failed or reset: no longer a connection */
		default:
			(*inactive)++;
			break;
		}
	}
	spin_unlock_bh(&svs_conn_lock);
}

int svs_conn_init(void)
{
	int err;

	svs_conn_cache = KMEM_CACHE(svs_conn, 0);
	if (!svs_conn_cache)
		return -ENOMEM;
	err = rhashtable_init(&svs_conns, &svs_conn_params);
	if (err)
		kmem_cache_destroy(svs_conn_cache);
	return err;
}

/* After rcu_barrier(): a leaked record shows up as a slab error here. */
void svs_conn_destroy_cache(void)
{
	kmem_cache_destroy(svs_conn_cache);
}

/* Module unload, after the hooks are gone: give every socket back. */
void svs_conn_exit(void)
{
	struct svs_conn *conn;
	struct svs_dest *dest;

	spin_lock_bh(&svs_conn_lock);
	while (!list_empty(&svs_conn_list)) {
		conn = list_first_entry(&svs_conn_list, struct svs_conn, all);
		dest = svs_conn_unlink(conn);
		WRITE_ONCE(conn->sk->sk_destruct, conn->orig);
		spin_unlock_bh(&svs_conn_lock);
		svs_conn_release(conn, dest);
		cond_resched();
		spin_lock_bh(&svs_conn_lock);
	}
	spin_unlock_bh(&svs_conn_lock);
	/* No CPU may still be in, or about to enter, svs_sk_destruct(). */
	synchronize_rcu();
	synchronize_rcu_tasks();
	rhashtable_destroy(&svs_conns);
}
