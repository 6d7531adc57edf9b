// SPDX-License-Identifier: GPL-2.0
/*
 * Passive health: outlier ejection from the kernel's own TCP state; and
 * the handshake times the p2c scheduler weighs (sched_p2c.c).
 *
 * For a TCP service with SOCK_VS_SVC_ATTR_EJECT = N, every balanced
 * socket's handshake outcome is seen where the kernel decides it: the
 * inet_sock_set_state tracepoint, SYN_SENT -> ESTABLISHED (success) or
 * SYN_SENT -> CLOSE (refused, reset, timed out, or given up by the
 * program).  N failures in a row eject the real server: the schedulers
 * skip it (svs_sched_usable()) for eject_time seconds, doubled on each
 * ejection in a row up to eject_time_max.  Then the next connect to the
 * service is sent to it as the probe, the server staying out for every
 * other connect; the probe's success readmits it and resets the doubling,
 * its failure ejects it again.  A probe without an outcome for eject_time
 * (its connect failed before SYN_SENT) lets another connect probe.  No
 * more than eject_pct percent of a service's servers are out at once.
 *
 * The tracepoint is the module's (sockstate.c, attached from the first
 * balanced connect: it also keeps ActiveConn/InActConn); it hands the
 * SYN_SENT exits of
 * balanced sockets to svs_eject_outcome(), which looks at them only while
 * some service has ejection on or schedules with p2c (svs_ej_users).  No
 * lock: per-server atomics, the service by RCU.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <net/tcp.h>

#include "sock_vs.h"

static DEFINE_MUTEX(svs_ej_mutex);
static unsigned int svs_ej_users;	/* services with ejection or p2c */
static bool svs_ej_down;

/* Out for eject_time << level seconds, at most eject_time_max. */
static unsigned long svs_ej_duration(const struct svs_service *svc, u32 level)
{
	u32 t = READ_ONCE(svc->conf.eject_time);
	u32 max = READ_ONCE(svc->conf.eject_time_max);

	if (level > 20 || ((u64)t << level) > max)
		t = max;
	else
		t <<= level;
	return (unsigned long)t * HZ;
}

/* Eject @dest of @svc (a failure with the threshold reached, or a probe's). */
static void svs_ej_eject(struct svs_service *svc, struct svs_dest *dest, int from)
{
	u32 n = READ_ONCE(svc->num_dests), out;
	unsigned long t;

	if (from == SOCK_VS_EJECT_NONE) {
		/* Within eject_pct of the service's servers, at least one... */
		out = atomic_inc_return(&svc->ejected);
		if ((u64)out * 100 > (u64)READ_ONCE(svc->conf.eject_pct) * n) {
			atomic_dec(&svc->ejected);
			return;
		}
		/* ...and once: another CPU's failure may be ejecting it too. */
		if (atomic_cmpxchg(&dest->ej_state, from, SOCK_VS_EJECT_OUT) != from) {
			atomic_dec(&svc->ejected);
			return;
		}
		dest->ej_level = 0;
	} else {
		if (atomic_cmpxchg(&dest->ej_state, from, SOCK_VS_EJECT_OUT) != from)
			return;
		dest->ej_level++;
	}
	t = svs_ej_duration(svc, dest->ej_level);
	WRITE_ONCE(dest->ej_until, jiffies + t);
	svs_atomic_set(&dest->live.ejected, 1);
	svs_stat_inc(&dest->stats, SVS_STAT_EJECTED);
	svs_stat_inc(&svc->stats, SVS_STAT_EJECTED);
	if (svc->key.af == AF_INET)
		pr_info_ratelimited("real server %pI4:%u ejected for %lu s (%u failed connects in a row)\n",
				    &dest->addr.ip, ntohs(dest->port), t / HZ,
				    atomic_read(&dest->ej_fails));
	else
		pr_info_ratelimited("real server [%pI6c]:%u ejected for %lu s (%u failed connects in a row)\n",
				    &dest->addr.in6, ntohs(dest->port), t / HZ,
				    atomic_read(&dest->ej_fails));
}

static void svs_ej_readmit(struct svs_service *svc, struct svs_dest *dest)
{
	if (atomic_cmpxchg(&dest->ej_state, SOCK_VS_EJECT_PROBE,
			   SOCK_VS_EJECT_NONE) != SOCK_VS_EJECT_PROBE)
		return;
	dest->ej_level = 0;
	svs_atomic_set(&dest->live.ejected, 0);
	atomic_dec(&svc->ejected);
}

/*
 * One handshake outcome of @sk, balanced to @dest (sockstate.c: SYN_SENT ->
 * ESTABLISHED or CLOSE; softirq or process context, RCU).
 */
void svs_eject_outcome(const struct sock *sk, struct svs_dest *dest, bool ok)
{
	struct svs_service *svc;
	u32 n;

	if (!READ_ONCE(svs_ej_users) || READ_ONCE(dest->removed))
		return;
	svc = READ_ONCE(dest->svc);	/* valid while not removed (RCU) */
	/* p2c: the kernel's smoothed RTT, as the handshake completes */
	if (ok && READ_ONCE(svc->conf.sched) == &svs_sched_p2c)
		svs_p2c_sample(&dest->live, tcp_sk(sk)->srtt_us >> 3,
			       jiffies_to_msecs(jiffies));
	n = READ_ONCE(svc->conf.eject);
	if (!n)
		return;
	if (ok) {
		atomic_set(&dest->ej_fails, 0);
		svs_ej_readmit(svc, dest);
		return;
	}
	svs_stat_inc(&dest->stats, SVS_STAT_FAILED);
	svs_stat_inc(&svc->stats, SVS_STAT_FAILED);
	if (atomic_inc_return(&dest->ej_fails) < n &&
	    atomic_read(&dest->ej_state) == SOCK_VS_EJECT_NONE)
		return;
	svs_ej_eject(svc, dest, atomic_read(&dest->ej_state) == SOCK_VS_EJECT_PROBE ?
			  SOCK_VS_EJECT_PROBE : SOCK_VS_EJECT_NONE);
}

/*
 * On the connect path of a service with ejection on and servers out: in
 * @dest the server this connect should probe, if one's time is up (it is
 * then PROBE, out for every other connect).  RCU held.
 */
bool svs_eject_probe(struct svs_service *svc, const struct svs_dtable *dt,
		     struct svs_dest **dest)
{
	unsigned long now = jiffies;
	struct svs_dest *d;
	u32 i;
	int st;

	for (i = 0; i < dt->n; i++) {
		d = dt->dest[i];
		st = atomic_read(&d->ej_state);
		if (st == SOCK_VS_EJECT_NONE || time_before(now, READ_ONCE(d->ej_until)))
			continue;
		if (!READ_ONCE(d->weight))
			continue;	/* quiesced: no probe either */
		if (atomic_cmpxchg(&d->ej_state, st, SOCK_VS_EJECT_PROBE) != st)
			continue;
		/* An outcome within eject_time, or another connect probes. */
		WRITE_ONCE(d->ej_until, now + svs_ej_duration(svc, 0));
		*dest = d;
		return true;
	}
	return false;
}

/* The state of @d and the ms left of its ejection, for the listing. */
u8 svs_eject_state(const struct svs_dest *d, u32 *left_ms)
{
	int st = atomic_read(&d->ej_state);
	long left = (long)(READ_ONCE(d->ej_until) - jiffies);

	*left_ms = st == SOCK_VS_EJECT_OUT && left > 0 ? jiffies_to_msecs(left) : 0;
	return st;
}

/* A server leaves its service (deleted): it counts no longer. */
void svs_eject_forget(struct svs_service *svc, struct svs_dest *d)
{
	if (atomic_xchg(&d->ej_state, SOCK_VS_EJECT_NONE) != SOCK_VS_EJECT_NONE)
		atomic_dec(&svc->ejected);
	svs_atomic_set(&d->live.ejected, 0);
}

/*
 * Service @svc's ejection was turned off (under the configuration lock):
 * every server is back, the ejected count follows.
 */
void svs_eject_reset(struct svs_service *svc)
{
	struct svs_dest *d;

	list_for_each_entry(d, &svc->dests, list) {
		svs_eject_forget(svc, d);
		atomic_set(&d->ej_fails, 0);
		d->ej_level = 0;
	}
}

/* A service turns ejection (or p2c) on: its servers' outcomes are looked at. */
int svs_eject_get(struct netlink_ext_ack *extack)
{
	int err = 0;

	mutex_lock(&svs_ej_mutex);
	if (svs_ej_down)
		err = -ENODEV;
	else
		WRITE_ONCE(svs_ej_users, svs_ej_users + 1);
	mutex_unlock(&svs_ej_mutex);
	return err;
}

/* One turns it off (or goes). */
void svs_eject_put(void)
{
	mutex_lock(&svs_ej_mutex);
	if (!WARN_ON_ONCE(!svs_ej_users))
		WRITE_ONCE(svs_ej_users, svs_ej_users - 1);
	mutex_unlock(&svs_ej_mutex);
}

/* Unload: no new users; the namespaces' exit has put every one. */
void svs_eject_shutdown(void)
{
	mutex_lock(&svs_ej_mutex);
	svs_ej_down = true;
	mutex_unlock(&svs_ej_mutex);
}
