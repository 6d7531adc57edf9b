// SPDX-License-Identifier: GPL-2.0
/*
 * port: the application chooses the real server by binding its local
 * port.  A socket bound to port p goes to the (p % u)-th of the u usable
 * servers (weight > 0, not overloaded), counted in configuration order;
 * so a client that binds ports 5000, 5001, ... spreads over the servers in
 * order, and with ScyllaDB-style shard-aware ports on the client side it
 * can also pick the server.  A quiesced or overloaded server drops out of
 * the modulus.  An unbound socket (port 0) goes round robin, exactly as
 * rr.  There is no IPVS counterpart; O(servers), lock- and allocation-free.
 */
#include "svs_sched.h"

/* rr without a precomputed list: the (seq % w)-th server of weight > 0. */
static int svs_port_rr(const struct svs_sched_in *in)
{
	u32 i, k, nw = 0, target;

	for (i = 0; i < in->n; i++)
		if (in->weight[i])
			nw++;
	if (!nw)
		return -1;
	target = svs_mod64(in->seq, nw);
	for (i = 0; i < in->n; i++)
		if (in->weight[i] && !target--)
			break;
	/* Overloaded servers are skipped: the next usable one in order. */
	for (k = 0; k < in->n; k++) {
		u32 j = i + k < in->n ? i + k : i + k - in->n;

		if (svs_sched_usable(in, j))
			return (int)j;
	}
	return -1;
}

static int svs_port_pick(const struct svs_sched_in *in)
{
	u32 i, usable = 0, target;
	int last = -1;

	if (!in->lport)
		return svs_port_rr(in);
	for (i = 0; i < in->n; i++)
		if (svs_sched_usable(in, i))
			usable++;
	if (!usable)
		return -1;
	target = in->lport % usable;
	for (i = 0; i < in->n; i++) {
		if (!svs_sched_usable(in, i))
			continue;
		if (!target--)
			return (int)i;
		last = (int)i;
	}
	/* Fewer usable servers than a moment ago: the last one. */
	return last;
}

const struct svs_sched_ops svs_sched_port = {
	.name = "port",
	.build = svs_sched_nobuild,
	.free = svs_sched_nofree,
	.pick = svs_port_pick,
};
