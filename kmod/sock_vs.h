/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sock_vs internal definitions: services, real servers, per-netns state.
 *
 * Locking: every change to a namespace's configuration happens under
 * svs_net->lock (a mutex, process context).  The connect path only reads,
 * under RCU: the service hash table (rhashtable) and each service's
 * published snapshot of real servers (struct svs_dtable).  Counters are
 * atomics.  Objects leave RCU view before they are freed after a grace
 * period.
 */
#ifndef _SOCK_VS_H
#define _SOCK_VS_H

#include <linux/types.h>
#include <linux/in6.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/netfilter.h>
#include <linux/rhashtable.h>
#include <linux/xarray.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/sock.h>

#include "svs_sched.h"
#include "include/uapi/linux/sock_vs.h"

#define SVS_HOOK_NAME	"kprobe"

/* Key of a virtual service; compared with memcmp(), so no padding. */
struct svs_key {
	union nf_inet_addr addr;
	__be16 port;
	u8 protocol;
	u8 af;
};

struct svs_stats {
	atomic64_t conns;	/* connections scheduled */
	atomic64_t refused;	/* connects refused: no usable real server */
	atomic64_t untracked;	/* balanced, but no record (no memory...) */
};

/* Settings of a service, as configured. */
struct svs_svc_conf {
	const struct svs_sched_ops *sched;
	u32 flags;
	u8 hash_key;			/* enum sock_vs_hash_key */
	u8 shard_policy;		/* enum sock_vs_shard_policy */
};

/* Settings of a real server, as configured. */
struct svs_dest_conf {
	u32 weight;
	u32 u_thresh;
	u32 l_thresh;
	u16 shards;			/* 1: not sharded */
};

struct svs_dest {
	struct list_head list;		/* svs_service.dests, under lock */
	union nf_inet_addr addr;
	__be16 port;
	u32 weight;
	u16 shards;			/* fixed for the life of the server */
	atomic_t *shard_conns;		/* open sockets per shard, if shards > 1 */
	atomic_t shard_seq;		/* shard picks on this server */
	struct svs_stats stats;
	refcount_t refcnt;		/* the service's list, each tracked socket */
	struct svs_sched_live live;	/* open sockets, overload, thresholds */
	struct hlist_head conns;	/* their records, under svs_conn_lock */
	struct rcu_head rcu;
};

/* What the connect path sees of a service's real servers; immutable. */
struct svs_dtable {
	struct rcu_head rcu;
	const struct svs_sched_ops *sched;
	void *priv;			/* sched->build() output */
	u32 n;
	u32 *weight;			/* n weights (tail of this object) */
	u64 *id;			/* n identities (tail) */
	struct svs_sched_live **live;	/* n live states (tail) */
	struct svs_dest *dest[];	/* n real servers */
};

struct svs_service {
	struct rhash_head node;		/* svs_net.ht */
	struct svs_key key;
	u32 id;				/* svs_net.by_id index: creation order */
	struct svs_svc_conf conf;
	struct list_head dests;		/* configuration order, under lock */
	u32 num_dests;
	struct svs_dtable __rcu *dt;
	atomic64_t seq;			/* scheduler pick counter */
	struct svs_stats stats;
	struct rcu_head rcu;
};

struct svs_net {
	struct mutex lock;		/* serialises configuration changes */
	struct rhashtable ht;		/* key -> service, RCU lookups */
	struct xarray by_id;		/* id -> service, for ordered dumps */
	u32 next_id;
	u32 num_services;
};

/* main.c */
extern unsigned int svs_net_id;
extern unsigned int svs_max_services;
extern unsigned int svs_max_dests;
extern atomic_t svs_services_total;	/* all namespaces: connect fast path */

static inline struct svs_net *svs_net(const struct net *net)
{
	return net_generic(net, svs_net_id);
}

/* service.c: tables and configuration (callers hold svs_net.lock) */
int svs_caches_init(void);
void svs_caches_destroy(void);
extern const struct rhashtable_params svs_ht_params;
int svs_net_init_tables(struct svs_net *sn);
void svs_net_free_tables(struct svs_net *sn);
struct svs_service *svs_service_find(struct svs_net *sn,
				     const struct svs_key *key);
int svs_service_add(struct svs_net *sn, const struct svs_key *key,
		    const struct svs_svc_conf *conf,
		    struct netlink_ext_ack *extack);
int svs_service_edit(struct svs_net *sn, struct svs_service *svc,
		     const struct svs_svc_conf *conf,
		     struct netlink_ext_ack *extack);
void svs_service_del(struct svs_net *sn, struct svs_service *svc);
void svs_flush(struct svs_net *sn);
struct svs_dest *svs_dest_find(struct svs_service *svc,
			       const union nf_inet_addr *addr, __be16 port);
int svs_dest_add(struct svs_service *svc, const union nf_inet_addr *addr,
		 __be16 port, const struct svs_dest_conf *conf,
		 struct netlink_ext_ack *extack);
int svs_dest_edit(struct svs_service *svc, struct svs_dest *dest,
		  const struct svs_dest_conf *conf,
		  struct netlink_ext_ack *extack);
int svs_dest_del(struct svs_service *svc, struct svs_dest *dest,
		 struct netlink_ext_ack *extack);
void svs_zero_service(struct svs_service *svc);
void svs_dest_put(struct svs_dest *dest);
struct svs_dtable *svs_alloc_dtable(size_t size);
atomic_t *svs_alloc_shard_conns(u16 shards);

struct netlink_callback;

/* conn.c: which real server each balanced socket went to */
int svs_conn_init(void);
void svs_conn_exit(void);
void svs_conn_destroy_cache(void);
void svs_conn_track(struct sock *sk, struct svs_service *svc,
		    struct svs_dest *dest, int shard, bool virt_peer);
void svs_conn_untrack(struct sock *sk);
void svs_conn_count(struct svs_dest *dest, u32 *active, u32 *inactive);
bool svs_conn_maybe_tracked(const struct sock *sk);
void svs_conn_peername(struct sock *sk, struct sockaddr *uaddr);
int svs_conn_dump(struct sk_buff *skb, struct netlink_callback *cb);
extern atomic64_t svs_untracked_total;	/* all namespaces */

/* shard.c: shard placement on sharded real servers */
int svs_shard_place(struct sock *sk, const struct svs_service *svc,
		    struct svs_dest *dest, const struct svs_sched_in *in,
		    int *shard);

/* hook.c: the connect hook */
int svs_hook_init(void);
void svs_hook_exit(void);

/* peername.c: getpeername() returns the virtual address */
int svs_peername_init(void);
void svs_peername_exit(void);

/* netlink.c */
int svs_genl_init(void);
void svs_genl_exit(void);
void *svs_genl_put(struct sk_buff *skb, u32 portid, u32 seq, int flags, u8 cmd);

#endif /* _SOCK_VS_H */
