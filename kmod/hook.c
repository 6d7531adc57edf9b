// SPDX-License-Identifier: GPL-2.0
/*
 * The connect hook.
 *
 * sock_vs puts kprobes on the entry of the functions every connect of a
 * TCP or UDP socket goes through, whatever the caller (connect(2),
 * sendto/sendmsg(MSG_FASTOPEN), io_uring, TCP_FASTOPEN_CONNECT):
 *
 *   tcp_v4_connect, tcp_v6_connect          TCP (sk->sk_prot->connect)
 *   __ip4_datagram_connect, __ip6_datagram_connect   UDP connect(2)
 *
 * (compat.h says why these and what differs between kernels).
 *
 * On x86_64 with CONFIG_KPROBES_ON_FTRACE these are ftrace-based probes: a
 * call at the function's fentry site, no breakpoint trap.  The pre-handler
 * runs with preemption disabled and decides, under RCU, whether the connect
 * is sock_vs's business: the destination is a virtual service of the
 * socket's namespace, or the socket was balanced before (a reconnect).
 * Anything else costs that one lookup and nothing more.  The common case,
 * a TCP socket's first connect to a service without sharded servers, it
 * balances itself on kernels where that is legal in its context (not
 * PREEMPT_RT: spinlocks and GFP_NOWAIT allocations), rewriting the
 * kernel's copy of the address before the probed function reads it: one
 * pass through the probe, one lookup.  For the rest (shard placement, a
 * refusal, a reconnect, PREEMPT_RT, and UDP, whose connect may still fail
 * after the rewrite: the wrapper sets the record's count from the outcome,
 * conn.c) it points the saved
 * instruction pointer at a wrapper of the same prototype and returns 1
 * (the mechanism behind the kernel's error injection): the probed function
 * "returns" into svs_*_connect(), which runs in the caller's own context,
 * process context with the socket locked (lock_sock()), preemptible even
 * on PREEMPT_RT.  The wrapper schedules, rewrites the kernel's copy of the
 * destination, gives the socket its per-socket state (conn.c: its own
 * operations table, so that getpeername(), recvfrom() and close() of
 * balanced sockets, and only theirs, reach sock_vs), and calls the probed
 * function itself, through its exported entry (tcp_prot.connect,
 * tcpv6_prot.connect, __ip4/__ip6_datagram_connect), which connects to the
 * real server as if the application had asked for it.  That second entry
 * passes the probe: the handler lets calls whose return address is in this
 * module through.  When a service has no usable real server, the wrapper
 * returns -ECONNREFUSED instead of calling it.
 *
 * The handler redirects only sockets locked by their owner
 * (sock_owned_by_user()): every caller of the probed functions holds
 * lock_sock(), so that is the proof that the wrapper may sleep.
 *
 * Unload: unregister_kprobes() stops new redirects; an RCU-tasks grace
 * period (a voluntary context switch of every task) waits for tasks
 * between a redirect and the wrapper's srcu_read_lock(); synchronize_srcu()
 * waits for wrappers in progress (they may sleep in the probed function,
 * e.g. allocating the SYN); a last RCU-tasks grace period covers the
 * instructions after srcu_read_unlock().
 *
 * These four probes and the TCP state tracepoint (sockstate.c: a few
 * compares per state change of an unbalanced socket) are the only hooks
 * sock_vs has into the rest of the host.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/srcu.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ptrace.h>
#include <linux/cgroup.h>
#include <linux/sched.h>
#include <net/inet_sock.h>
#include <net/inet_common.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/tcp.h>
#include <net/transp_v6.h>
#include <net/sock.h>

#include "sock_vs.h"
#include "compat.h"

/* The service's hash key for this connect (sh, mh, the "hash" shards). */
u64 svs_hash_key(struct sock *sk, u8 which)
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
	case SOCK_VS_HASH_NETNS:
		return svs_sched_mix64(sock_net(sk)->net_cookie);
	}
	return svs_sched_mix64(current->tgid);
}

/*
 * What a scheduler sees of a service's snapshot @dt for @sk's connect or
 * datagram (@hash_key: the service's); the pick counter (seq) is the
 * caller's to advance.
 */
void svs_sched_in_init(struct svs_sched_in *in, const struct svs_dtable *dt,
		       u8 hash_key, struct sock *sk)
{
	in->n = dt->n;
	in->weight = dt->weight;
	in->id = dt->id;
	in->live = dt->live;
	in->u_thresh = dt->u_thresh;
	in->l_thresh = dt->l_thresh;
	in->priv = dt->priv;
	in->seq = 0;
	in->hash = svs_hash_key(sk, hash_key);
	in->lport = inet_sk(sk)->inet_num;
	in->now_ms = jiffies_to_msecs(jiffies);
}

/* The service key of a connect to @uaddr; false if it cannot be one. */
bool svs_key_of(const struct sockaddr *uaddr, int addr_len, u8 protocol,
		struct svs_key *key)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)uaddr;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)uaddr;

	if (!uaddr)
		return false;
	memset(key, 0, sizeof(*key));
	switch (uaddr->sa_family) {
	case AF_INET:
		if (addr_len < (int)sizeof(*sin))
			return false;
		key->addr.ip = sin->sin_addr.s_addr;
		key->port = sin->sin_port;
		break;
	case AF_INET6:
		if (addr_len < SIN6_LEN_RFC2133)
			return false;
		key->addr.in6 = sin6->sin6_addr;
		key->port = sin6->sin6_port;
		break;
	default:
		return false;
	}
	key->af = uaddr->sa_family;
	key->protocol = protocol;
	return true;
}

/* The kernel's copy of a destination (of its service's family): @addr:@port. */
void svs_rewrite_addr(struct sockaddr *uaddr, int addr_len,
		      const union nf_inet_addr *addr, __be16 port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)uaddr;
	struct sockaddr_in *sin = (struct sockaddr_in *)uaddr;

	if (uaddr->sa_family == AF_INET) {
		sin->sin_addr.s_addr = addr->ip;
		sin->sin_port = port;
	} else {
		sin6->sin6_addr = addr->in6;
		sin6->sin6_port = port;
		if (addr_len >= (int)sizeof(*sin6))
			sin6->sin6_scope_id = 0;
	}
}

/* svs_connect() from the probe handler: the wrapper has to do this one. */
#define SVS_NEEDS_WRAPPER 2

/*
 * Look the destination up and, when it is a virtual service, rewrite it.
 * Returns 1 (rewritten), 0 (not a virtual service), -ECONNREFUSED (no
 * usable real server) or -EADDRNOTAVAIL (no free port for the shard).
 * @in_handler (the probe handler, preemption off, see svs_pre_handler()):
 * SVS_NEEDS_WRAPPER, before anything has changed, for what only the
 * wrapper can do: shard placement, a refusal.
 *
 * Everything the decision depends on of the configuration (the service,
 * its snapshot of real servers, its exemptions and settings) is read at
 * once by svs_svc_view(), which retries while a change is being published:
 * a connect sees the configuration before or after a change (a whole
 * transaction, txn.c), never a mix.  What the connect then does (the pick
 * counter, templates, the probe of an ejected server, counters, the record)
 * happens once, after that read, on what it read.
 */
static int svs_connect(struct sock *sk, struct sockaddr *uaddr, int addr_len,
		       u8 protocol, struct svs_placement *pl, bool in_handler)
{
	struct svs_sched_in in;
	struct svs_svc_view v;
	const struct svs_dtable *dt;
	struct svs_tmpl *tmpl = NULL;
	struct svs_tmpl_key tkey;
	struct svs_service *svc;
	struct svs_dest *dest;
	struct svs_net *sn;
	struct svs_key key;
	int idx, shard = -1, ret = 0;

	if (!svs_key_of(uaddr, addr_len, protocol, &key))
		return 0;

	sn = svs_net(sock_net(sk));
	svc = svs_svc_view(sn, &key, &v);	/* returns in an RCU read section */
	if (!svc)
		goto out;
	if (v.skip && svs_skip_match(v.skip, sk))
		goto out;	/* exempt: to the virtual address itself */

	dt = v.dt;
	if (in_handler && (dt->sharded || !dt->n)) {
		ret = SVS_NEEDS_WRAPPER;
		goto out;
	}
	svs_sched_in_init(&in, dt, v.hash_key, sk);
	/* Persistence: the client's template names its server. */
	if (v.persist)
		tmpl = svs_persist_get(sn, sk, svc, v.hash_key, in.hash, &tkey);
	if (tmpl) {
		dest = svs_persist_dest(tmpl);
	} else if (v.eject && atomic_read(&svc->ejected) &&
		   svs_eject_probe(svc, dt, &dest)) {
		/* Passive health: this connect probes an ejected server. */
	} else {
		/* The pick counter counts picks (a template's connect is none). */
		in.seq = (u64)atomic64_inc_return(&svc->seq) - 1;
		idx = dt->sched->pick(&in);
		if (idx < 0 || idx >= (int)dt->n) {
			if (in_handler) {
				ret = SVS_NEEDS_WRAPPER;	/* it refuses (or not) */
				goto out;
			}
			svs_stat_inc(&svc->stats, SVS_STAT_REFUSED);
			ret = -ECONNREFUSED;
			goto out;
		}
		dest = dt->dest[idx];
		if (v.persist)
			tmpl = svs_persist_create(sn, v.persist, dest, &tkey);
	}
	if (dest->shards > 1) {
		ret = svs_shard_place(sk, v.shard_policy, dest, &in, &shard, pl);
		if (ret) {
			if (tmpl)
				svs_persist_release(tmpl);
			goto out;
		}
	}

	svs_rewrite_addr(uaddr, addr_len, &dest->addr, dest->port);
	svs_stat_inc(&svc->stats, SVS_STAT_CONNS);
	svs_stat_inc(&dest->stats, SVS_STAT_CONNS);
	svs_conn_track(sk, svc, dest, shard,
		       !(v.flags & SOCK_VS_SVC_F_REAL_PEERNAME), tmpl);
	ret = 1;
out:
	rcu_read_unlock();
	return ret;
}

DEFINE_STATIC_SRCU(svs_hook_srcu);
/* Connects the handler could not hand to a wrapper (see svs_pre_handler). */
static atomic_long_t svs_hook_unlocked = ATOMIC_LONG_INIT(0);

/*
 * The connect of a socket whose local port sock_vs chose for its shard
 * failed: give the port back if the socket still holds it unconnected
 * (the kernel does once the connect reached SYN_SENT, not before).
 */
static void svs_release_port(struct sock *sk)
{
	/* put_port: the counterpart of the get_port shard.c binds with. */
	if (READ_ONCE(sk->sk_state) == TCP_CLOSE && inet_sk(sk)->inet_num &&
	    !(sk->sk_userlocks & SOCK_BINDPORT_LOCK) && sk->sk_prot->put_port)
		sk->sk_prot->put_port(sk);
}

/* A connect of @protocol, redirected by the probe; process context. */
static int svs_redirected(struct sock *sk, struct sockaddr *uaddr,
			  int addr_len, u8 protocol,
			  typeof(tcp_prot.connect) orig)
{
	struct svs_placement pl = { 0 };
	int idx, ret, tries;

	idx = srcu_read_lock(&svs_hook_srcu);
	/* The first balanced connect attaches what keeps the counts (conn.c). */
	svs_sockstate_get();
	ret = svs_connect(sk, uaddr, addr_len, protocol, &pl, false);
	if (ret != 1)
		/* Not (or no longer) balanced: forget an earlier scheduling. */
		svs_conn_untrack(sk);
	if (ret < 0)
		goto out;
	ret = orig(sk, (void *)uaddr, addr_len);
	/* UDP's state (connected or not) is known now: the counts follow. */
	if (protocol == IPPROTO_UDP)
		svs_conn_sync_state(sk);
	/*
	 * The four-tuple with the port chosen for the shard is taken (by a
	 * connection or a TIME_WAIT tcp_tw_reuse does not let go): as the
	 * kernel's own port choice would, try other ports, of the same class.
	 */
	for (tries = 1; ret == -EADDRNOTAVAIL && pl.nshards && tries < SVS_SHARD_TRIES;
	     tries++) {
		svs_release_port(sk);
		if (svs_bind_port_in_class(sk, pl.nshards, pl.shard))
			break;
		ret = orig(sk, (void *)uaddr, addr_len);
	}
	if (ret && pl.nshards)
		svs_release_port(sk);
out:
	srcu_read_unlock(&svs_hook_srcu, idx);
	return ret;
}

static noinline int svs_tcp4_connect(struct sock *sk, struct sockaddr *uaddr,
				     int addr_len)
{
	return svs_redirected(sk, uaddr, addr_len, IPPROTO_TCP, tcp_prot.connect);
}

static noinline int svs_tcp6_connect(struct sock *sk, struct sockaddr *uaddr,
				     int addr_len)
{
	return svs_redirected(sk, uaddr, addr_len, IPPROTO_TCP,
			      tcpv6_prot.connect);
}

static noinline int svs_udp4_connect(struct sock *sk, struct sockaddr *uaddr,
				     int addr_len)
{
	return svs_redirected(sk, uaddr, addr_len, IPPROTO_UDP,
			      __ip4_datagram_connect);
}

static noinline int svs_udp6_connect(struct sock *sk, struct sockaddr *uaddr,
				     int addr_len)
{
	return svs_redirected(sk, uaddr, addr_len, IPPROTO_UDP,
			      __ip6_datagram_connect);
}

/* Whether the destination is a virtual service of @sk's namespace. */
static bool svs_is_virtual(struct sock *sk, const struct sockaddr *uaddr,
			   int addr_len, u8 protocol)
{
	struct svs_key key;
	struct svs_net *sn;
	bool hit;

	if (!svs_key_of(uaddr, addr_len, protocol, &key))
		return false;
	rcu_read_lock();
	sn = svs_net(sock_net(sk));
	hit = !!svs_service_lookup_rcu(sn, &key);
	rcu_read_unlock();
	return hit;
}

/*
 * Preemption is disabled.  A TCP socket's first connect to a virtual
 * service whose real servers have no shards is balanced right here, on
 * kernels where that is legal (not PREEMPT_RT: what it takes are spinlocks
 * and GFP_NOWAIT allocations), and the probed function goes on with the
 * rewritten address: one pass through the probe and one lookup.
 * Everything else that is sock_vs's business (shard placement, a refusal,
 * a reconnect of a balanced socket, any UDP connect to a service,
 * PREEMPT_RT) is redirected to @wrapper, which redoes the lookup in
 * process context (the configuration may change in between; it decides
 * on what it sees then).  A caller that does not hold lock_sock()
 * (none in the supported kernels) is neither balanced nor redirected: the
 * connect goes ahead unbalanced, counted in svs_hook_unlocked.
 */
static int svs_pre_handler(struct kprobe *p, struct pt_regs *regs, u8 protocol,
			   unsigned long wrapper)
{
	struct sock *sk = (struct sock *)regs_get_kernel_argument(regs, 0);
	struct sockaddr *uaddr =
		(struct sockaddr *)regs_get_kernel_argument(regs, 1);
	int addr_len = (int)regs_get_kernel_argument(regs, 2);
	unsigned long caller = *(unsigned long *)kernel_stack_pointer(regs);
	bool tracked;

	if (sk->sk_protocol != protocol || sk->sk_kern_sock)
		return 0;
	if (protocol == IPPROTO_UDP && sk->sk_type != SOCK_DGRAM)
		return 0;
	/* The wrapper's own call of the probed function. */
	if (within_module(caller, THIS_MODULE))
		return 0;
	tracked = svs_conn_maybe_tracked(sk);
	if (!tracked && !atomic_read(&svs_services_total))
		return 0;
	if (!sock_owned_by_user_nocheck(sk)) {
		if (tracked || svs_is_virtual(sk, uaddr, addr_len, protocol))
			atomic_long_inc(&svs_hook_unlocked);
		return 0;
	}
	if (!tracked) {
		/*
		 * UDP: the wrapper sees whether the connect succeeded; before
		 * the first balanced connect, the wrapper attaches the state
		 * tracepoints (the counts, conn.c).
		 */
		if (IS_ENABLED(CONFIG_PREEMPT_RT) || protocol == IPPROTO_UDP ||
		    !svs_sockstate_on()) {
			if (!svs_is_virtual(sk, uaddr, addr_len, protocol))
				return 0;
		} else if (svs_connect(sk, uaddr, addr_len, protocol, NULL,
				       true) != SVS_NEEDS_WRAPPER) {
			return 0;	/* not virtual, or balanced */
		}
	}
	instruction_pointer_set(regs, wrapper);
	return 1;
}

static int svs_pre_tcp4(struct kprobe *p, struct pt_regs *regs)
{
	return svs_pre_handler(p, regs, IPPROTO_TCP, (unsigned long)svs_tcp4_connect);
}

static int svs_pre_tcp6(struct kprobe *p, struct pt_regs *regs)
{
	return svs_pre_handler(p, regs, IPPROTO_TCP, (unsigned long)svs_tcp6_connect);
}

static int svs_pre_udp4(struct kprobe *p, struct pt_regs *regs)
{
	return svs_pre_handler(p, regs, IPPROTO_UDP, (unsigned long)svs_udp4_connect);
}

static int svs_pre_udp6(struct kprobe *p, struct pt_regs *regs)
{
	return svs_pre_handler(p, regs, IPPROTO_UDP, (unsigned long)svs_udp6_connect);
}

static struct kprobe svs_kp_tcp4 = {
	.symbol_name = SVS_SYM_TCP4_CONNECT,
	.pre_handler = svs_pre_tcp4,
};

static struct kprobe svs_kp_tcp6 = {
	.symbol_name = SVS_SYM_TCP6_CONNECT,
	.pre_handler = svs_pre_tcp6,
};

static struct kprobe svs_kp_udp4 = {
	.symbol_name = SVS_SYM_UDP4_CONNECT,
	.pre_handler = svs_pre_udp4,
};

static struct kprobe svs_kp_udp6 = {
	.symbol_name = SVS_SYM_UDP6_CONNECT,
	.pre_handler = svs_pre_udp6,
};

static struct kprobe *svs_kps[] = {
	&svs_kp_tcp4, &svs_kp_tcp6, &svs_kp_udp4, &svs_kp_udp6,
};

/* The function a wrapper calls must be the one its probe is on. */
static int svs_check_entry(const char *what, const void *fn, const char *name)
{
	char sym[KSYM_SYMBOL_LEN];

	sprint_symbol_no_offset(sym, (unsigned long)fn);
	if (!strcmp(sym, name))
		return 0;
	pr_err("%s is %s, not %s: refusing to load\n", what, sym, name);
	return -EOPNOTSUPP;
}

/*
 * Every probe redirects: only an ftrace-based kprobe honours a changed
 * instruction pointer (an optimized probe ignores it), and only its handler
 * runs at the function's entry, before the body.  A breakpoint-based or
 * optimized probe (a kernel without CONFIG_KPROBES_ON_FTRACE, or a symbol
 * ftrace cannot patch) is refused.  With no post_handler, the kprobes core
 * arms them through its IPMODIFY ftrace_ops, so ftrace knows they redirect
 * (as fail_function's probe does).
 */
int svs_hook_init(void)
{
	int i, err;

	err = svs_check_entry("tcp_prot.connect", tcp_prot.connect,
			      SVS_SYM_TCP4_CONNECT) ?:
	      svs_check_entry("tcpv6_prot.connect", tcpv6_prot.connect,
			      SVS_SYM_TCP6_CONNECT);
	if (err)
		return err;
	err = register_kprobes(svs_kps, ARRAY_SIZE(svs_kps));
	if (err) {
		pr_err("cannot install connect hooks (kprobes): %d\n", err);
		return err;
	}
	for (i = 0; i < ARRAY_SIZE(svs_kps); i++) {
		struct kprobe *kp = svs_kps[i];

		if (!(kp->flags & KPROBE_FLAG_FTRACE) || kp->post_handler) {
			pr_err("kprobe on %s is not ftrace-based: refusing to load (needs CONFIG_KPROBES_ON_FTRACE)\n",
			       kp->symbol_name);
			unregister_kprobes(svs_kps, ARRAY_SIZE(svs_kps));
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

void svs_hook_exit(void)
{
	long unlocked = atomic_long_read(&svs_hook_unlocked);

	unregister_kprobes(svs_kps, ARRAY_SIZE(svs_kps));
	/* Tasks redirected, not yet in svs_hook_srcu's read side. */
	synchronize_rcu_tasks();
	/* Wrappers in progress (they may sleep in the probed function). */
	synchronize_srcu(&svs_hook_srcu);
	/* The wrappers' last instructions after srcu_read_unlock(). */
	synchronize_rcu_tasks();
	if (unlocked)
		pr_info("%ld connects to a virtual service on a socket not locked by its owner were not balanced\n",
			unlocked);
}
