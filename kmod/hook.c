// SPDX-License-Identifier: GPL-2.0
/*
 * The connect hook.
 *
 * sock_vs puts kprobes on the entry of the four functions every connect
 * of a TCP or UDP socket goes through, whatever the caller (connect(2),
 * sendto/sendmsg(MSG_FASTOPEN), io_uring, TCP_FASTOPEN_CONNECT):
 *
 *   tcp_v4_connect, tcp_v6_connect          TCP (sk->sk_prot->connect)
 *   __ip4_datagram_connect, __ip6_datagram_connect   UDP connect(2)
 *
 * (compat.h says why these and what differs between kernels).
 *
 * On x86_64 with CONFIG_KPROBES_ON_FTRACE these are ftrace-based probes:
 * a call at the function's fentry site, no breakpoint trap.  The
 * pre-handler runs before the function body, with preemption disabled,
 * and rewrites the kernel's copy of the destination sockaddr in place.
 * The function then connects to the real server as if the application
 * had asked for it; nothing is left on the packet path.
 *
 * When a service has no usable real server the handler makes the probed
 * function return -ECONNREFUSED at once: it points the saved instruction
 * pointer at svs_refuse_connect(), which has the same prototype, and
 * returns 1 so that kprobes resumes there instead of in the original body
 * (the mechanism behind the kernel's error injection).
 *
 * Unload: unregister_kprobes() waits for every handler to finish (they
 * run with preemption disabled, so an RCU grace period suffices).  A task
 * may still be inside svs_refuse_connect(); it cannot sleep there, so an
 * RCU-tasks grace period (a voluntary context switch of every task) ends
 * that window before the module text goes away.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ptrace.h>
#include <linux/cgroup.h>
#include <linux/sched.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/sock.h>

#include "sock_vs.h"
#include "compat.h"

/* Same prototype as the probed functions; only ever entered via kprobes. */
static noinline int svs_refuse_connect(struct sock *sk, struct sockaddr *uaddr,
				       int addr_len)
{
	return -ECONNREFUSED;
}

static noinline int svs_addrnotavail_connect(struct sock *sk,
					     struct sockaddr *uaddr,
					     int addr_len)
{
	return -EADDRNOTAVAIL;
}

/* The service's hash key for this connect (sh, mh, the "hash" shards). */
static u64 svs_hash_key(struct sock *sk, u8 which)
{
	const struct inet_sock *inet = inet_sk(sk);
	u64 h;
	int i;

	switch (which) {
	case SOCK_VS_HASH_LOCAL:
		if (!inet->inet_num)
			break;	/* not bound: the process decides */
		h = svs_sched_mix64(inet->inet_num);
		if (sk->sk_family == AF_INET6) {
			for (i = 0; i < 4; i++)
				h = svs_sched_mix64(h ^ (__force u32)
						    sk->sk_v6_rcv_saddr.s6_addr32[i]);
		} else {
			h = svs_sched_mix64(h ^ (__force u32)inet->inet_rcv_saddr);
		}
		return h;
	case SOCK_VS_HASH_CGROUP:
		return svs_sched_mix64(cgroup_id(sock_cgroup_ptr(&sk->sk_cgrp_data)));
	}
	return svs_sched_mix64(current->tgid);
}

/*
 * Look the destination up and, when it is a virtual service, rewrite it.
 * Returns 1 (rewritten), 0 (not a virtual service), -ECONNREFUSED (no
 * usable real server) or -EADDRNOTAVAIL (no free port for the shard).
 */
static int svs_connect(struct sock *sk, struct sockaddr *uaddr, int addr_len,
		       u8 protocol)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)uaddr;
	struct sockaddr_in *sin = (struct sockaddr_in *)uaddr;
	struct svs_sched_in in;
	const struct svs_dtable *dt;
	struct svs_service *svc;
	struct svs_dest *dest;
	struct svs_net *sn;
	struct svs_key key;
	int idx, shard = -1, ret = 0;

	if (!uaddr || sk->sk_kern_sock)
		return 0;

	memset(&key, 0, sizeof(key));
	switch (uaddr->sa_family) {
	case AF_INET:
		if (addr_len < (int)sizeof(*sin))
			return 0;
		key.addr.ip = sin->sin_addr.s_addr;
		key.port = sin->sin_port;
		break;
	case AF_INET6:
		if (addr_len < SIN6_LEN_RFC2133)
			return 0;
		key.addr.in6 = sin6->sin6_addr;
		key.port = sin6->sin6_port;
		break;
	default:
		return 0;
	}
	key.af = uaddr->sa_family;
	key.protocol = protocol;

	rcu_read_lock();
	sn = svs_net(sock_net(sk));
	if (!READ_ONCE(sn->num_services))
		goto out;
	svc = rhashtable_lookup(&sn->ht, &key, svs_ht_params);
	if (!svc)
		goto out;

	dt = rcu_dereference(svc->dt);
	in.n = dt->n;
	in.weight = dt->weight;
	in.id = dt->id;
	in.live = dt->live;
	in.priv = dt->priv;
	in.seq = (u64)atomic64_inc_return(&svc->seq) - 1;
	in.hash = svs_hash_key(sk, READ_ONCE(svc->conf.hash_key));
	in.lport = inet_sk(sk)->inet_num;
	idx = dt->sched->pick(&in);
	if (idx < 0 || idx >= (int)dt->n) {
		atomic64_inc(&svc->stats.refused);
		ret = -ECONNREFUSED;
		goto out;
	}
	dest = dt->dest[idx];
	if (dest->shards > 1) {
		ret = svs_shard_place(sk, svc, dest, &in, &shard);
		if (ret)
			goto out;
	}

	if (key.af == AF_INET) {
		sin->sin_addr.s_addr = dest->addr.ip;
		sin->sin_port = dest->port;
	} else {
		sin6->sin6_addr = dest->addr.in6;
		sin6->sin6_port = dest->port;
		if (addr_len >= (int)sizeof(*sin6))
			sin6->sin6_scope_id = 0;
	}
	atomic64_inc(&svc->stats.conns);
	atomic64_inc(&dest->stats.conns);
	svs_conn_track(sk, &key, dest, shard,
		       !(READ_ONCE(svc->conf.flags) & SOCK_VS_SVC_F_REAL_PEERNAME));
	ret = 1;
out:
	rcu_read_unlock();
	return ret;
}

static int svs_pre_handler(struct kprobe *p, struct pt_regs *regs, u8 protocol)
{
	struct sock *sk = (struct sock *)regs_get_kernel_argument(regs, 0);
	struct sockaddr *uaddr =
		(struct sockaddr *)regs_get_kernel_argument(regs, 1);
	int addr_len = (int)regs_get_kernel_argument(regs, 2);

	int ret = 0;

	if (sk->sk_protocol != protocol)
		return 0;
	if (protocol == IPPROTO_UDP && sk->sk_type != SOCK_DGRAM)
		return 0;
	if (atomic_read(&svs_services_total))
		ret = svs_connect(sk, uaddr, addr_len, protocol);
	if (ret == 1)
		return 0;
	/* Not (or no longer) balanced: forget an earlier scheduling. */
	svs_conn_untrack(sk);
	if (ret == 0)
		return 0;
	instruction_pointer_set(regs, ret == -EADDRNOTAVAIL ?
				(unsigned long)svs_addrnotavail_connect :
				(unsigned long)svs_refuse_connect);
	return 1;
}

static int svs_pre_tcp(struct kprobe *p, struct pt_regs *regs)
{
	return svs_pre_handler(p, regs, IPPROTO_TCP);
}

static int svs_pre_udp(struct kprobe *p, struct pt_regs *regs)
{
	return svs_pre_handler(p, regs, IPPROTO_UDP);
}

static struct kprobe svs_kp_tcp4 = {
	.symbol_name = SVS_SYM_TCP4_CONNECT,
	.pre_handler = svs_pre_tcp,
};

static struct kprobe svs_kp_tcp6 = {
	.symbol_name = SVS_SYM_TCP6_CONNECT,
	.pre_handler = svs_pre_tcp,
};

static struct kprobe svs_kp_udp4 = {
	.symbol_name = SVS_SYM_UDP4_CONNECT,
	.pre_handler = svs_pre_udp,
};

static struct kprobe svs_kp_udp6 = {
	.symbol_name = SVS_SYM_UDP6_CONNECT,
	.pre_handler = svs_pre_udp,
};

/*
 * A socket that listens after a failed balanced connect would pass our
 * destructor on to every socket it accepts: hand the socket back first.
 */
static int svs_pre_listen(struct kprobe *p, struct pt_regs *regs)
{
	svs_conn_untrack((struct sock *)regs_get_kernel_argument(regs, 0));
	return 0;
}

static struct kprobe svs_kp_listen = {
	.symbol_name = SVS_SYM_LISTEN,
	.pre_handler = svs_pre_listen,
};

static struct kprobe *svs_kps[] = {
	&svs_kp_tcp4, &svs_kp_tcp6, &svs_kp_udp4, &svs_kp_udp6, &svs_kp_listen,
};

/*
 * The connect probes change the instruction pointer (svs_refuse_connect()):
 * only an ftrace-based kprobe honours that, and only from a handler that
 * runs at the function's entry with preemption disabled, which the handler
 * relies on.  A breakpoint-based or optimized probe (a kernel without
 * CONFIG_KPROBES_ON_FTRACE, or a symbol ftrace cannot patch) is refused.
 * With no post_handler, the kprobes core arms them through its IPMODIFY
 * ftrace_ops, so ftrace knows they redirect (as fail_function's probe).
 */
static struct kprobe *svs_redirecting_kps[] = {
	&svs_kp_tcp4, &svs_kp_tcp6, &svs_kp_udp4, &svs_kp_udp6,
};

int svs_hook_init(void)
{
	int i, err = register_kprobes(svs_kps, ARRAY_SIZE(svs_kps));

	if (err) {
		pr_err("cannot install connect hooks (kprobes): %d\n", err);
		return err;
	}
	for (i = 0; i < ARRAY_SIZE(svs_redirecting_kps); i++) {
		struct kprobe *kp = svs_redirecting_kps[i];

		if (!(kp->flags & KPROBE_FLAG_FTRACE) || kp->post_handler) {
			pr_err("kprobe on %s is not ftrace-based: refusing to load (needs CONFIG_KPROBES_ON_FTRACE)\n",
			       kp->symbol_name);
			unregister_kprobes(svs_kps, ARRAY_SIZE(svs_kps));
			return -EOPNOTSUPP;
		}
	}
	err = svs_peername_init();
	if (err)
		unregister_kprobes(svs_kps, ARRAY_SIZE(svs_kps));
	return err;
}

void svs_hook_exit(void)
{
	svs_peername_exit();
	unregister_kprobes(svs_kps, ARRAY_SIZE(svs_kps));
	/* No task may still be inside svs_refuse_connect(). */
	synchronize_rcu_tasks();
}
