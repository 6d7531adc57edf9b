// SPDX-License-Identifier: GPL-2.0
/*
 * getpeername() on a balanced socket returns the virtual address and port
 * the application connected to, unless its service has
 * SOCK_VS_SVC_F_REAL_PEERNAME (decided at connect, kept in the socket's
 * record: conn.c).
 *
 * Every getpeername() of an AF_INET / AF_INET6 stream or datagram socket
 * goes through inet_getname() / inet6_getname() (sock->ops->getname, with
 * peer != 0; getsockname() passes peer == 0 and is left alone).  Both have
 * the same prototype on every kernel sock_vs supports:
 *
 *   int inet_getname(struct socket *sock, struct sockaddr *uaddr, int peer)
 *
 * They fill the kernel's copy of the address (the caller copies it to the
 * user afterwards), so a kretprobe rewrites it on return: the entry handler
 * keeps (sk, uaddr) of a peer query on a tracked socket, the return handler
 * replaces the real server by the virtual address when the call succeeded
 * and the address it returned is still the record's real server.  The
 * entry handler declines every other call, so getsockname() and untracked
 * sockets cost one kretprobe entry and nothing on return.
 *
 * The functions may sleep (lock_sock()), so an instance is held for the
 * whole call: maxactive bounds how many peer queries on balanced sockets
 * can be in flight at once; beyond it the kprobes core skips the rewrite
 * and counts it in nmissed (reported at unload if non-zero).
 *
 * The same goes for the source address recvfrom()/recvmsg() report for a
 * datagram on a connected UDP socket: udp_recvmsg() / udpv6_recvmsg()
 *
 *   int udp_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
 *                   int flags, int *addr_len)
 *
 * write it to msg->msg_name (the kernel's copy), and a program that checks
 * that an answer came from the server it asked would see the real server.
 * A datagram from the record's real server is reported as coming from the
 * virtual address, under the same flag.
 *
 * Unload: unregister_kretprobes() detaches the handlers and waits for an
 * RCU grace period; calls still in flight then return without them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/ptrace.h>
#include <net/sock.h>

#include "sock_vs.h"
#include "compat.h"

struct svs_peer_call {
	struct sock *sk;
	struct sockaddr *uaddr;
};

static int svs_getname_entry(struct kretprobe_instance *ri,
			     struct pt_regs *regs)
{
	struct svs_peer_call *call = (struct svs_peer_call *)ri->data;
	struct socket *sock = (struct socket *)regs_get_kernel_argument(regs, 0);
	int peer = (int)regs_get_kernel_argument(regs, 2);
	struct sock *sk = sock ? sock->sk : NULL;

	if (!peer || !sk || !svs_conn_maybe_tracked(sk))
		return 1;	/* nothing to do on return */
	call->sk = sk;
	call->uaddr = (struct sockaddr *)regs_get_kernel_argument(regs, 1);
	return 0;
}

static int svs_getname_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct svs_peer_call *call = (struct svs_peer_call *)ri->data;

	/* The functions return int: the upper half of the register is not theirs. */
	if ((int)regs_return_value(regs) >= 0 && call->uaddr)
		svs_conn_peername(call->sk, call->uaddr);
	return 0;
}

static struct kretprobe svs_krp_getname4 = {
	.kp.symbol_name = SVS_SYM_GETNAME4,
	.entry_handler = svs_getname_entry,
	.handler = svs_getname_ret,
	.data_size = sizeof(struct svs_peer_call),
};

static struct kretprobe svs_krp_getname6 = {
	.kp.symbol_name = SVS_SYM_GETNAME6,
	.entry_handler = svs_getname_entry,
	.handler = svs_getname_ret,
	.data_size = sizeof(struct svs_peer_call),
};

static int svs_recvmsg_entry(struct kretprobe_instance *ri,
			     struct pt_regs *regs)
{
	struct svs_peer_call *call = (struct svs_peer_call *)ri->data;
	struct sock *sk = (struct sock *)regs_get_kernel_argument(regs, 0);
	struct msghdr *msg = (struct msghdr *)regs_get_kernel_argument(regs, 1);

	if (!sk || !msg || !msg->msg_name || !svs_conn_maybe_tracked(sk))
		return 1;
	call->sk = sk;
	call->uaddr = msg->msg_name;
	return 0;
}

static struct kretprobe svs_krp_recvmsg4 = {
	.kp.symbol_name = SVS_SYM_UDP4_RECVMSG,
	.entry_handler = svs_recvmsg_entry,
	.handler = svs_getname_ret,
	.data_size = sizeof(struct svs_peer_call),
};

static struct kretprobe svs_krp_recvmsg6 = {
	.kp.symbol_name = SVS_SYM_UDP6_RECVMSG,
	.entry_handler = svs_recvmsg_entry,
	.handler = svs_getname_ret,
	.data_size = sizeof(struct svs_peer_call),
};

static struct kretprobe *svs_krps[] = {
	&svs_krp_getname4, &svs_krp_getname6,
	&svs_krp_recvmsg4, &svs_krp_recvmsg6,
};

int svs_peername_init(void)
{
	int i, err;

	for (i = 0; i < ARRAY_SIZE(svs_krps); i++)
		svs_krps[i]->maxactive = max_t(int, 256, 16 * num_possible_cpus());
	err = register_kretprobes(svs_krps, ARRAY_SIZE(svs_krps));
	if (err)
		pr_err("cannot install getpeername hooks (kretprobes): %d\n", err);
	return err;
}

void svs_peername_exit(void)
{
	int i;

	unregister_kretprobes(svs_krps, ARRAY_SIZE(svs_krps));
	for (i = 0; i < ARRAY_SIZE(svs_krps); i++)
		if (svs_krps[i]->nmissed)
			pr_info("%s: %d getpeername() calls not rewritten (maxactive %d)\n",
				svs_krps[i]->kp.symbol_name, svs_krps[i]->nmissed,
				svs_krps[i]->maxactive);
}
