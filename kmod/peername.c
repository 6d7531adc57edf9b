// SPDX-License-Identifier: GPL-2.0
/*
 * getpeername() and recvfrom() on a balanced socket report the virtual
 * address and port the application connected to, unless its service has
 * SOCK_VS_SVC_F_REAL_PEERNAME (decided at connect, kept in the socket's
 * peer record: conn.c).
 *
 * These are two entries of the balanced socket's own operations table
 * (conn.c), so every other socket of the host calls the kernel's
 * inet_getname()/inet_recvmsg() directly and pays nothing for sock_vs:
 *
 *   getname   the kernel's getname fills the kernel's copy of the address
 *             (the caller copies it to the user afterwards); for a peer
 *             query that succeeded and still names the record's real
 *             server, the virtual address replaces it.
 *   recvmsg   UDP only: the kernel's recvmsg writes the datagram's source
 *             to msg->msg_name (the kernel's copy); a datagram from the
 *             record's real server, or from the server of one of its
 *             unconnected bindings (unconn.c), is reported as coming from
 *             the virtual address.
 *
 * Unload must be able to finish while a receiver is blocked, so our
 * recvmsg never sleeps inside the kernel's: it calls it with MSG_DONTWAIT
 * and waits for the next datagram itself, on the socket's wait queue, as
 * __skb_wait_for_more_packets() does (same SO_RCVTIMEO, signal, error and
 * shutdown semantics).  Unload wakes such waiters; they return
 * -ERESTARTSYS with TIF_NOTIFY_SIGNAL set, so the system call restarts on
 * the kernel's operations, which the socket has back by then (what
 * io_uring's task work relies on; an io_uring receive sees -EINTR).
 */
#include <linux/sched/signal.h>
#include <linux/srcu.h>
#include <linux/wait.h>
#include <net/sock.h>

#include "sock_vs.h"

/*
 * Rewrite @uaddr if @sock is (still) balanced; @recv: a datagram's source,
 * which may also come from a server of its unconnected bindings.
 */
static void svs_rewrite(struct socket *sock, const struct svs_peer_view *before,
			struct sockaddr *uaddr, bool recv)
{
	struct svs_conn *conn;

	rcu_read_lock();
	conn = svs_conn_of_ops(READ_ONCE(sock->ops));
	if (conn) {
		svs_conn_peername(conn, before, uaddr);
		if (recv)
			svs_conn_uc_recv(conn, uaddr);
	}
	rcu_read_unlock();
}

int svs_sock_getname(struct socket *sock, struct sockaddr *uaddr, int peer)
{
	struct svs_peer_view before;
	const struct proto_ops *ops;
	int idx, ret, tries = 0;

	idx = srcu_read_lock(&svs_sock_srcu);
	/*
	 * The kernel's getname reads the destination under the socket lock;
	 * a reconnect (under the same lock) publishes a new peer record.  If
	 * one happened while we asked, ask again (a few times), so that the
	 * record we rewrite with is the one the answer came from.
	 */
	do {
		ops = svs_conn_orig_ops(sock, &before);
		ret = ops->getname(sock, uaddr, peer);
		smp_rmb();	/* the answer before the count */
	} while (peer && ret >= 0 && svs_conn_seq(sock) != before.seq && ++tries < 8);
	if (peer && ret >= 0)
		svs_rewrite(sock, &before, uaddr, false);
	srcu_read_unlock(&svs_sock_srcu, idx);
	return ret;
}

/* Whether a receiver should stop waiting and ask the kernel again. */
static bool svs_recv_ready(struct sock *sk, const struct sk_buff *last)
{
	return READ_ONCE(sk->sk_receive_queue.prev) != last ||
	       READ_ONCE(sk->sk_err) ||
	       (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN) ||
	       READ_ONCE(svs_unloading);
}

int svs_sock_recvmsg(struct socket *sock, struct msghdr *msg, size_t size,
		     int flags)
{
	struct sock *sk = sock->sk;
	struct svs_peer_view before;
	const struct proto_ops *ops;
	const struct sk_buff *last;
	DEFINE_WAIT(wait);
	int idx, ret;
	long timeo;

	idx = srcu_read_lock(&svs_sock_srcu);
	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	svs_conn_orig_ops(sock, &before);
	for (;;) {
		ops = svs_conn_orig_ops(sock, NULL);
		last = READ_ONCE(sk->sk_receive_queue.prev);
		ret = ops->recvmsg(sock, msg, size, flags | MSG_DONTWAIT);
		if (ret != -EAGAIN || !timeo || (flags & MSG_ERRQUEUE))
			break;
		if (READ_ONCE(svs_unloading)) {
			/* Restart the call on the kernel's operations. */
			set_thread_flag(TIF_NOTIFY_SIGNAL);
			ret = -ERESTARTSYS;
			break;
		}
		if (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN) {
			ret = 0;
			break;
		}
		if (signal_pending(current)) {
			ret = sock_intr_errno(timeo);
			break;
		}
		prepare_to_wait(sk_sleep(sk), &wait, TASK_INTERRUPTIBLE);
		if (!svs_recv_ready(sk, last) && !signal_pending(current))
			timeo = schedule_timeout(timeo);
		finish_wait(sk_sleep(sk), &wait);
	}
	if (ret >= 0 && msg->msg_name)
		svs_rewrite(sock, &before, msg->msg_name, true);
	srcu_read_unlock(&svs_sock_srcu, idx);
	return ret;
}
