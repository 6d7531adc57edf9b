/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Schedulers: plain C shared by the module and the host unit tests.
 *
 * A scheduler sees an immutable snapshot of a service's real servers (their
 * weights, in configuration order).  ->build() runs on the configuration
 * path whenever the snapshot changes and may precompute whatever ->pick()
 * needs; ->pick() runs on the connect path, in atomic context, without
 * locks: its only mutable input is @seq, a per-service counter that the
 * caller increments atomically once per pick.
 */
#ifndef _SOCK_VS_SCHED_H
#define _SOCK_VS_SCHED_H

#include "sched_compat.h"

struct svs_sched_in {
	u32 n;			/* real servers in the snapshot */
	const u32 *weight;	/* their weights, configuration order */
	const void *priv;	/* what ->build() made */
	u64 seq;		/* per-service pick counter */
};

struct svs_sched_ops {
	const char *name;
	/* Precompute for @n weights; may leave *priv NULL.  0 or -errno. */
	int (*build)(const u32 *weight, u32 n, void **priv);
	void (*free)(void *priv);
	/* Index of the chosen real server, or -1 if none is usable. */
	int (*pick)(const struct svs_sched_in *in);
};

extern const struct svs_sched_ops svs_sched_rr;
extern const struct svs_sched_ops svs_sched_wrr;

/* Look a scheduler up by name; NULL if unknown. */
const struct svs_sched_ops *svs_sched_find(const char *name);

#endif /* _SOCK_VS_SCHED_H */
