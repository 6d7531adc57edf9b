// SPDX-License-Identifier: GPL-2.0
/*
 * Per-socket state of balanced sockets.
 *
 * A socket the connect hook balanced gets a struct svs_conn, whose first
 * member is a copy of the socket's operations (sock->ops: inet_stream_ops,
 * inet6_stream_ops, inet_dgram_ops or inet6_dgram_ops) with a few entries
 * replaced by ours; sock->ops points at it for as long as the socket is
 * balanced.  So only balanced sockets ever call into the module after
 * connect, the record is found from the socket without a table, and
 * nothing here takes a lock shared by the host:
 *
 *   getname      getpeername() returns the virtual address (peername.c)
 *   recvmsg      UDP: recvfrom() reports the virtual address (peername.c)
 *   connect      UDP: after a reconnect or disconnect, the counts follow
 *   release      close(): the record ends, counts drop, sock->ops restored
 *   listen       hand the socket back first (accepted children copy
 *                sock->ops from their listener)
 *   setsockopt   hand the socket back before TCP_ULP and IPV6_ADDRFORM,
 *                the two options that make the kernel replace sock->ops
 *                (kTLS, espintcp, SMC copy the current table as their base)
 *
 * sock_vs never touches sk->sk_destruct, sk->sk_prot or any other field
 * other subsystems chain through.
 *
 * Each balanced connect makes a struct svs_peer (the real server it went
 * to, the virtual address, who connected), published in conn->peer with
 * RCU: a reconnect publishes a new one and frees the old after a grace
 * period, so getpeername() never sees a mix.  The first one is part of
 * the record (one allocation for a socket's usual single connect); a
 * reconnect that cannot get one hands the socket back.  The peer sits on its
 * real server's list (dest->conns: RCU readers, the server's own lock for
 * the writers, who add at the tail and unlink their own node), which gives
 * the connection listing; ActiveConn/InActConn are two counters of the
 * server that the records keep as their sockets change state (below,
 * "ActiveConn and InActConn"; sockstate.c).  A list
 * rather than an index: adding and removing cost a few stores (an xarray's
 * allocation search and marks cost about 0.7 us per connect under QEMU,
 * bench/README.md), and the listing resumes from a cursor node it leaves
 * in the list between rounds.
 *
 * Who ends a record: whoever swaps sock->ops back from &conn->ops with
 * cmpxchg() (release, listen, setsockopt, a reconnect to a non-virtual
 * address, or unload).  Records ended by release are freed after an RCU
 * grace period (nobody else can call through the socket's operations once
 * its file is being released); the others after an RCU-tasks grace period
 * (another thread may have read sock->ops just before the swap and be
 * about to call through it).
 *
 * Unload (svs_conn_net_exit() per namespace, then svs_conn_exit()): every
 * record is ended and its socket gets its own operations back; blocked
 * receivers in our recvmsg are woken and restart their system call on the
 * kernel's operations; then RCU-tasks and SRCU (svs_sock_srcu, held by
 * every operation of ours while it runs) grace periods make sure no CPU is
 * still in, or about to enter, the module's text.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/in6.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <net/genetlink.h>
#include <net/inet_common.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/tcp.h>
#include <net/tcp_states.h>
#include <net/transp_v6.h>

#include "sock_vs.h"

static struct kmem_cache *svs_conn_cache __read_mostly;
static struct kmem_cache *svs_peer_cache __read_mostly;
atomic64_t svs_untracked_total = ATOMIC64_INIT(0);
DEFINE_SRCU(svs_sock_srcu);
bool svs_unloading;

/*
 * The operations tables we know how to wrap: inet(6)_stream_ops and
 * inet(6)_dgram_ops (the IPv6 ones are not exported: recognised by their
 * exported entries).
 */
static bool svs_known_ops(const struct proto_ops *ops)
{
	return (ops->release == inet_release && ops->getname == inet_getname) ||
	       (ops->release == inet6_release && ops->getname == inet6_getname);
}

/* Whether @sk is balanced (a cheap test: the connect hook's fast path). */
bool svs_conn_maybe_tracked(const struct sock *sk)
{
	const struct socket *sock = READ_ONCE(sk->sk_socket);

	return sock && READ_ONCE(sock->ops)->release == svs_sock_release;
}

/*
 * A balanced socket goes without a record (it still connects to @dest):
 * counted in the server, its service and module-wide.
 */
void svs_conn_untracked(struct svs_service *svc, struct svs_dest *dest)
{
	svs_stat_inc(&dest->stats, SVS_STAT_UNTRACKED);
	svs_stat_inc(&svc->stats, SVS_STAT_UNTRACKED);
	atomic64_inc(&svs_untracked_total);
}

/*
 * ActiveConn and InActConn.
 *
 * Each record counts its socket in one class on its real server
 * (dest->active_conns, dest->inact_conns), and keeps which one in
 * peer->counted: ESTABLISHED is active, CLOSE none, every other state
 * inactive (SYN_SENT, CLOSE_WAIT, FIN_WAIT*, ...); connected UDP is
 * ESTABLISHED, disconnected or never connected UDP CLOSE; an unconnected
 * binding (unconn.c) is none.  A listing reads the two numbers.
 *
 * Who writes peer->counted, and when:
 *
 *   - the record's creation (svs_conn_track(): the connect hook, with the
 *     socket locked by its owner), before the record can be found: the
 *     class of the socket's state then (CLOSE, for TCP), counted;
 *   - a state change of its socket (svs_peer_set_state()), found through
 *     the socket's operations: TCP's tracepoint (sockstate.c), the UDP
 *     connect and disconnect (svs_conn_sync_state()), a UDP sock_diag
 *     abort (sockstate.c's error tracepoint).  All of them run
 *     with the socket locked (owner or bh_lock_sock()), so they are
 *     serialised with each other and with the creation and replacement of
 *     the socket's records, which the connect hook does under lock_sock();
 *   - the record's end (svs_peer_uncount(), from svs_peer_drop(): close,
 *     a reconnect replacing it, listen, setsockopt, termination, unload),
 *     which does not hold the socket's lock and so can race with a state
 *     change (a FIN or RST arriving in softirq while close() runs on
 *     another CPU).  It swaps SVS_CLS_ENDED in and subtracts what was
 *     counted; a state change moves the class with a compare-and-exchange
 *     that fails once the record ended, and does nothing then.
 *
 * So exactly one party takes a class away (the change that replaces it, or
 * the end), and what the record counted is subtracted exactly once, when
 * it ends: the counters cannot drift.  A state change adds the new class
 * before it publishes it (the fully ordered cmpxchg) and takes the old one
 * away after, and the end subtracts only what it found published: neither
 * counter goes below 0, not even for a moment.  A listing running while a
 * socket changes state may see it in both columns, or (two reads) in
 * neither, for that moment.  The record's memory and its server outlive
 * any state change that found it (RCU: the tracepoint runs with preemption
 * off, the others under rcu_read_lock(); records and servers are freed
 * after grace periods).
 */
enum svs_cls {
	SVS_CLS_NONE,
	SVS_CLS_ACTIVE,
	SVS_CLS_INACTIVE,
	SVS_CLS_ENDED,		/* the record ended: counts nothing, for good */
};

static int svs_state_class(int state)
{
	switch (state) {
	case TCP_ESTABLISHED:
		return SVS_CLS_ACTIVE;
	case TCP_CLOSE:
		return SVS_CLS_NONE;	/* failed, reset or done: no connection */
	default:
		return SVS_CLS_INACTIVE;
	}
}

static atomic_t *svs_cls_counter(struct svs_dest *dest, int cls)
{
	return cls == SVS_CLS_ACTIVE ? &dest->active_conns : &dest->inact_conns;
}

/* A new record, before anyone can find it: it counts @state's class. */
static void svs_peer_count_init(struct svs_peer *peer, int state)
{
	int cls = svs_state_class(state);

	if (cls != SVS_CLS_NONE)
		atomic_inc(svs_cls_counter(peer->dest, cls));
	atomic_set(&peer->counted, cls);
}

/*
 * @peer's socket is now in @state (about to be, for the tracepoint).  The
 * socket is locked; RCU.
 */
void svs_peer_set_state(struct svs_peer *peer, int state)
{
	int cls = svs_state_class(state), old = atomic_read(&peer->counted);
	struct svs_dest *dest = peer->dest;

	while (old != cls && old != SVS_CLS_ENDED) {
		if (cls != SVS_CLS_NONE)
			atomic_inc(svs_cls_counter(dest, cls));
		if (atomic_try_cmpxchg(&peer->counted, &old, cls)) {
			if (old != SVS_CLS_NONE)
				atomic_dec(svs_cls_counter(dest, old));
			return;
		}
		/* Ended meanwhile (old is SVS_CLS_ENDED now): take it back. */
		if (cls != SVS_CLS_NONE)
			atomic_dec(svs_cls_counter(dest, cls));
	}
}

/* @peer ends: what it counted goes, once. */
static void svs_peer_uncount(struct svs_peer *peer)
{
	int old = atomic_xchg(&peer->counted, SVS_CLS_ENDED);

	if (old == SVS_CLS_ACTIVE || old == SVS_CLS_INACTIVE)
		atomic_dec(svs_cls_counter(peer->dest, old));
}

/*
 * The state of @sk, a UDP socket, may have changed: its connect (the
 * connect hook's wrapper, after the kernel's) or disconnect (our connect
 * entry).  UDP has no state tracepoint; these are the only places its
 * state changes but for a sock_diag abort (sockstate.c sees that one).
 * @sk is locked.
 */
void svs_conn_sync_state(struct sock *sk)
{
	struct socket *sock = READ_ONCE(sk->sk_socket);
	struct svs_peer *peer;
	struct svs_conn *conn;

	if (!sock)
		return;
	rcu_read_lock();
	conn = svs_conn_of_ops(READ_ONCE(sock->ops));
	peer = conn ? rcu_dereference(conn->peer) : NULL;
	if (peer && peer->sk == sk)
		svs_peer_set_state(peer, READ_ONCE(sk->sk_state));
	rcu_read_unlock();
}

static void svs_peer_free_rcu(struct rcu_head *head)
{
	kmem_cache_free(svs_peer_cache, container_of(head, struct svs_peer, rcu));
}

/* Whether @peer is its record's own (freed with the record). */
static bool svs_peer_embedded(const struct svs_peer *peer)
{
	return peer == &peer->conn->first;
}

/*
 * @peer no longer describes its socket: out of its server, counts down.
 * An embedded peer is freed with its record, which always ends (or is
 * kept forever) after its peers were dropped, so after their readers.
 */
static void svs_peer_drop(struct svs_peer *peer)
{
	struct svs_dest *dest = peer->dest;

	svs_peer_uncount(peer);
	spin_lock(&dest->conns_lock);
	list_del_rcu(&peer->node);
	spin_unlock(&dest->conns_lock);
	atomic_dec(&dest->live.conns);
	if (peer->shard >= 0)
		atomic_dec(&dest->shard_conns[peer->shard]);
	if (peer->tmpl)
		svs_persist_release(peer->tmpl);
	svs_dest_put(dest);
	if (!svs_peer_embedded(peer))
		call_rcu(&peer->rcu, svs_peer_free_rcu);
}

/*
 * Unload found @peer on a socket whose operations are no longer ours (code
 * sock_vs does not know replaced them): end the record's bookkeeping; the
 * record itself stays, as something may still call through it.
 */
static void svs_peer_forget(struct svs_peer *peer)
{
	struct svs_conn *conn = peer->conn;
	struct svs_uc *uc;
	bool mine = false;
	u32 i;

	spin_lock_bh(&conn->lock);
	conn->dead = true;
	if (rcu_access_pointer(conn->peer) == peer) {
		RCU_INIT_POINTER(conn->peer, NULL);
		mine = true;
	}
	uc = rcu_dereference_protected(conn->uc, lockdep_is_held(&conn->lock));
	for (i = 0; !mine && uc && i < uc->n; i++) {
		if (uc->peer[i] == peer) {
			uc->peer[i] = NULL;	/* the last reader is unload */
			mine = true;
		}
	}
	spin_unlock_bh(&conn->lock);
	if (mine) {
		pr_warn_once("a balanced socket's operations were replaced by other code; its record is kept\n");
		svs_peer_drop(peer);
	}
}

static bool svs_view_rewrite(const struct svs_peer_view *v, struct sockaddr *uaddr);

/* The bindings of @uc (out of their record) end; @uc goes after readers. */
static void svs_uc_drop(struct svs_uc *uc)
{
	u32 i;

	for (i = 0; i < uc->n; i++)
		if (uc->peer[i])
			svs_peer_drop(uc->peer[i]);
	kfree_rcu(uc, rcu);
}

static void svs_conn_free_rcu(struct rcu_head *head)
{
	struct svs_conn *conn = container_of(head, struct svs_conn, rcu);

	sock_put(conn->sk);
	kmem_cache_free(svs_conn_cache, conn);
}

/* A record that never became the socket's (it holds no reference). */
static void svs_conn_unused_rcu(struct rcu_head *head)
{
	kmem_cache_free(svs_conn_cache, container_of(head, struct svs_conn, rcu));
}

/* An RCU-tasks grace period does not imply an RCU one: chain them. */
static void svs_conn_free_tasks(struct rcu_head *head)
{
	call_rcu(head, svs_conn_free_rcu);
}

/*
 * End @conn if it still is @sock's: give the socket its operations back,
 * drop its peer.  @others: other threads may be calling through
 * sock->ops (everything but release), so free after RCU-tasks.
 * Returns whether we ended it.
 */
static bool svs_conn_end(struct socket *sock, struct svs_conn *conn,
			 bool others)
{
	struct svs_peer *peer;
	struct svs_uc *uc;

	if (cmpxchg(&sock->ops, &conn->ops, conn->orig) != &conn->ops)
		return false;
	spin_lock_bh(&conn->lock);
	conn->dead = true;
	peer = rcu_dereference_protected(conn->peer, lockdep_is_held(&conn->lock));
	RCU_INIT_POINTER(conn->peer, NULL);
	uc = rcu_dereference_protected(conn->uc, lockdep_is_held(&conn->lock));
	RCU_INIT_POINTER(conn->uc, NULL);
	spin_unlock_bh(&conn->lock);
	if (peer)
		svs_peer_drop(peer);
	if (uc)
		svs_uc_drop(uc);
	if (others)
		call_rcu_tasks(&conn->rcu, svs_conn_free_tasks);
	else
		call_rcu(&conn->rcu, svs_conn_free_rcu);
	return true;
}

/* The operations of ours: each one runs inside svs_sock_srcu. */

int svs_sock_release(struct socket *sock)
{
	const struct proto_ops *orig;
	struct svs_conn *conn;
	int idx, ret;

	idx = srcu_read_lock(&svs_sock_srcu);
	rcu_read_lock();
	conn = svs_conn_of_ops(READ_ONCE(sock->ops));
	orig = conn ? conn->orig : READ_ONCE(sock->ops);
	if (conn)
		svs_conn_end(sock, conn, false);
	rcu_read_unlock();
	ret = orig->release(sock);
	srcu_read_unlock(&svs_sock_srcu, idx);
	return ret;
}

/*
 * @sock's own operations (the kernel's, whether or not @sock is balanced);
 * with @before, also a copy of its current peer record.
 */
const struct proto_ops *svs_conn_orig_ops(struct socket *sock,
					  struct svs_peer_view *before)
{
	const struct proto_ops *ops;
	struct svs_conn *conn;

	rcu_read_lock();
	ops = READ_ONCE(sock->ops);
	conn = svs_conn_of_ops(ops);
	if (conn)
		ops = conn->orig;
	if (before) {
		before->valid = false;
		before->seq = 0;
		if (conn)
			svs_conn_view(conn, before);
	}
	rcu_read_unlock();
	return ops;
}

/* Hand @sock back now; returns its own operations. */
static const struct proto_ops *svs_sock_handback(struct socket *sock)
{
	const struct proto_ops *ops;
	struct svs_conn *conn;

	rcu_read_lock();
	ops = READ_ONCE(sock->ops);
	conn = svs_conn_of_ops(ops);
	if (conn) {
		ops = conn->orig;
		svs_conn_end(sock, conn, true);
	}
	rcu_read_unlock();
	return ops;
}

static int svs_sock_listen(struct socket *sock, int backlog)
{
	int idx, ret;

	idx = srcu_read_lock(&svs_sock_srcu);
	ret = svs_sock_handback(sock)->listen(sock, backlog);
	srcu_read_unlock(&svs_sock_srcu, idx);
	return ret;
}

/*
 * UDP's connect(2), on a balanced socket: a reconnect (the connect hook
 * balances it again, or hands the socket back) or a disconnect
 * (AF_UNSPEC, which never reaches the hook); then the record's count
 * follows the socket's state.
 */
static int svs_sock_connect(struct socket *sock, struct sockaddr *uaddr,
			    int addr_len, int flags)
{
	struct sock *sk = sock->sk;
	int idx, ret;

	idx = srcu_read_lock(&svs_sock_srcu);
	ret = svs_conn_orig_ops(sock, NULL)->connect(sock, uaddr, addr_len, flags);
	lock_sock(sk);
	svs_conn_sync_state(sk);
	release_sock(sk);
	srcu_read_unlock(&svs_sock_srcu, idx);
	return ret;
}

static int svs_sock_setsockopt(struct socket *sock, int level, int optname,
			       sockptr_t optval, unsigned int optlen)
{
	const struct proto_ops *ops;
	int idx, ret;

	idx = srcu_read_lock(&svs_sock_srcu);
	if ((level == SOL_TCP && optname == TCP_ULP) ||
	    (level == SOL_IPV6 && optname == IPV6_ADDRFORM)) {
		ops = svs_sock_handback(sock);
	} else {
		ops = svs_conn_orig_ops(sock, NULL);
	}
	ret = ops->setsockopt(sock, level, optname, optval, optlen);
	srcu_read_unlock(&svs_sock_srcu, idx);
	return ret;
}

/*
 * The record's operations: the socket's own, with ours in four entries
 * (six for UDP).
 * Written here once, before the socket can see them, and never again (so
 * the member is const; the writes cast it away).
 */
static void svs_conn_init_ops(struct svs_conn *conn,
			      const struct proto_ops *ops, bool dgram)
{
	memcpy((void *)&conn->ops, ops, sizeof(*ops));
	*(void **)&conn->ops.release = svs_sock_release;
	*(void **)&conn->ops.getname = svs_sock_getname;
	*(void **)&conn->ops.listen = svs_sock_listen;
	*(void **)&conn->ops.setsockopt = svs_sock_setsockopt;
	if (dgram) {
		*(void **)&conn->ops.recvmsg = svs_sock_recvmsg;
		*(void **)&conn->ops.connect = svs_sock_connect;
	}
}

/* What a new peer of @conn records: where it goes, who connected. */
static void svs_peer_fill(struct svs_peer *peer, struct svs_conn *conn,
			  const struct svs_service *svc, const struct svs_dest *dest,
			  int shard)
{
	peer->conn = conn;
	peer->sk = conn->sk;
	peer->shard = shard;
	peer->af = svc->key.af;
	peer->protocol = svc->key.protocol;
	peer->vaddr = svc->key.addr;
	peer->vport = svc->key.port;
	peer->daddr = dest->addr;
	peer->dport = dest->port;
	peer->tmpl = NULL;
	peer->pid = current->tgid;
	/* As /proc/PID/comm reads it: no lock (a rename may be half seen). */
	strscpy_pad(peer->comm, current->comm, sizeof(peer->comm));
}

/* A new record of @sk (whose operations are @ops), not yet the socket's. */
static void svs_conn_prepare(struct svs_conn *conn, struct sock *sk,
			     const struct proto_ops *ops)
{
	svs_conn_init_ops(conn, ops, sk->sk_type == SOCK_DGRAM);
	conn->orig = ops;
	conn->sk = sk;
	spin_lock_init(&conn->lock);
	conn->dead = false;
	conn->seq = 0;
	RCU_INIT_POINTER(conn->peer, NULL);
	RCU_INIT_POINTER(conn->uc, NULL);
	memset(&conn->first, 0, sizeof(conn->first));
}

/*
 * The connect hook balanced @sk, connecting to the virtual service @svc,
 * to @dest, on @shard if @dest is sharded (else -1).  @virt_peer: whether
 * getpeername() should return the virtual address.  Called in the
 * connecting task's context with the socket locked by it, under
 * rcu_read_lock() (@svc and @dest may be being deleted).  A socket that
 * cannot be recorded (no memory, @dest deleted meanwhile, operations we do
 * not know) still connects to @dest but is counted as untracked instead.
 * @tmpl (a reference, or NULL): the persistence template this connect
 * used; the peer holds it, or it is released now.
 */
void svs_conn_track(struct sock *sk, struct svs_service *svc,
		    struct svs_dest *dest, int shard, bool virt_peer,
		    struct svs_tmpl *tmpl)
{
	const gfp_t gfp = GFP_NOWAIT | __GFP_NOWARN | __GFP_ACCOUNT;
	struct socket *sock = sk->sk_socket;
	struct svs_conn *conn, *fresh = NULL;
	const struct proto_ops *ops;
	struct svs_peer *peer, *old;

	if (!sock)
		goto untracked;
	ops = READ_ONCE(sock->ops);
	conn = svs_conn_of_ops(ops);
	if (conn) {
		/* A reconnect: a new peer, or the old one would stay current. */
		peer = kmem_cache_zalloc(svs_peer_cache, gfp);
		if (!peer) {
			svs_sock_handback(sock);
			goto untracked;
		}
	} else {
		if (!svs_known_ops(ops))
			goto untracked;
		fresh = kmem_cache_alloc(svs_conn_cache, gfp);
		if (!fresh)
			goto untracked;
		svs_conn_prepare(fresh, sk, ops);
		conn = fresh;
		peer = &fresh->first;
	}
	svs_peer_fill(peer, conn, svc, dest, dest->shard_conns ? shard : -1);
	peer->virt_peer = virt_peer;
	if (!refcount_inc_not_zero(&dest->refcnt))
		goto free_conn;
	peer->dest = dest;
	peer->tmpl = tmpl;
	tmpl = NULL;
	svs_peer_count_init(peer, READ_ONCE(sk->sk_state));
	spin_lock(&dest->conns_lock);
	list_add_tail_rcu(&peer->node, &dest->conns);
	spin_unlock(&dest->conns_lock);

	atomic_inc(&dest->live.conns);
	if (peer->shard >= 0)
		atomic_inc(&dest->shard_conns[peer->shard]);
	/* IPVS marks a server overloaded when a connection reaches the limit. */
	if (READ_ONCE(dest->live.u_thresh) &&
	    atomic_read(&dest->live.conns) >= READ_ONCE(dest->live.u_thresh))
		atomic_set(&dest->live.overloaded, 1);

	spin_lock_bh(&conn->lock);
	if (conn->dead) {
		/* Handed back meanwhile (by another thread's listen()). */
		spin_unlock_bh(&conn->lock);
		svs_peer_drop(peer);
		svs_conn_untracked(svc, dest);
		return;
	}
	old = rcu_dereference_protected(conn->peer, lockdep_is_held(&conn->lock));
	rcu_assign_pointer(conn->peer, peer);
	WRITE_ONCE(conn->seq, conn->seq + 1);
	spin_unlock_bh(&conn->lock);
	if (old)
		svs_peer_drop(old);
	if (fresh) {
		sock_hold(sk);
		if (cmpxchg(&sock->ops, ops, &fresh->ops) != ops) {
			/*
			 * Someone replaced the operations meanwhile.  The
			 * listing may be reading the peer (in fresh).
			 */
			sock_put(sk);
			svs_peer_drop(peer);
			call_rcu(&fresh->rcu, svs_conn_unused_rcu);
			svs_conn_untracked(svc, dest);
		}
	}
	return;

free_conn:
	if (fresh)
		kmem_cache_free(svs_conn_cache, fresh);
	else
		kmem_cache_free(svs_peer_cache, peer);
untracked:
	if (tmpl)
		svs_persist_release(tmpl);
	svs_conn_untracked(svc, dest);
}

/*
 * Unconnected UDP (unconn.c): @sk's record, a new one (without a peer) if
 * it has none, or NULL (no memory, operations we do not know).  RCU, any
 * context; concurrent senders on one socket may race: one record wins.
 */
struct svs_conn *svs_conn_attach(struct sock *sk)
{
	const gfp_t gfp = GFP_NOWAIT | __GFP_NOWARN | __GFP_ACCOUNT;
	struct socket *sock = sk->sk_socket;
	const struct proto_ops *ops;
	struct svs_conn *conn;

	if (!sock)
		return NULL;
	ops = READ_ONCE(sock->ops);
	conn = svs_conn_of_ops(ops);
	if (conn || !svs_known_ops(ops))
		return conn;
	conn = kmem_cache_alloc(svs_conn_cache, gfp);
	if (!conn)
		return NULL;
	svs_conn_prepare(conn, sk, ops);
	sock_hold(sk);
	if (cmpxchg(&sock->ops, ops, &conn->ops) != ops) {
		sock_put(sk);
		call_rcu(&conn->rcu, svs_conn_unused_rcu);
		return svs_conn_of_ops(READ_ONCE(sock->ops));
	}
	return conn;
}

static bool svs_peer_is_key(const struct svs_peer *peer, const struct svs_key *key)
{
	return peer->af == key->af && peer->vport == key->port &&
	       !memcmp(&peer->vaddr, &key->addr, sizeof(key->addr));
}

/*
 * The real server @conn's socket sends to @key through, if it has a
 * binding whose server is still in its service.  RCU.
 */
bool svs_conn_uc_find(struct svs_conn *conn, const struct svs_key *key,
		      union nf_inet_addr *daddr, __be16 *dport)
{
	const struct svs_uc *uc = rcu_dereference(conn->uc);
	u32 i;

	for (i = 0; uc && i < uc->n; i++) {
		const struct svs_peer *peer = uc->peer[i];

		if (peer && svs_peer_is_key(peer, key) && !READ_ONCE(peer->dest->removed)) {
			*daddr = peer->daddr;
			*dport = peer->dport;
			return true;
		}
	}
	return false;
}

/*
 * Bind @conn's socket to @dest for @svc's virtual address (replacing an
 * older binding for it; past SVS_UC_MAX, the oldest one goes).  RCU, any
 * context.  False: not recorded (no memory, @dest deleted meanwhile).
 */
bool svs_conn_uc_add(struct svs_conn *conn, struct svs_service *svc,
		     struct svs_dest *dest)
{
	const gfp_t gfp = GFP_NOWAIT | __GFP_NOWARN | __GFP_ACCOUNT;
	struct svs_peer *peer, *gone[2] = { NULL, NULL };
	struct svs_uc *old, *uc;
	u32 i, ngone = 0;

	peer = kmem_cache_zalloc(svs_peer_cache, gfp);
	uc = kzalloc(sizeof(*uc), gfp);
	if (!peer || !uc || !refcount_inc_not_zero(&dest->refcnt)) {
		kfree(uc);
		if (peer)
			kmem_cache_free(svs_peer_cache, peer);
		return false;
	}
	svs_peer_fill(peer, conn, svc, dest, -1);
	peer->dest = dest;
	peer->unconn = true;
	atomic_set(&peer->counted, SVS_CLS_NONE);	/* a binding is no connection */
	spin_lock(&dest->conns_lock);
	list_add_tail_rcu(&peer->node, &dest->conns);
	spin_unlock(&dest->conns_lock);
	atomic_inc(&dest->live.conns);

	spin_lock_bh(&conn->lock);
	if (conn->dead) {
		spin_unlock_bh(&conn->lock);
		kfree(uc);
		svs_peer_drop(peer);
		return false;
	}
	old = rcu_dereference_protected(conn->uc, lockdep_is_held(&conn->lock));
	for (i = 0; old && i < old->n; i++) {
		struct svs_peer *p = old->peer[i];

		if (!p)
			continue;
		if (svs_peer_is_key(p, &svc->key) && !ngone)
			gone[ngone++] = p;
		else
			uc->peer[uc->n++] = p;
	}
	if (uc->n == SVS_UC_MAX) {	/* the oldest binding goes */
		gone[ngone++] = uc->peer[0];
		uc->n--;
		memmove(&uc->peer[0], &uc->peer[1], uc->n * sizeof(uc->peer[0]));
	}
	uc->peer[uc->n++] = peer;
	rcu_assign_pointer(conn->uc, uc);
	spin_unlock_bh(&conn->lock);
	for (i = 0; i < ngone; i++)
		svs_peer_drop(gone[i]);
	if (old)
		kfree_rcu(old, rcu);
	return true;
}

/* recvfrom() on @conn's socket: a datagram from a bound server, from its VIP. */
void svs_conn_uc_recv(struct svs_conn *conn, struct sockaddr *uaddr)
{
	const struct svs_uc *uc = rcu_dereference(conn->uc);
	struct svs_peer_view v;
	u32 i;

	for (i = 0; uc && i < uc->n; i++) {
		const struct svs_peer *peer = uc->peer[i];

		if (!peer)
			continue;
		v.valid = true;
		v.af = peer->af;
		v.vaddr = peer->vaddr;
		v.daddr = peer->daddr;
		v.vport = peer->vport;
		v.dport = peer->dport;
		if (svs_view_rewrite(&v, uaddr))
			return;
	}
}

/*
 * End @conn, @sock's record (terminate.c, with the socket locked): other
 * threads may be calling through its operations.
 */
bool svs_conn_end_sock(struct socket *sock, struct svs_conn *conn)
{
	return svs_conn_end(sock, conn, true);
}

/* @sk connects somewhere that is not a virtual service: hand it back. */
void svs_conn_untrack(struct sock *sk)
{
	struct socket *sock = sk->sk_socket;

	if (sock && svs_conn_maybe_tracked(sk))
		svs_sock_handback(sock);
}

/* A copy of what @conn's current peer record says, for a rewrite; RCU. */
void svs_conn_view(struct svs_conn *conn, struct svs_peer_view *v)
{
	const struct svs_peer *peer = rcu_dereference(conn->peer);

	v->seq = READ_ONCE(conn->seq);
	v->valid = peer && peer->virt_peer;
	if (!v->valid)
		return;
	v->af = peer->af;
	v->vaddr = peer->vaddr;
	v->daddr = peer->daddr;
	v->vport = peer->vport;
	v->dport = peer->dport;
}

/*
 * How many peer records @sock's record has published (0 if not balanced):
 * a getpeername() that saw the same count before and after the kernel's
 * getname knows the current record describes what the kernel answered.
 */
u32 svs_conn_seq(struct socket *sock)
{
	struct svs_conn *conn;
	u32 seq = 0;

	rcu_read_lock();
	conn = svs_conn_of_ops(READ_ONCE(sock->ops));
	if (conn)
		seq = READ_ONCE(conn->seq);
	rcu_read_unlock();
	return seq;
}

/* If @uaddr names @v's real server, put its virtual address there. */
static bool svs_view_rewrite(const struct svs_peer_view *v, struct sockaddr *uaddr)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)uaddr;
	struct sockaddr_in *sin = (struct sockaddr_in *)uaddr;

	if (!v->valid)
		return false;
	if (uaddr->sa_family == AF_INET && v->af == AF_INET) {
		if (sin->sin_addr.s_addr != v->daddr.ip || sin->sin_port != v->dport)
			return false;
		sin->sin_addr.s_addr = v->vaddr.ip;
		sin->sin_port = v->vport;
		return true;
	}
	if (uaddr->sa_family != AF_INET6 || sin6->sin6_port != v->dport)
		return false;
	if (v->af == AF_INET6) {
		if (!ipv6_addr_equal(&sin6->sin6_addr, &v->daddr.in6))
			return false;
		sin6->sin6_addr = v->vaddr.in6;
	} else {
		/* An IPv6 socket balanced by an IPv4 service. */
		if (!ipv6_addr_v4mapped(&sin6->sin6_addr) ||
		    sin6->sin6_addr.s6_addr32[3] != v->daddr.ip)
			return false;
		ipv6_addr_set_v4mapped(v->vaddr.ip, &sin6->sin6_addr);
	}
	sin6->sin6_port = v->vport;
	sin6->sin6_scope_id = 0;
	return true;
}

/*
 * getpeername() or recvfrom() on the socket of @conn wrote @uaddr (the
 * kernel's copy).  If the service wants the virtual address shown and
 * @uaddr names the real server of the socket's current peer record, or of
 * the one @before copied when the call started (a reconnect may have
 * published a new one meanwhile, as the call does not hold the socket's
 * lock when it returns), put that record's virtual address and port there
 * instead.  Under rcu_read_lock().
 */
void svs_conn_peername(struct svs_conn *conn, const struct svs_peer_view *before,
		       struct sockaddr *uaddr)
{
	struct svs_peer_view now;

	svs_conn_view(conn, &now);
	if (!svs_view_rewrite(&now, uaddr) && before)
		svs_view_rewrite(before, uaddr);
}

/* One SOCK_VS_CMD_GET_CONN message; under rcu_read_lock(). */
static int svs_conn_fill(struct sk_buff *skb, const struct svs_peer *peer,
			 u32 portid, u32 seq)
{
	const struct sock *sk = peer->sk;
	const struct inet_sock *inet = inet_sk(sk);
	int alen = peer->af == AF_INET ? sizeof(struct in_addr) :
					 sizeof(struct in6_addr);
	union nf_inet_addr laddr;
	struct nlattr *nest;
	void *hdr;

	memset(&laddr, 0, sizeof(laddr));
	if (peer->af == AF_INET) {
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
	if (nla_put_u16(skb, SOCK_VS_CONN_ATTR_AF, peer->af) ||
	    nla_put_u16(skb, SOCK_VS_CONN_ATTR_PROTOCOL, peer->protocol) ||
	    nla_put(skb, SOCK_VS_CONN_ATTR_LADDR, alen, &laddr) ||
	    nla_put_u16(skb, SOCK_VS_CONN_ATTR_LPORT,
			ntohs(READ_ONCE(inet->inet_sport))) ||
	    nla_put(skb, SOCK_VS_CONN_ATTR_VADDR, alen, &peer->vaddr) ||
	    nla_put_u16(skb, SOCK_VS_CONN_ATTR_VPORT, ntohs(peer->vport)) ||
	    nla_put(skb, SOCK_VS_CONN_ATTR_DADDR, alen, &peer->daddr) ||
	    nla_put_u16(skb, SOCK_VS_CONN_ATTR_DPORT, ntohs(peer->dport)) ||
	    (peer->shard >= 0 &&
	     nla_put_u32(skb, SOCK_VS_CONN_ATTR_SHARD, peer->shard)) ||
	    nla_put_u8(skb, SOCK_VS_CONN_ATTR_STATE, READ_ONCE(sk->sk_state)) ||
	    nla_put_u32(skb, SOCK_VS_CONN_ATTR_PID, peer->pid) ||
	    nla_put_string(skb, SOCK_VS_CONN_ATTR_COMM, peer->comm))
		goto cancel;
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/* A cursor of the listing: a node on a server's list that no socket owns. */
static bool svs_peer_is_cursor(const struct svs_peer *peer)
{
	return !peer->sk;
}

static void svs_cursor_free_rcu(struct rcu_head *head)
{
	kfree(container_of(head, struct svs_peer, rcu));
}

/*
 * Take @cur off its server's list; returns the server, whose reference
 * the caller drops (svs_dest_put() may take sn->dests_lock).  Readers may
 * be on the node: it is freed after a grace period, never reused.
 */
static struct svs_dest *svs_cursor_drop(struct svs_peer *cur)
{
	struct svs_dest *dest = cur->dest;

	spin_lock(&dest->conns_lock);
	list_del_rcu(&cur->node);
	spin_unlock(&dest->conns_lock);
	call_rcu(&cur->rcu, svs_cursor_free_rcu);
	return dest;
}

/*
 * Leave @cur on @dest's list just before @pos, where the next round
 * resumes.  @pos (read under RCU) may have been taken off the list
 * meanwhile: an unlinked node keeps its successor, and nodes are only
 * ever added at the tail, so the first node still linked on from @pos is
 * where the unlisted part begins (or the list's head: nothing left).
 */
static void svs_cursor_place(struct svs_peer *cur, struct svs_dest *dest,
			     struct list_head *pos)
{
	spin_lock(&dest->conns_lock);
	while (pos != &dest->conns && pos->prev == LIST_POISON2)
		pos = pos->next;
	list_add_tail_rcu(&cur->node, pos);
	spin_unlock(&dest->conns_lock);
}

/*
 * SOCK_VS_CMD_GET_CONN dump: the balanced sockets of the requester's
 * namespace, real server by real server (in creation order, deleted ones
 * that still have sockets included), each server's sockets oldest first.
 * A round that fills its message leaves a cursor node in the server's
 * list (cb->args[1], holding a reference to the server; cb->args[0] is
 * the server's id) and the next round resumes after it: O(N) in all, no
 * lock held between rounds.  Each round places a fresh cursor and frees
 * the old one after a grace period, so that a reader standing on a
 * cursor never sees it move.  Within a round the namespace's list of
 * servers is locked (never by the connect path) and a server's own lock
 * only to place the cursor.
 */
int svs_conn_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct svs_net *sn = svs_net(sock_net(skb->sk));
	struct svs_peer *cur = (struct svs_peer *)cb->args[1];
	u32 portid = NETLINK_CB(cb->skb).portid;
	struct svs_dest *dest, *put = NULL;
	u64 dcur = (u64)cb->args[0];
	struct svs_peer *fresh, *peer;
	struct list_head *pos;

	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
	if (!fresh)
		return -ENOMEM;
	spin_lock_bh(&sn->dests_lock);
	rcu_read_lock();
	list_for_each_entry(dest, &sn->dests, net_node) {
		if (dest->net_id < dcur)
			continue;
		pos = cur && cur->dest == dest ? &cur->node : &dest->conns;
		for (pos = rcu_dereference(list_next_rcu(pos)); pos != &dest->conns;
		     pos = rcu_dereference(list_next_rcu(pos))) {
			peer = list_entry(pos, struct svs_peer, node);
			if (svs_peer_is_cursor(peer))
				continue;
			if (!svs_conn_fill(skb, peer, portid, cb->nlh->nlmsg_seq))
				continue;
			/* Full: resume here; the server stays while the cursor is on it. */
			if (!refcount_inc_not_zero(&dest->refcnt))
				break;	/* being freed: no sockets left on it */
			fresh->dest = dest;
			svs_cursor_place(fresh, dest, pos);
			if (cur)
				put = svs_cursor_drop(cur);
			cb->args[0] = (long)dest->net_id;
			cb->args[1] = (long)fresh;
			fresh = NULL;
			goto out;
		}
		/* Past this server: the next round starts after it. */
		cb->args[0] = (long)dest->net_id + 1;
		if (cur && cur->dest == dest) {
			put = svs_cursor_drop(cur);
			cur = NULL;
			cb->args[1] = 0;
		}
	}
out:
	rcu_read_unlock();
	spin_unlock_bh(&sn->dests_lock);
	if (put)
		svs_dest_put(put);
	kfree(fresh);
	return skb->len;
}

/* The dump ended (or its socket closed): take its cursor away. */
int svs_conn_dump_done(struct netlink_callback *cb)
{
	struct svs_peer *cur = (struct svs_peer *)cb->args[1];

	if (cur) {
		cb->args[1] = 0;
		svs_dest_put(svs_cursor_drop(cur));
	}
	return 0;
}

/* Established and other open balanced sockets on @dest: two reads. */
void svs_conn_count(struct svs_dest *dest, u32 *active, u32 *inactive)
{
	*active = atomic_read(&dest->active_conns);
	*inactive = atomic_read(&dest->inact_conns);
}

/* Whether a socket's peer is on @dest's list (not only a listing's cursor). */
static bool svs_dest_has_peers(struct svs_dest *dest)
{
	struct svs_peer *peer;
	bool ret = false;

	rcu_read_lock();
	list_for_each_entry_rcu(peer, &dest->conns, node) {
		if (!svs_peer_is_cursor(peer)) {
			ret = true;
			break;
		}
	}
	rcu_read_unlock();
	return ret;
}

/*
 * Unload, for each namespace: end every record (the connect hook is gone,
 * so no new ones), wake receivers blocked in our recvmsg so that they
 * restart on the kernel's operations.  svs_unloading is already set.
 */
void svs_conn_net_exit(struct svs_net *sn)
{
	struct svs_dest *dest, *found;
	struct svs_peer *peer;

	/*
	 * Ending a record may drop the last reference to a deleted server,
	 * which takes sn->dests_lock: take each server with records out of
	 * the list walk, with a reference, and start over.
	 */
	for (;;) {
		found = NULL;
		spin_lock_bh(&sn->dests_lock);
		list_for_each_entry(dest, &sn->dests, net_node) {
			if (svs_dest_has_peers(dest) &&
			    refcount_inc_not_zero(&dest->refcnt)) {
				found = dest;
				break;
			}
		}
		spin_unlock_bh(&sn->dests_lock);
		if (!found)
			break;
		rcu_read_lock();
		list_for_each_entry_rcu(peer, &found->conns, node) {
			struct sock *sk = peer->sk;
			struct socket *sock;
			struct svs_conn *conn;

			if (svs_peer_is_cursor(peer))
				continue;
			sock = READ_ONCE(sk->sk_socket);
			conn = sock ? svs_conn_of_ops(READ_ONCE(sock->ops)) : NULL;
			if (!conn || !svs_conn_end(sock, conn, true)) {
				/* Not reachable through the socket: just forget it. */
				svs_peer_forget(peer);
				continue;
			}
			if (sk->sk_type == SOCK_DGRAM)
				wake_up_interruptible_all(sk_sleep(sk));
		}
		rcu_read_unlock();
		svs_dest_put(found);
		cond_resched();
	}
}

int svs_conn_init(void)
{
	int err = -ENOMEM;

	svs_conn_cache = KMEM_CACHE(svs_conn, SLAB_ACCOUNT);
	svs_peer_cache = KMEM_CACHE(svs_peer, SLAB_ACCOUNT);
	if (svs_conn_cache && svs_peer_cache)
		err = svs_sockstate_init();
	if (err)
		svs_conn_destroy_cache();
	return err;
}

/* After rcu_barrier(): a leaked record shows up as a slab error here. */
void svs_conn_destroy_cache(void)
{
	kmem_cache_destroy(svs_peer_cache);
	kmem_cache_destroy(svs_conn_cache);
}

/* Unload, after every namespace's svs_conn_net_exit(). */
void svs_conn_exit(void)
{
	/* Every record ended: their state changes no longer count. */
	svs_sockstate_exit();
	/* Tasks that read our sock->ops before it was restored are now in
	 * svs_sock_srcu's read side, or done.
	 */
	synchronize_rcu_tasks();
	/* Our operations in progress (blocked receivers were woken). */
	synchronize_srcu(&svs_sock_srcu);
	/* Their last instructions after srcu_read_unlock(). */
	synchronize_rcu_tasks();
	rcu_barrier_tasks();
	rcu_barrier();
}
