// SPDX-License-Identifier: GPL-2.0
/*
 * Shard placement.
 *
 * A sharded real server (Seastar's "port" policy, ScyllaDB's shard-aware
 * port) serves a connection on shard = client local port % shards.  For an
 * unbound TCP socket sock_vs chooses the shard by the service's policy and
 * binds the socket to a free local port of that residue class before the
 * kernel would pick an ephemeral port, as shard-aware drivers do by hand.
 *
 * Shard round robin (and lc's tie breaking) counts picks per real server:
 * the service's counter would alias with the server round robin (two
 * servers would each see only odd or only even counts).
 *
 * The port is taken the way the kernel's own connect-time choice would
 * take it, not with bind() semantics: the socket is marked SO_REUSEADDR
 * (sk_reuse) and bound to a port of the class with the protocol's
 * get_port(), which other sockets sock_vs placed (TIME_WAIT ones included)
 * do not block; connect's inet_hash_connect() then accepts the port when
 * the four-tuple is unique, reusing a TIME_WAIT one as tcp_tw_reuse
 * allows, exactly as for an ephemeral port.  When the four-tuple is taken
 * (EADDRNOTAVAIL) the connect wrapper releases the port and tries another
 * member of the class (hook.c; at most SVS_SHARD_TRIES ports, the search
 * in process context).  A connect that fails before SYN_SENT releases the
 * port (the kernel does after SYN_SENT).  The range is the socket's
 * IP_LOCAL_PORT_RANGE where set, else the namespace's ip_local_port_range;
 * ip_local_reserved_ports are skipped.  A port of the class held by a
 * socket sock_vs did not place (bound without SO_REUSEADDR) is skipped.
 * If no member can be bound the connect fails with EADDRNOTAVAIL rather
 * than landing on another shard.  Placed sockets keep SO_REUSEADDR set.
 */
#include <linux/random.h>
#include <linux/smp.h>
#include <net/inet_sock.h>
#include <net/ip.h>
#include <net/sock.h>

#include "sock_vs.h"

/* uapi policy -> scheduler code's policy (netlink bounds the index) */
static const enum svs_shard_policy svs_shard_policies[SOCK_VS_SHARD_MAX + 1] = {
	[SOCK_VS_SHARD_RR] = SVS_SHARD_RR,
	[SOCK_VS_SHARD_LC] = SVS_SHARD_LC,
	[SOCK_VS_SHARD_CPU] = SVS_SHARD_CPU,
	[SOCK_VS_SHARD_HASH] = SVS_SHARD_HASH,
};

/* Bind unbound @sk to a local port p with p % nshards == shard. */
int svs_bind_port_in_class(struct sock *sk, u32 nshards, u32 shard)
{
	struct net *net = sock_net(sk);
	u32 count, start, k, port;
	int lo, hi;

	inet_sk_get_local_port_range(sk, &lo, &hi);
	count = svs_shard_port_count(lo, hi, nshards, shard);
	if (!count)
		return -EADDRNOTAVAIL;
	/* Shareable with the other sockets we place, as at connect time. */
	sk->sk_reuse = SK_CAN_REUSE;
	start = get_random_u32() % count;
	for (k = 0; k < count; k++) {
		port = svs_shard_port_nth(lo, hi, nshards, shard,
					  (start + k) % count);
		if (inet_is_local_reserved_port(net, port))
			continue;
		if (sk->sk_prot->get_port(sk, port))
			continue;
		/* What inet_bind() does after get_port() succeeds. */
		inet_sk(sk)->inet_sport = htons(inet_sk(sk)->inet_num);
		inet_sk(sk)->inet_daddr = 0;
		inet_sk(sk)->inet_dport = 0;
		sk_dst_reset(sk);
		return 0;
	}
	return -EADDRNOTAVAIL;
}

/*
 * Choose the shard of @sk on @dest (sharded) and make the socket's local
 * port agree with it.  Returns 0 with *shard set (and @pl filled in when
 * sock_vs chose the port), or -EADDRNOTAVAIL.  @shard_policy: the
 * service's, as the connect read its settings (svs_svc_view()).
 */
int svs_shard_place(struct sock *sk, u8 shard_policy,
		    struct svs_dest *dest, const struct svs_sched_in *in,
		    int *shard, struct svs_placement *pl)
{
	u16 lport = inet_sk(sk)->inet_num;
	u32 s;
	int err;

	if (lport || sk->sk_protocol != IPPROTO_TCP) {
		*shard = lport % dest->shards;
		return 0;
	}
	s = svs_shard_pick(svs_shard_policies[shard_policy],
			   dest->shards,
			   dest->shard_conns,
			   (u32)atomic_inc_return(&dest->shard_seq) - 1,
			   raw_smp_processor_id(),
			   in->hash);
	err = svs_bind_port_in_class(sk, dest->shards, s);
	if (err)
		return err;
	*shard = s;
	pl->nshards = dest->shards;
	pl->shard = s;
	return 0;
}
