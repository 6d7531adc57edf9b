// SPDX-License-Identifier: GPL-2.0
/*
 * Terminating the balanced sockets of a real server.
 *
 * When a real server leaves its service (deleted, its service deleted or
 * flushed) sock_vs terminates the sockets it balanced to that server, by
 * the service's policy (enum sock_vs_terminate): connected UDP sockets, or
 * UDP sockets and TCP connections.  SOCK_VS_CMD_KILL does the same for a
 * server that stays (one quiesced by a health check).
 *
 * It runs in the configuring task, after the namespace's configuration
 * lock is released, and takes no lock of the connect path except each
 * socket's own lock, briefly, as any system call on the socket would.  A
 * deleted server is first out of every snapshot the connect path can
 * still read (a grace period), so that a connect that picked it just
 * before its deletion is on its list too.  Then, socket by socket, with
 * the socket locked: is it still balanced, and is its current peer record
 * this server's (a socket that reconnected elsewhere is left alone)?  If
 * so its record ends (it is an ordinary socket again, and a later connect
 * to the virtual address is balanced afresh) and, once its lock is
 * released, its protocol aborts it (sk->sk_prot->diag_destroy(), what
 * sock_diag's SOCK_DESTROY calls, with ECONNABORTED: udp_abort()
 * disconnects a UDP socket, tcp_abort() resets a TCP connection).  The
 * abort takes the socket's lock itself; a connect() the application makes
 * in between (microseconds) is aborted too, as with sock_diag.
 *
 * Full sockets only ever are on the lists: TIME_WAIT sockets are never
 * touched.  Unload terminates nothing (conn.c hands the sockets back).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/slab.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "sock_vs.h"

/* Whether @policy terminates sockets of @protocol. */
static bool svs_policy_covers(u8 policy, u8 protocol)
{
	switch (policy) {
	case SOCK_VS_TERMINATE_ALL:
		return true;
	case SOCK_VS_TERMINATE_UDP:
		return protocol == IPPROTO_UDP;
	default:
		return false;
	}
}

bool svs_terminate_needed(const struct svs_service *svc, u8 policy)
{
	return svs_policy_covers(policy, svc->key.protocol);
}

/* Whether @sk is in a state its abort ends (under its lock). */
static bool svs_abortable(const struct sock *sk)
{
	if (sk->sk_type == SOCK_DGRAM)
		return sk->sk_state == TCP_ESTABLISHED;	/* connected */
	return sk->sk_state != TCP_CLOSE && sk->sk_state != TCP_LISTEN;
}

/*
 * End @sk's record if its current peer is on @dest, with its lock held;
 * returns whether it did (the socket is then the caller's to abort).
 */
static bool svs_terminate_claim(struct sock *sk, struct svs_dest *dest)
{
	struct svs_peer *peer;
	struct svs_conn *conn;
	struct socket *sock;
	bool ret = false;

	lock_sock(sk);
	rcu_read_lock();
	sock = READ_ONCE(sk->sk_socket);
	conn = sock ? svs_conn_of_ops(READ_ONCE(sock->ops)) : NULL;
	peer = conn ? rcu_dereference(conn->peer) : NULL;
	if (peer && peer->dest == dest && svs_abortable(sk))
		ret = svs_conn_end_sock(sock, conn);
	rcu_read_unlock();
	release_sock(sk);
	return ret;
}

/*
 * The sockets on @dest's list that @policy covers, each with a reference,
 * into @sks (at most @max); under no lock.  Returns how many.
 */
static unsigned int svs_terminate_collect(struct svs_dest *dest, u8 policy,
					  struct sock **sks, unsigned int max)
{
	struct svs_peer *peer;
	unsigned int n = 0;

	rcu_read_lock();
	list_for_each_entry_rcu(peer, &dest->conns, node) {
		struct sock *sk = peer->sk;

		if (n == max)
			break;
		/* A listing's cursor; a socket another policy leaves alone. */
		if (!sk || !svs_policy_covers(policy, peer->protocol))
			continue;
		if (refcount_inc_not_zero(&sk->sk_refcnt))
			sks[n++] = sk;
	}
	rcu_read_unlock();
	return n;
}

/* Sockets on @dest, for the size of the collection (an RCU walk). */
static unsigned int svs_terminate_count(struct svs_dest *dest, u8 policy)
{
	struct svs_peer *peer;
	unsigned int n = 0;

	rcu_read_lock();
	list_for_each_entry_rcu(peer, &dest->conns, node)
		if (peer->sk && svs_policy_covers(policy, peer->protocol))
			n++;
	rcu_read_unlock();
	return n;
}

/*
 * Terminate the sockets balanced to @dest that @policy covers; the caller
 * holds a reference to @dest and no lock.  Process context.  Returns how
 * many were terminated, or -ENOMEM.
 */
int svs_terminate_dest(struct svs_dest *dest, u8 policy)
{
	unsigned int i, n, max;
	struct sock **sks;
	int killed = 0;

	might_sleep();
	max = svs_terminate_count(dest, policy);
	if (!max)
		return 0;
	/* Room for sockets that connect while we walk: they are not ours. */
	sks = kvmalloc_array(max, sizeof(*sks), GFP_KERNEL_ACCOUNT);
	if (!sks)
		return -ENOMEM;
	n = svs_terminate_collect(dest, policy, sks, max);
	for (i = 0; i < n; i++) {
		struct sock *sk = sks[i];

		if (svs_terminate_claim(sk, dest) && sk->sk_prot->diag_destroy &&
		    !sk->sk_prot->diag_destroy(sk, ECONNABORTED)) {
			svs_stat_inc(&dest->stats, SVS_STAT_KILLED);
			killed++;
		}
		sock_put(sk);
		cond_resched();
	}
	kvfree(sks);
	return killed;
}

/*
 * The servers on @doomed (svs_dest_del(), svs_service_del(), svs_flush()
 * put them there, each with the reference its service held and the
 * policy of its service in ->doom) have left their services: terminate
 * their sockets, drop the references.  Returns how many sockets were
 * terminated; *@err gets -ENOMEM if some could not be.
 */
u32 svs_terminate_doomed(struct list_head *doomed, int *err)
{
	struct svs_dest *dest, *tmp;
	u32 killed = 0;
	int ret;

	*err = 0;
	if (list_empty(doomed))
		return 0;
	/* Connects that picked them from an older snapshot are tracked now. */
	synchronize_rcu();
	list_for_each_entry_safe(dest, tmp, doomed, list) {
		list_del(&dest->list);
		ret = svs_terminate_dest(dest, dest->doom);
		if (ret < 0)
			*err = ret;
		else
			killed += ret;
		svs_dest_put(dest);
	}
	return killed;
}
