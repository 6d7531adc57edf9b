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
 *
 * A record also keeps what the application connected to (the virtual
 * address and port), the real server, and the process that connected, for
 * getpeername() (peername.c) and the connection listing
 * (SOCK_VS_CMD_GET_CONN).  Records are freed after an RCU grace period, so
 * getpeername() reads them under RCU without the lock; the listing walks
 * svs_conn_list under the lock, which it never drops while it fills a
 * message (nothing there sleeps).  The list is ordered by record id, the
 * dump's cursor.
 */
#include <linux/rhashtable.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <net/genetlink.h>
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
	u64 id;				/* order on svs_conn_list */
	union nf_inet_addr vaddr;	/* virtual address connected to */
	union nf_inet_addr daddr;	/* the real server's */
	__be16 vport;
	__be16 dport;
	u8 af;				/* the service's family */
	u8 protocol;
	bool virt_peer;			/* getpeername() returns vaddr:vport */
	u32 pid;			/* tgid that connected */
	char comm[TASK_COMM_LEN];
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
static u64 svs_conn_next_id;		/* under svs_conn_lock */
atomic64_t svs_untracked_total = ATOMIC64_INIT(0);

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

/*
 * A balanced socket goes without a record (it still connects to @dest):
 * counted in the server, its service and module-wide.
 */
static void svs_conn_untracked(struct svs_service *svc, struct svs_dest *dest)
{
	atomic64_inc(&dest->stats.untracked);
	atomic64_inc(&svc->stats.untracked);
	atomic64_inc(&svs_untracked_total);
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
 * The connect hook scheduled @sk, connecting to the virtual service @svc,
 * to @dest, on @shard if @dest is sharded (else -1).  @virt_peer: whether
 * getpeername() should return the virtual address.  @svc and @dest are
 * RCU-protected: we may race with their deletion.  Called under
 * rcu_read_lock(), so it must not sleep.  A socket that cannot be
 * recorded (no memory, @dest deleted meanwhile) still connects to @dest
 * but is counted as untracked instead.
 */
void svs_conn_track(struct sock *sk, struct svs_service *svc,
		    struct svs_dest *dest, int shard, bool virt_peer)
{
	struct svs_dest *old = NULL;
	struct svs_conn *conn, *fresh = NULL;
	svs_destruct_t cur = READ_ONCE(sk->sk_destruct);
	char comm[TASK_COMM_LEN];

	get_task_comm(comm, current);

	if (cur != svs_sk_destruct) {
		fresh = kmem_cache_zalloc(svs_conn_cache, GFP_NOWAIT |
					  __GFP_NOWARN | __GFP_ACCOUNT);
		if (!fresh) {
			svs_conn_untracked(svc, dest);
			return;
		}
	}
	if (!refcount_inc_not_zero(&dest->refcnt)) {
		if (fresh)
			kmem_cache_free(svs_conn_cache, fresh);
		svs_conn_untracked(svc, dest);
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
			svs_conn_untracked(svc, dest);
			svs_dest_put(dest);
			return;
		}
		conn->sk = sk;
		conn->orig = cur;
	}
	conn->dest = dest;
	conn->shard = dest->shard_conns ? shard : -1;
	conn->id = ++svs_conn_next_id;
	conn->af = svc->key.af;
	conn->protocol = svc->key.protocol;
	conn->vaddr = svc->key.addr;
	conn->vport = svc->key.port;
	conn->daddr = dest->addr;
	conn->dport = dest->port;
	WRITE_ONCE(conn->virt_peer, virt_peer);
	conn->pid = current->tgid;
	memcpy(conn->comm, comm, sizeof(comm));
	if (rhashtable_insert_fast(&svs_conns, &conn->node, svs_conn_params)) {
		/* No memory for the table: the socket goes untracked. */
		WRITE_ONCE(sk->sk_destruct, conn->orig);
		spin_unlock_bh(&svs_conn_lock);
		svs_conn_untracked(svc, dest);
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

/* Whether @sk may have a record (a cheap test before a lookup). */
bool svs_conn_maybe_tracked(const struct sock *sk)
{
	return READ_ONCE(sk->sk_destruct) == svs_sk_destruct;
}

/*
 * getpeername() on @sk filled @uaddr (peername.c calls this after
 * inet_getname() or inet6_getname() returned).  If @sk is balanced, its
 * service wants the virtual address shown, and @uaddr still names the real
 * server the record has (the socket did not move since), put the virtual
 * address and port there instead.  Any context: reads the record under RCU.
 */
void svs_conn_peername(struct sock *sk, struct sockaddr *uaddr)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)uaddr;
	struct sockaddr_in *sin = (struct sockaddr_in *)uaddr;
	struct svs_conn *conn;

	if (!svs_conn_maybe_tracked(sk))
		return;
	rcu_read_lock();
	conn = rhashtable_lookup(&svs_conns, &sk, svs_conn_params);
	if (!conn || !READ_ONCE(conn->virt_peer))
		goto out;
	if (uaddr->sa_family == AF_INET && conn->af == AF_INET) {
		if (sin->sin_addr.s_addr != conn->daddr.ip ||
		    sin->sin_port != conn->dport)
			goto out;
		sin->sin_addr.s_addr = conn->vaddr.ip;
		sin->sin_port = conn->vport;
	} else if (uaddr->sa_family == AF_INET6) {
		if (sin6->sin6_port != conn->dport)
			goto out;
		if (conn->af == AF_INET6) {
			if (!ipv6_addr_equal(&sin6->sin6_addr, &conn->daddr.in6))
				goto out;
			sin6->sin6_addr = conn->vaddr.in6;
		} else {
			/* An IPv6 socket balanced by an IPv4 service. */
			if (!ipv6_addr_v4mapped(&sin6->sin6_addr) ||
			    sin6->sin6_addr.s6_addr32[3] != conn->daddr.ip)
				goto out;
			ipv6_addr_set_v4mapped(conn->vaddr.ip, &sin6->sin6_addr);
		}
		sin6->sin6_port = conn->vport;
		sin6->sin6_scope_id = 0;
	}
out:
	rcu_read_unlock();
}

/* One SOCK_VS_CMD_GET_CONN message; caller holds svs_conn_lock. */
static int svs_conn_fill(struct sk_buff *skb, const struct svs_conn *conn,
			 u32 portid, u32 seq)
{
	const struct sock *sk = conn->sk;
	const struct inet_sock *inet = inet_sk(sk);
	int alen = conn->af == AF_INET ? sizeof(struct in_addr) :
					 sizeof(struct in6_addr);
	union nf_inet_addr laddr;
	struct nlattr *nest;
	void *hdr;

	memset(&laddr, 0, sizeof(laddr));
	if (conn->af == AF_INET) {
		laddr.ip = READ_ONCE(inet->inet_saddr);
	} else {
		const struct ipv6_pinfo *np = inet6_sk(sk);

		laddr.in6 = sk->sk_v6_rcv_saddr;
		if (ipv6_addr_any(&laddr.in6) && np)
			laddr.in6 = np->saddr;
	}
	hdr = svs_genl_put(skb, portid, seq, NLM_F_MULTI, SOCK_VS_CMD_GET_CONN);
	if (!hdr)
		return -EMSGSIZE;
	nest = nla_nest_start(skb, SOCK_VS_ATTR_CONN);
	if (!nest)
		goto cancel;
	if (nla_put_u16(skb, SOCK_VS_CONN_ATTR_AF, conn->af) ||
	    nla_put_u16(skb, SOCK_VS_CONN_ATTR_PROTOCOL, conn->protocol) ||
	    nla_put(skb, SOCK_VS_CONN_ATTR_LADDR, alen, &laddr) ||
	    nla_put_u16(skb, SOCK_VS_CONN_ATTR_LPORT,
			ntohs(READ_ONCE(inet->inet_sport))) ||
	    nla_put(skb, SOCK_VS_CONN_ATTR_VADDR, alen, &conn->vaddr) ||
	    nla_put_u16(skb, SOCK_VS_CONN_ATTR_VPORT, ntohs(conn->vport)) ||
	    nla_put(skb, SOCK_VS_CONN_ATTR_DADDR, alen, &conn->daddr) ||
	    nla_put_u16(skb, SOCK_VS_CONN_ATTR_DPORT, ntohs(conn->dport)) ||
	    (conn->shard >= 0 &&
	     nla_put_u32(skb, SOCK_VS_CONN_ATTR_SHARD, conn->shard)) ||
	    nla_put_u8(skb, SOCK_VS_CONN_ATTR_STATE, READ_ONCE(sk->sk_state)) ||
	    nla_put_u32(skb, SOCK_VS_CONN_ATTR_PID, conn->pid) ||
	    nla_put_string(skb, SOCK_VS_CONN_ATTR_COMM, conn->comm))
		goto cancel;
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/*
 * SOCK_VS_CMD_GET_CONN dump: the balanced sockets of the requester's
 * namespace, in record order.  cb->args[0] is the id of the last one sent.
 */
int svs_conn_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	const struct net *net = sock_net(skb->sk);
	u32 portid = NETLINK_CB(cb->skb).portid;
	u64 cursor = (u64)cb->args[0];
	struct svs_conn *conn;

	spin_lock_bh(&svs_conn_lock);
	list_for_each_entry(conn, &svs_conn_list, all) {
		if (conn->id <= cursor || !net_eq(sock_net(conn->sk), net))
			continue;
		if (svs_conn_fill(skb, conn, portid, cb->nlh->nlmsg_seq))
			break;
		cb->args[0] = (long)conn->id;
	}
	spin_unlock_bh(&svs_conn_lock);
	return skb->len;
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

	svs_conn_cache = KMEM_CACHE(svs_conn, SLAB_ACCOUNT);
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
