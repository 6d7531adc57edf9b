// SPDX-License-Identifier: GPL-2.0
/* Scheduler registry: every scheduler the module knows, by name. */
#include "svs_sched.h"

static const struct svs_sched_ops *const svs_scheds[] = {
	&svs_sched_rr,
	&svs_sched_wrr,
};

const struct svs_sched_ops *svs_sched_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(svs_scheds); i++)
		if (!strcmp(svs_scheds[i]->name, name))
			return svs_scheds[i];
	return NULL;
}
