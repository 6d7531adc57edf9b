// SPDX-License-Identifier: GPL-2.0
/* Scheduler registry: every scheduler the module knows, by name. */
#include "svs_sched.h"

#ifndef SVS_HOST
#include <linux/error-injection.h>

/*
 * Every scheduler table is allocated here, charged to the configuring
 * process's memory cgroup; /sys/kernel/debug/fail_function can make it
 * return NULL.
 */
noinline void *svs_zalloc(size_t size)
{
	return kvzalloc(size, GFP_KERNEL_ACCOUNT);
}

ALLOW_ERROR_INJECTION(svs_zalloc, NULL);
#endif

static const struct svs_sched_ops *const svs_scheds[] = {
	&svs_sched_rr,
	&svs_sched_wrr,
	&svs_sched_lc,
	&svs_sched_wlc,
	&svs_sched_sh,
	&svs_sched_mh,
	&svs_sched_port,
	&svs_sched_fixed,
	&svs_sched_fo,
	&svs_sched_p2c,
};

const struct svs_sched_ops *svs_sched_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(svs_scheds); i++)
		if (!strcmp(svs_scheds[i]->name, name))
			return svs_scheds[i];
	return NULL;
}

int svs_sched_nobuild(const struct svs_sched_build *b, void **priv)
{
	(void)b;
	*priv = NULL;
	return 0;
}

void svs_sched_nofree(void *priv)
{
	(void)priv;
}

u64 svs_sched_dest_id(const u8 *addr16, u16 port)
{
	u64 h = svs_sched_mix64(port);
	int i;

	for (i = 0; i < 16; i += 4)
		h = svs_sched_mix64(h ^ ((u64)addr16[i] << 24 | (u64)addr16[i + 1] << 16 |
					 (u64)addr16[i + 2] << 8 | addr16[i + 3]));
	return h;
}

bool svs_sched_usable(const struct svs_sched_in *in, u32 i)
{
	struct svs_sched_live *live;
	u32 conns, lower, upper;

	if (!in->weight[i])
		return false;
	if (!in->live)
		return true;
	live = in->live[i];
	if (svs_atomic_read(&live->ejected))
		return false;
	upper = in->u_thresh ? in->u_thresh[i] : live->u_thresh;
	if (!upper)
		return true;
	conns = (u32)svs_atomic_read(&live->conns);
	if (svs_atomic_read(&live->overloaded)) {
		lower = in->l_thresh ? in->l_thresh[i] : live->l_thresh;
		if (lower ? conns <= lower : (u64)conns * 4 < (u64)upper * 3) {
			svs_atomic_set(&live->overloaded, 0);
			return true;
		}
		return false;
	}
	if (conns >= upper) {
		svs_atomic_set(&live->overloaded, 1);
		return false;
	}
	return true;
}
