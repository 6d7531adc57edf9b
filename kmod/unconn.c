// SPDX-License-Identifier: GPL-2.0
/*
 * Unconnected UDP (SOCK_VS_SVC_F_UNCONNECTED).
 *
 * sendto()/sendmsg() with a destination on an unconnected UDP socket never
 * reach the connect hook.  While at least one service of any namespace has
 * the flag, sock_vs puts ftrace-based kprobes on udp_sendmsg() and
 * udpv6_sendmsg() (compat.h); with none they are unregistered, so the
 * host's UDP traffic pays nothing then.
 *
 * The pre-handler (preemption off) looks a datagram's destination up in
 * the socket's namespace.  For a service with the flag, the socket gets
 * its per-socket record (conn.c: its own operations, so that recvfrom()
 * rewrites sources) and one binding per virtual address: a peer record on
 * the chosen real server's list, like a connect's, so the listing shows it
 * and unload finds it.  A datagram to a virtual address the socket has a
 * binding for goes to that binding's server (the kernel's copy of the
 * destination is rewritten, as for a connect); the server is chosen again
 * only when that one has left its service.  Exemptions apply as for
 * connect.  A service without a usable real server refuses the datagram
 * (-ECONNREFUSED) through a stub the handler redirects to.  On PREEMPT_RT
 * the handler redirects every datagram to a virtual address to a wrapper
 * that does the same in the sender's context and then calls the probed
 * function itself (udp_sendmsg(), or sk->sk_prot->sendmsg for
 * udpv6_sendmsg(), which is what called it).
 *
 * The kprobes are registered and unregistered under svs_unconn_mutex by
 * configuration commands (process context, the namespace's configuration
 * mutex held), counted by svs_unconn_users.  Unload shuts them down first,
 * before any namespace hands its sockets back.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/ptrace.h>
#include <linux/srcu.h>
#include <net/inet_sock.h>
#include <net/sock.h>
#include <net/udp.h>

#include "sock_vs.h"
#include "compat.h"

#define SVS_UC_WRAPPER	2	/* the handler cannot: redirect */

static DEFINE_MUTEX(svs_unconn_mutex);
static unsigned int svs_unconn_users;	/* services with the flag */
static bool svs_unconn_registered;
static bool svs_unconn_down;		/* unload */
DEFINE_STATIC_SRCU(svs_unconn_srcu);

/*
 * A datagram of @sk to @uaddr: rewrite it if it is for an unconnected
 * service.  Returns 1 (rewritten), 0 (not ours), -ECONNREFUSED, or
 * SVS_UC_WRAPPER (@in_handler on PREEMPT_RT: before anything changed).
 */
static int svs_uc_send(struct sock *sk, struct sockaddr *uaddr, int addr_len,
		       bool in_handler)
{
	union nf_inet_addr daddr;
	struct svs_sched_in in;
	struct svs_svc_view v;
	const struct svs_dtable *dt;
	struct svs_service *svc;
	struct svs_conn *conn;
	struct svs_dest *dest;
	struct svs_net *sn;
	struct svs_key key;
	struct socket *sock;
	__be16 dport;
	int idx, ret = 0;

	if (!svs_key_of(uaddr, addr_len, IPPROTO_UDP, &key))
		return 0;
	sn = svs_net(sock_net(sk));
	if (in_handler && IS_ENABLED(CONFIG_PREEMPT_RT)) {
		/* Only whether the wrapper decides: it reads it all again. */
		rcu_read_lock();
		svc = svs_service_lookup_rcu(sn, &key);
		if (svc && (READ_ONCE(svc->conf.flags) & SOCK_VS_SVC_F_UNCONNECTED))
			ret = SVS_UC_WRAPPER;
		goto out;
	}
	/* The service and its settings, read at once (see svs_connect()). */
	svc = svs_svc_view(sn, &key, &v);	/* returns in an RCU read section */
	if (!svc || !(v.flags & SOCK_VS_SVC_F_UNCONNECTED))
		goto out;
	if (v.skip && svs_skip_match(v.skip, sk))
		goto out;	/* exempt: to the virtual address itself */
	sock = READ_ONCE(sk->sk_socket);
	conn = sock ? svs_conn_of_ops(READ_ONCE(sock->ops)) : NULL;
	if (conn && svs_conn_uc_find(conn, &key, &daddr, &dport)) {
		svs_rewrite_addr(uaddr, addr_len, &daddr, dport);
		ret = 1;
		goto out;
	}

	dt = v.dt;
	svs_sched_in_init(&in, dt, v.hash_key, sk);
	in.seq = (u64)atomic64_inc_return(&svc->seq) - 1;
	idx = dt->sched->pick(&in);
	if (idx < 0 || idx >= (int)dt->n) {
		svs_stat_inc(&svc->stats, SVS_STAT_REFUSED);
		ret = -ECONNREFUSED;
		goto out;
	}
	dest = dt->dest[idx];
	svs_rewrite_addr(uaddr, addr_len, &dest->addr, dest->port);
	svs_stat_inc(&svc->stats, SVS_STAT_CONNS);
	svs_stat_inc(&dest->stats, SVS_STAT_CONNS);
	conn = svs_conn_attach(sk);
	if (!conn || !svs_conn_uc_add(conn, svc, dest))
		svs_conn_untracked(svc, dest);	/* the next datagram chooses again */
	ret = 1;
out:
	rcu_read_unlock();
	return ret;
}

/* A datagram to an unconnected service without a usable real server. */
static noinline int svs_uc_refused(struct sock *sk, struct msghdr *msg, size_t len)
{
	return -ECONNREFUSED;
}

/* PREEMPT_RT: the handler's work in the sender's context. */
static int svs_uc_wrapped(struct sock *sk, struct msghdr *msg, size_t len,
			  int (*sendmsg)(struct sock *, struct msghdr *, size_t))
{
	int idx, ret;

	idx = srcu_read_lock(&svs_unconn_srcu);
	ret = svs_uc_send(sk, msg->msg_name, msg->msg_namelen, false);
	if (ret >= 0)
		ret = sendmsg(sk, msg, len);
	srcu_read_unlock(&svs_unconn_srcu, idx);
	return ret;
}

static noinline int svs_udp4_sendmsg(struct sock *sk, struct msghdr *msg, size_t len)
{
	return svs_uc_wrapped(sk, msg, len, udp_sendmsg);
}

static noinline int svs_udp6_sendmsg(struct sock *sk, struct msghdr *msg, size_t len)
{
	return svs_uc_wrapped(sk, msg, len, sk->sk_prot->sendmsg);
}

static int svs_uc_pre(struct pt_regs *regs, unsigned long wrapper)
{
	struct sock *sk = (struct sock *)regs_get_kernel_argument(regs, 0);
	struct msghdr *msg = (struct msghdr *)regs_get_kernel_argument(regs, 1);
	unsigned long caller = *(unsigned long *)kernel_stack_pointer(regs);
	int ret;

	if (!msg->msg_name || sk->sk_kern_sock || sk->sk_type != SOCK_DGRAM ||
	    sk->sk_protocol != IPPROTO_UDP)
		return 0;
	/* The wrapper's own call (PREEMPT_RT). */
	if (within_module(caller, THIS_MODULE))
		return 0;
	ret = svs_uc_send(sk, msg->msg_name, msg->msg_namelen, true);
	if (ret == SVS_UC_WRAPPER)
		instruction_pointer_set(regs, wrapper);
	else if (ret == -ECONNREFUSED)
		instruction_pointer_set(regs, (unsigned long)svs_uc_refused);
	else
		return 0;
	return 1;
}

static int svs_uc_pre4(struct kprobe *p, struct pt_regs *regs)
{
	return svs_uc_pre(regs, (unsigned long)svs_udp4_sendmsg);
}

static int svs_uc_pre6(struct kprobe *p, struct pt_regs *regs)
{
	return svs_uc_pre(regs, (unsigned long)svs_udp6_sendmsg);
}

/* Filled by svs_uc_reset() before each registration. */
static struct kprobe svs_uc_kp4, svs_uc_kp6;
static struct kprobe *svs_uc_kps[] = { &svs_uc_kp4, &svs_uc_kp6 };

/* A kprobe can be registered once: fresh copies for each registration. */
static void svs_uc_reset(void)
{
	struct kprobe k4 = { .symbol_name = SVS_SYM_UDP4_SENDMSG, .pre_handler = svs_uc_pre4 };
	struct kprobe k6 = { .symbol_name = SVS_SYM_UDP6_SENDMSG, .pre_handler = svs_uc_pre6 };

	svs_uc_kp4 = k4;
	svs_uc_kp6 = k6;
}

static int svs_uc_register(void)
{
	int i, err;

	svs_uc_reset();
	err = register_kprobes(svs_uc_kps, ARRAY_SIZE(svs_uc_kps));
	if (err)
		return err;
	for (i = 0; i < ARRAY_SIZE(svs_uc_kps); i++) {
		if (!(svs_uc_kps[i]->flags & KPROBE_FLAG_FTRACE)) {
			unregister_kprobes(svs_uc_kps, ARRAY_SIZE(svs_uc_kps));
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

static void svs_uc_unregister(void)
{
	unregister_kprobes(svs_uc_kps, ARRAY_SIZE(svs_uc_kps));
	/* Senders redirected to the stub or a wrapper, then in the wrapper. */
	synchronize_rcu_tasks();
	synchronize_srcu(&svs_unconn_srcu);
	synchronize_rcu_tasks();
}

/* A service with SOCK_VS_SVC_F_UNCONNECTED appears (process context). */
int svs_unconn_get(struct netlink_ext_ack *extack)
{
	int err = 0;

	mutex_lock(&svs_unconn_mutex);
	if (svs_unconn_down) {
		err = -ENODEV;
	} else if (!svs_unconn_registered) {
		err = svs_uc_register();
		if (err)
			NL_SET_ERR_MSG(extack,
				       "cannot install the unconnected UDP hook (kprobes on udp_sendmsg, udpv6_sendmsg)");
		else
			svs_unconn_registered = true;
	}
	if (!err)
		svs_unconn_users++;
	mutex_unlock(&svs_unconn_mutex);
	return err;
}

/* One goes (deleted, or the flag cleared); the last takes the hook away. */
void svs_unconn_put(void)
{
	mutex_lock(&svs_unconn_mutex);
	if (!WARN_ON_ONCE(!svs_unconn_users) && !--svs_unconn_users &&
	    svs_unconn_registered) {
		svs_uc_unregister();
		svs_unconn_registered = false;
	}
	mutex_unlock(&svs_unconn_mutex);
}

/* Unload: no new bindings from here on. */
void svs_unconn_shutdown(void)
{
	mutex_lock(&svs_unconn_mutex);
	svs_unconn_down = true;
	if (svs_unconn_registered) {
		svs_uc_unregister();
		svs_unconn_registered = false;
	}
	mutex_unlock(&svs_unconn_mutex);
}
