// SPDX-License-Identifier: GPL-2.0
/*
 * The state changes of balanced sockets the kernel tells about.
 *
 * TCP changes a socket's state in one place, tcp_set_state() (and
 * inet_sk_set_state() / inet_sk_state_store(), which it and the few other
 * callers use), and every one of them fires the inet_sock_set_state
 * tracepoint just before it stores the new state: CLOSE -> SYN_SENT inside
 * tcp_v4_connect() (after the connect hook rewrote the destination),
 * SYN_SENT -> ESTABLISHED or CLOSE, ESTABLISHED -> FIN_WAIT1 or CLOSE_WAIT,
 * -> CLOSE, ...  Always with the socket locked: by its owner (lock_sock(),
 * system calls) or bh_lock_sock() while no owner holds it (softirq,
 * timers), so one socket's changes are serialised with each other and
 * with its connects.
 *
 * sock_vs attaches one probe to it (found by name at load,
 * for_each_kernel_tracepoint(): the tracepoint's symbol is not exported).
 * It serves two purposes:
 *
 *   - ActiveConn/InActConn (conn.c): a balanced socket's record moves its
 *     count on its real server from the old state's class to the new one
 *     (svs_peer_set_state()), so that a listing reads two numbers and
 *     never walks sockets;
 *   - passive health and p2c (eject.c): the handshake's outcome, SYN_SENT
 *     -> ESTABLISHED or SYN_SENT -> CLOSE (svs_eject_outcome()).
 *
 * UDP has no state tracepoint: conn.c follows its connects and disconnects
 * (svs_conn_sync_state()).  What it cannot see is a sock_diag abort (ss -K,
 * a BPF iterator's bpf_sock_destroy()): udp_abort() sets sk_err to
 * ECONNABORTED, reports it, and disconnects the socket, all under the
 * socket's lock.  The report fires inet_sk_error_report, the second
 * tracepoint sock_vs attaches: on a balanced UDP socket
 * with ECONNABORTED its record counts CLOSE (what the disconnect that
 * follows makes it; no other kernel path reports ECONNABORTED on a UDP
 * socket; sock_vs's own termination ends the record before it aborts).
 *
 * For exact counts they must be attached whenever a balanced socket
 * exists.  They are attached by the first balanced connect after the
 * module is loaded, before it makes its record (svs_sockstate_get(), in
 * the connect hook's wrapper: process context), and stay until unload.
 * Until then no TCP connect is balanced in the connect probe's handler
 * (svs_sockstate_on(): its fast path), only in the wrapper.  So a host
 * that loaded sock_vs and configured services, but never had a balanced
 * socket, pays nothing here.  A record can only be made after the
 * registration returned, and registration takes effect on every CPU
 * before it returns (text_poke_bp() synchronises them): no state change
 * of a balanced socket is missed.
 *
 * What they cost the host's other sockets once attached, per state change
 * of any TCP socket: the tracepoint's static
 * branch and its static call into svs_sk_state(), which loads
 * sk->sk_socket and returns if there is none (sockets not yet accepted,
 * orphans), else loads sock->ops and its release entry and returns unless
 * that is ours: two or three compares, no store, no lock (kmod/README.md
 * has the instruction count).  Only a balanced socket goes further: an RCU
 * lookup of its record (sock->ops is its record) and the update of two
 * per-server counters.  The error report costs the same, per error
 * reported on any TCP or UDP socket (a reset, an ICMP error, an abort).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/tracepoint.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "sock_vs.h"

static struct tracepoint *svs_sk_state_tp, *svs_sk_error_tp;
static DEFINE_MUTEX(svs_ss_mutex);
bool svs_ss_attached;		/* set once, under svs_ss_mutex (release) */

static void svs_find_tp(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "inet_sock_set_state"))
		svs_sk_state_tp = tp;
	else if (!strcmp(tp->name, "inet_sk_error_report"))
		svs_sk_error_tp = tp;
}

/* A balanced socket's state changes; it is locked (see above). */
static noinline void svs_sk_state_balanced(const struct sock *sk,
					   struct svs_conn *conn,
					   int oldstate, int newstate)
{
	struct svs_peer *peer;

	rcu_read_lock();
	peer = rcu_dereference(conn->peer);
	if (peer && peer->sk == sk) {
		svs_peer_set_state(peer, newstate);
		if (oldstate == TCP_SYN_SENT &&
		    (newstate == TCP_ESTABLISHED || newstate == TCP_CLOSE))
			svs_eject_outcome(sk, peer->dest, newstate == TCP_ESTABLISHED);
	}
	rcu_read_unlock();
}

/*
 * The tracepoint: every state change of every TCP socket of the host (and
 * of the few other protocols that use inet_sk_set_state(), whose
 * operations are never ours), in softirq or process context, preemption
 * off.  A socket sock_vs does not balance costs the compares here.
 */
static void svs_sk_state(void *data, const struct sock *sk, const int oldstate,
			 const int newstate)
{
	const struct socket *sock = READ_ONCE(sk->sk_socket);
	struct svs_conn *conn;

	if (!sock)
		return;
	conn = svs_conn_of_ops(READ_ONCE(sock->ops));
	if (likely(!conn))
		return;
	svs_sk_state_balanced(sk, conn, oldstate, newstate);
}

/* A balanced UDP socket is being aborted through sock_diag (see above). */
static noinline void svs_sk_error_balanced(const struct sock *sk,
					   struct svs_conn *conn)
{
	struct svs_peer *peer;

	rcu_read_lock();
	peer = rcu_dereference(conn->peer);
	if (peer && peer->sk == sk)
		svs_peer_set_state(peer, TCP_CLOSE);
	rcu_read_unlock();
}

/* The error tracepoint: every error reported on a TCP or UDP socket. */
static void svs_sk_error(void *data, const struct sock *sk)
{
	const struct socket *sock = READ_ONCE(sk->sk_socket);
	struct svs_conn *conn;

	if (!sock)
		return;
	conn = svs_conn_of_ops(READ_ONCE(sock->ops));
	if (likely(!conn))
		return;
	if (sk->sk_protocol == IPPROTO_UDP && READ_ONCE(sk->sk_err) == ECONNABORTED)
		svs_sk_error_balanced(sk, conn);
}

/*
 * A connect is about to be balanced (the connect hook's wrapper: process
 * context, the socket locked by its owner; may sleep): attach the
 * tracepoints if this is the first.  Returns 0 once they are attached.
 */
int svs_sockstate_get(void)
{
	int err = 0;

	if (svs_sockstate_on())
		return 0;
	mutex_lock(&svs_ss_mutex);
	if (!svs_ss_attached) {
		err = tracepoint_probe_register(svs_sk_state_tp, svs_sk_state, NULL);
		if (!err) {
			err = tracepoint_probe_register(svs_sk_error_tp, svs_sk_error, NULL);
			if (err)
				tracepoint_probe_unregister(svs_sk_state_tp, svs_sk_state, NULL);
		}
		if (!err) {
			/*
			 * Pairs with svs_sockstate_on(): whoever sees the
			 * flag also sees both probes registered.
			 */
			smp_store_release(&svs_ss_attached, true);
		} else {
			pr_warn_ratelimited("cannot attach to the socket state tracepoints (%d): ActiveConn/InActConn of the sockets balanced now are not kept\n",
					    err);
		}
	}
	mutex_unlock(&svs_ss_mutex);
	return err;
}

/* Module init: the tracepoints must exist (attached at the first use). */
int svs_sockstate_init(void)
{
	for_each_kernel_tracepoint(svs_find_tp, NULL);
	if (svs_sk_state_tp && svs_sk_error_tp)
		return 0;
	pr_err("no inet_sock_set_state or inet_sk_error_report tracepoint: refusing to load (needs CONFIG_TRACEPOINTS)\n");
	return -EOPNOTSUPP;
}

/* Unload, every record ended: no CPU is in our probes after this. */
void svs_sockstate_exit(void)
{
	if (!svs_ss_attached)
		return;
	tracepoint_probe_unregister(svs_sk_error_tp, svs_sk_error, NULL);
	tracepoint_probe_unregister(svs_sk_state_tp, svs_sk_state, NULL);
	tracepoint_synchronize_unregister();
	svs_ss_attached = false;
}
