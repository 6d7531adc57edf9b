// SPDX-License-Identifier: GPL-2.0
/*
 * svs_chain: a test-only module that plays "another subsystem" on TCP
 * sockets, for tests/vm/cases/67-chained-destructor.py.
 *
 * It registers a TCP upper-layer protocol "svs_chain" (setsockopt(fd,
 * IPPROTO_TCP, TCP_ULP, "svs_chain")) that does what kTLS device offload
 * (tls_device_attach) and espintcp do to a connected socket:
 *
 *  - saves sk->sk_destruct and installs its own, which calls the saved
 *    one (and counts the calls: parameter "destructs");
 *  - replaces sock->ops by a copy of the socket's current operations,
 *    made from the first socket of each family, as tls_build_proto() and
 *    espintcp_init_sk() do (parameter "ops_copies").
 *
 * Whatever sock_vs did to the socket before must survive both: after
 * sock_vs is unloaded, the socket keeps working and this destructor runs
 * exactly once.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp.h>

struct svs_chain_ctx {
	void (*destruct)(struct sock *sk);
};

static int destructs;
module_param(destructs, int, 0444);
MODULE_PARM_DESC(destructs, "destructor calls so far");
static int ops_copies;
module_param(ops_copies, int, 0444);
MODULE_PARM_DESC(ops_copies, "operations tables copied so far");

static struct proto_ops svs_chain_ops[2];
static bool svs_chain_built[2];
static DEFINE_MUTEX(svs_chain_lock);

static void svs_chain_destruct(struct sock *sk)
{
	struct svs_chain_ctx *ctx = inet_csk(sk)->icsk_ulp_data;
	void (*orig)(struct sock *sk) = ctx->destruct;

	inet_csk(sk)->icsk_ulp_data = NULL;
	kfree(ctx);
	WRITE_ONCE(destructs, READ_ONCE(destructs) + 1);
	if (orig)
		orig(sk);
}

static int svs_chain_init(struct sock *sk)
{
	int v6 = sk->sk_family == AF_INET6;
	struct svs_chain_ctx *ctx;

	if (!sk->sk_socket)
		return -EINVAL;
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	mutex_lock(&svs_chain_lock);
	if (!svs_chain_built[v6]) {
		svs_chain_ops[v6] = *sk->sk_socket->ops;
		svs_chain_built[v6] = true;
		ops_copies++;
	}
	mutex_unlock(&svs_chain_lock);
	WRITE_ONCE(sk->sk_socket->ops, &svs_chain_ops[v6]);
	ctx->destruct = sk->sk_destruct;
	inet_csk(sk)->icsk_ulp_data = ctx;
	sk->sk_destruct = svs_chain_destruct;
	return 0;
}

static struct tcp_ulp_ops svs_chain_ulp = {
	.name = "svs_chain",
	.owner = THIS_MODULE,
	.init = svs_chain_init,
};

static int __init svs_chain_mod_init(void)
{
	return tcp_register_ulp(&svs_chain_ulp);
}

static void __exit svs_chain_mod_exit(void)
{
	tcp_unregister_ulp(&svs_chain_ulp);
}

module_init(svs_chain_mod_init);
module_exit(svs_chain_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sock_vs test: a TCP ULP that chains sk_destruct and copies sock->ops");
