/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sock_vs internal definitions: services, real servers, per-netns state.
 *
 * Locking: every change to a namespace's configuration happens under
 * svs_net->lock (a mutex, process context).  The connect path only reads,
 * under RCU: the service hash table (rhashtable) and each service's
 * published snapshot of real servers (struct svs_dtable), its exemptions
 * and the settings it needs, all within one read section of the
 * namespace's seqcount svs_net->seq (svs_svc_view()), so that a change
 * made of several stores (a transaction, txn.c; an edited service) is
 * seen whole or not at all.  Counters are atomics.  Objects leave RCU
 * view before they are freed after a grace period.
 */
#ifndef _SOCK_VS_H
#define _SOCK_VS_H

#include <linux/types.h>
#include <linux/in6.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/net.h>
#include <linux/seqlock.h>
#include <linux/spinlock.h>
#include <linux/u64_stats_sync.h>
#include <linux/netfilter.h>
#include <linux/rhashtable.h>
#include <linux/xarray.h>
#include <linux/workqueue.h>
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

/* Counters of a service or real server: per CPU, as IPVS keeps them. */
enum svs_stat {
	SVS_STAT_CONNS,		/* connections scheduled */
	SVS_STAT_REFUSED,	/* connects refused: no usable real server */
	SVS_STAT_UNTRACKED,	/* balanced, but no record (no memory...) */
	SVS_STAT_KILLED,	/* balanced sockets terminated (terminate.c) */
	SVS_STAT_EJECTED,	/* ejections (eject.c) */
	SVS_STAT_FAILED,	/* failed connects seen by eject.c */
	SVS_STAT_N
};

struct svs_cpu_stats {
	u64_stats_t v[SVS_STAT_N];
	struct u64_stats_sync syncp;
};

/* A slot of a block of counters (stats.c); the block holds the pool. */
struct svs_stats {
	struct svs_cpu_stats __percpu *cpu;
	struct svs_stats_block *block;
	unsigned int slot;
	u64 base[SVS_STAT_N];	/* the sums at the last zeroing (lock) */
};

struct svs_stats_pool;

/* Process context (the connect path); the CPU's own counter, no lock. */
static inline void svs_stat_inc(struct svs_stats *s, enum svs_stat i)
{
	struct svs_cpu_stats *c = get_cpu_ptr(s->cpu);

	u64_stats_update_begin(&c->syncp);
	u64_stats_inc(&c->v[i]);
	u64_stats_update_end(&c->syncp);
	put_cpu_ptr(s->cpu);
}

static inline void svs_stat_add(struct svs_stats *s, enum svs_stat i, u64 n)
{
	struct svs_cpu_stats *c = get_cpu_ptr(s->cpu);

	u64_stats_update_begin(&c->syncp);
	u64_stats_add(&c->v[i], n);
	u64_stats_update_end(&c->syncp);
	put_cpu_ptr(s->cpu);
}

/*
 * What the IPVS family (ipvs_compat.c) stores only to echo it: of a
 * service, its flags (but PERSISTENT, HASHED), a non-persistent service's
 * timeout (s) and the netmask (if set: as given, else the family's full
 * mask); of a real server, its forwarding method and tunnel settings.
 */
struct svs_ipvs_svc_echo {
	u32 flags;
	u32 timeout;
	__be32 netmask;
	bool netmask_set;
};

struct svs_ipvs_dest_echo {
	u32 fwd;			/* IP_VS_CONN_F_FWD_MASK bits */
	u8 tun_type;
	__be16 tun_port;
	u16 tun_flags;
};

/*
 * Settings of a service, as configured.  txn.c's svs_txn_conf_equal()
 * compares every field: a new one goes there too.
 */
struct svs_svc_conf {
	const struct svs_sched_ops *sched;
	u32 flags;
	u8 hash_key;			/* enum sock_vs_hash_key */
	u8 shard_policy;		/* enum sock_vs_shard_policy */
	u8 terminate;			/* enum sock_vs_terminate */
	u32 persist;			/* persistence timeout, seconds; 0: none */
	struct svs_ipvs_svc_echo ipvs;
	/* Passive health (eject.c); eject 0: off. */
	u32 eject, eject_time, eject_time_max;
	u8 eject_pct;
};

/* Settings of a real server, as configured. */
struct svs_dest_conf {
	u32 weight;
	u32 u_thresh;
	u32 l_thresh;
	u16 shards;			/* 1: not sharded */
	struct svs_ipvs_dest_echo ipvs;
};

struct svs_dest {
	/*
	 * svs_service.dests, under lock; once deleted, a list of servers
	 * whose sockets are to be terminated (terminate.c) by policy @doom.
	 */
	struct list_head list;
	u8 doom;
	bool removed;			/* no longer in its service (persist.c) */
	union nf_inet_addr addr;
	__be16 port;
	u32 weight;
	struct svs_ipvs_dest_echo ipvs;	/* ipvs_compat.c */
	u16 shards;			/* fixed for the life of the server */
	atomic_t *shard_conns;		/* open sockets per shard, if shards > 1 */
	atomic_t shard_seq;		/* shard picks on this server */
	struct svs_stats stats;
	refcount_t refcnt;		/* the service's list, each tracked socket */
	struct svs_sched_live live;	/* open sockets, overload, thresholds */
	/*
	 * Passive health (eject.c): the service, while !removed (RCU); the
	 * failures in a row, enum sock_vs_eject_state, the end of the
	 * ejection or of the probe (jiffies), ejections in a row.
	 */
	struct svs_service *svc;
	atomic_t ej_fails;
	atomic_t ej_state;
	unsigned long ej_until;
	u32 ej_level;
	/*
	 * The peers of sockets balanced to this server, oldest first, and
	 * the cursors of connection listings in progress (conn.c): RCU
	 * readers, changed under conns_lock (process context only).
	 */
	spinlock_t conns_lock;
	struct list_head conns;
	/*
	 * ActiveConn and InActConn: each record on conns counts its socket's
	 * state class in one of them, kept by the socket's state changes
	 * (conn.c, svs_peer_set_state()); a listing reads the two numbers.
	 */
	atomic_t active_conns;
	atomic_t inact_conns;
	struct svs_net *sn;		/* the namespace's... */
	struct list_head net_node;	/* ...sn->dests, under sn->dests_lock */
	u64 net_id;			/* order on sn->dests */
	struct rcu_head rcu;
};

/* What the connect path sees of a service's real servers; immutable. */
struct svs_dtable {
	struct rcu_head rcu;
	const struct svs_sched_ops *sched;
	void *priv;			/* sched->build() output */
	u32 n;
	bool sharded;			/* a server has shards: placement needs the wrapper */
	u32 *weight;			/* n weights (tail of this object) */
	u32 *u_thresh;			/* n upper thresholds (tail) */
	u32 *l_thresh;			/* n lower thresholds (tail) */
	u64 *id;			/* n identities (tail) */
	struct svs_sched_live **live;	/* n live states (tail) */
	struct svs_dest *dest[];	/* n real servers */
};

/* An exemption of a service (skip.c). */
enum svs_skip_kind { SVS_SKIP_UID = 1, SVS_SKIP_CGROUP, SVS_SKIP_MARK };

struct svs_skip_rule {
	u8 kind;			/* enum svs_skip_kind */
	int level;			/* the cgroup's depth */
	kuid_t uid_min, uid_max;
	u32 mark, mask;
	u64 cgroup_id;
	char *path;			/* the cgroup's, as configured */
};

/* A service's exemptions: immutable once published (svc->skip, RCU). */
struct svs_skip {
	struct rcu_head rcu;
	u32 n;
	struct svs_skip_rule rule[SOCK_VS_SKIP_MAX];
};

struct svs_service {
	struct rhash_head node;		/* svs_net.ht */
	struct svs_key key;
	/*
	 * In the table but not (yet, or any more) seen by the connect path:
	 * a service a transaction creates or deletes, while it commits (txn.c).
	 */
	bool hidden;
	u32 id;				/* svs_net.by_id index: creation order */
	struct svs_svc_conf conf;
	struct list_head dests;		/* configuration order, under lock */
	u32 num_dests;
	struct svs_dtable __rcu *dt;
	struct svs_skip __rcu *skip;	/* exemptions, or NULL */
	atomic64_t seq;			/* scheduler pick counter */
	atomic_t ejected;		/* its servers ejected now (eject.c) */
	struct svs_stats stats;
	struct rcu_head rcu;
};

struct svs_net {
	struct mutex lock;		/* serialises configuration changes */
	/*
	 * Written around every change the connect path must see at once
	 * (svs_publish_begin(), under lock), read by svs_svc_view().  The
	 * write section holds seq_lock (a spinlock: on !PREEMPT_RT preemption
	 * is off), so it only stores and swaps pointers prepared beforehand;
	 * a PREEMPT_RT reader that finds it open waits on seq_lock, never on
	 * the configuration mutex (which is held across waits for readers,
	 * e.g. unconn.c's synchronize_srcu()).
	 */
	spinlock_t seq_lock;
	seqcount_spinlock_t seq;
	u64 gen;			/* the table's generation: changes so far (lock) */
	struct list_head txns;		/* open transactions (txn.c), under lock */
	u32 num_txns;
	struct rhashtable ht;		/* key -> service, RCU lookups */
	struct xarray by_id;		/* id -> service, for ordered dumps */
	u32 next_id;
	u32 num_services;
	bool userns;			/* owned by a non-initial user namespace */
	/*
	 * Every real server of the namespace, deleted ones included while a
	 * socket still holds them: the connection listing and unload walk it.
	 * Changed when a server is created and when it is freed, never on
	 * the connect path.
	 */
	spinlock_t dests_lock;
	struct list_head dests;
	u64 next_dest_id;
	struct svs_stats_pool *stats;	/* the counters of all of them */
	/* Persistence templates (persist.c). */
	struct rhashtable tmpl_ht;
	atomic_t num_tmpl;
	struct delayed_work tmpl_gc;
	/* IPVS_CMD_SET_CONFIG's timeouts, stored and echoed (ipvs_compat.c). */
	u32 ipvs_timeout_tcp, ipvs_timeout_tcp_fin, ipvs_timeout_udp;
};

/*
 * One balanced connect of a socket (conn.c): where it went, for
 * getpeername(), the listing and the counts.  On dest->conns; replaced
 * (RCU) by a reconnect.
 */
struct svs_peer {
	struct list_head node;		/* in dest->conns */
	struct svs_conn *conn;
	struct sock *sk;		/* NULL: a listing's cursor (conn.c) */
	struct svs_dest *dest;		/* holds a reference */
	struct svs_tmpl *tmpl;		/* the persistence template used, or NULL */
	int shard;			/* of a sharded dest, else -1 */
	union nf_inet_addr vaddr;	/* virtual address connected to */
	union nf_inet_addr daddr;	/* the real server's */
	__be16 vport;
	__be16 dport;
	u8 af;				/* the service's family */
	u8 protocol;
	bool virt_peer;			/* getpeername() returns vaddr:vport */
	bool unconn;			/* an unconnected binding (conn->uc) */
	atomic_t counted;		/* enum svs_cls it counts in on dest (conn.c) */
	u32 pid;			/* tgid that connected */
	char comm[TASK_COMM_LEN];
	struct rcu_head rcu;
};

/*
 * The unconnected UDP bindings of a socket (unconn.c): one peer record per
 * virtual address it sent to (on their servers' lists like any peer),
 * immutable, replaced under conn->lock.
 */
#define SVS_UC_MAX	16

struct svs_uc {
	struct rcu_head rcu;
	u32 n;
	struct svs_peer *peer[SVS_UC_MAX];
};

/* A balanced socket (conn.c); sock->ops == &ops while it is. */
struct svs_conn {
	const struct proto_ops ops;	/* the socket's, a few entries ours */
	const struct proto_ops *orig;	/* the socket's own */
	struct sock *sk;		/* holds a reference */
	spinlock_t lock;		/* peer, dead */
	bool dead;			/* ended: no new peer */
	u32 seq;			/* peers published so far */
	struct svs_peer __rcu *peer;
	struct svs_uc __rcu *uc;	/* unconnected UDP bindings, or NULL */
	struct rcu_head rcu;
	/*
	 * The first connect's peer, so that a socket's usual one connect
	 * costs one allocation; freed with the record.  Reconnects allocate.
	 */
	struct svs_peer first;
};

/* main.c */
extern unsigned int svs_net_id;
extern unsigned int svs_max_services;
extern unsigned int svs_max_dests;
extern unsigned int svs_userns_max_services;
extern unsigned int svs_userns_max_dests;
extern atomic_t svs_services_total;	/* all namespaces: connect fast path */

static inline struct svs_net *svs_net(const struct net *net)
{
	return net_generic(net, svs_net_id);
}

/* The limits that apply to @sn (module parameters, read at each use). */
static inline u32 svs_limit_services(const struct svs_net *sn)
{
	u32 max = READ_ONCE(svs_max_services);

	return sn->userns ? min(max, READ_ONCE(svs_userns_max_services)) : max;
}

static inline u32 svs_limit_dests(const struct svs_net *sn)
{
	u32 max = READ_ONCE(svs_max_dests);

	return sn->userns ? min(max, READ_ONCE(svs_userns_max_dests)) : max;
}

/*
 * What the connect path needs of a service, read together (svs_svc_view());
 * valid while the caller stays in the RCU read section it returns in.
 */
struct svs_svc_view {
	const struct svs_dtable *dt;
	const struct svs_skip *skip;
	u32 flags;
	u32 persist;
	u32 eject;
	u8 hash_key;
	u8 shard_policy;
};

/* Publish what the connect path must see at once (under sn->lock). */
static inline void svs_publish_begin(struct svs_net *sn)
{
	lockdep_assert_held(&sn->lock);
	spin_lock(&sn->seq_lock);
	write_seqcount_begin(&sn->seq);
}

static inline void svs_publish_end(struct svs_net *sn)
{
	write_seqcount_end(&sn->seq);
	spin_unlock(&sn->seq_lock);
}

/* A change of the table is made: its generation moves on (under lock). */
static inline void svs_table_changed(struct svs_net *sn)
{
	WRITE_ONCE(sn->gen, sn->gen + 1);
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
		    const struct svs_svc_conf *conf, struct svs_skip *skip,
		    struct netlink_ext_ack *extack);
int svs_service_edit(struct svs_net *sn, struct svs_service *svc,
		     const struct svs_svc_conf *conf,
		     struct netlink_ext_ack *extack);
void svs_service_del(struct svs_net *sn, struct svs_service *svc,
		     struct list_head *doomed);
void svs_flush(struct svs_net *sn, struct list_head *doomed);
struct svs_dest *svs_dest_find(struct svs_service *svc,
			       const union nf_inet_addr *addr, __be16 port);
int svs_dest_add(struct svs_net *sn, struct svs_service *svc, const union nf_inet_addr *addr,
		 __be16 port, const struct svs_dest_conf *conf,
		 struct netlink_ext_ack *extack);
int svs_dest_edit(struct svs_service *svc, struct svs_dest *dest,
		  const struct svs_dest_conf *conf,
		  struct netlink_ext_ack *extack);
int svs_dest_del(struct svs_service *svc, struct svs_dest *dest,
		 struct netlink_ext_ack *extack, struct list_head *doomed);
void svs_zero_service(struct svs_service *svc);
void svs_dest_put(struct svs_dest *dest);
struct svs_dtable *svs_alloc_dtable(size_t size);
atomic_t *svs_alloc_shard_conns(u16 shards);
struct svs_service *svs_service_lookup_rcu(struct svs_net *sn,
					   const struct svs_key *key);
struct svs_service *svs_svc_view(struct svs_net *sn, const struct svs_key *key,
				 struct svs_svc_view *v) __acquires(RCU);
/* The pieces transactions (txn.c) assemble a commit from. */
struct svs_dtable *svs_dtable_make(const struct svs_sched_ops *sched, u32 n,
				   struct svs_dest *const *dests,
				   const struct svs_dest_conf *const *confs);
void svs_dtable_free(struct svs_dtable *dt);
void svs_dtable_retire(struct svs_dtable *dt);
struct svs_dest *svs_dest_new(struct svs_net *sn, struct svs_service *svc,
			      const union nf_inet_addr *addr, __be16 port,
			      const struct svs_dest_conf *conf,
			      struct netlink_ext_ack *extack);
void svs_dest_set_conf(struct svs_dest *d, const struct svs_dest_conf *c);
void svs_dest_retire(struct svs_service *svc, struct svs_dest *dest,
		     struct list_head *doomed);
struct svs_service *svs_service_alloc(struct svs_net *sn, const struct svs_key *key,
				      const struct svs_svc_conf *conf,
				      struct netlink_ext_ack *extack);
int svs_service_insert(struct svs_net *sn, struct svs_service *svc,
		       struct netlink_ext_ack *extack);
void svs_service_unhash(struct svs_net *sn, struct svs_service *svc);
void svs_service_remove(struct svs_net *sn, struct svs_service *svc,
			struct list_head *doomed);
void svs_service_free(struct svs_service *svc);
void svs_service_conf_set(struct svs_service *svc, const struct svs_svc_conf *conf);
int svs_hooks_get(const struct svs_svc_conf *old, const struct svs_svc_conf *new,
		  struct netlink_ext_ack *extack);
void svs_hooks_put(const struct svs_svc_conf *old, const struct svs_svc_conf *new);

/* stats.c: per-CPU counters, in blocks per namespace */
struct svs_stats_pool *svs_stats_pool_create(void);
void svs_stats_pool_release(struct svs_stats_pool *pool);
int svs_stats_init(struct svs_stats_pool *pool, struct svs_stats *s);
void svs_stats_free(struct svs_stats *s);
void svs_stats_zero(struct svs_stats *s);
u64 svs_stat_read(const struct svs_stats *s, enum svs_stat i);
struct svs_cpu_stats __percpu *svs_alloc_stats(void);

struct netlink_callback;

/* conn.c: per-socket state of balanced sockets */
int svs_conn_init(void);
void svs_conn_exit(void);
void svs_conn_destroy_cache(void);
void svs_conn_net_exit(struct svs_net *sn);
void svs_conn_track(struct sock *sk, struct svs_service *svc,
		    struct svs_dest *dest, int shard, bool virt_peer,
		    struct svs_tmpl *tmpl);
void svs_conn_untrack(struct sock *sk);
bool svs_conn_end_sock(struct socket *sock, struct svs_conn *conn);
void svs_conn_count(struct svs_dest *dest, u32 *active, u32 *inactive);
void svs_peer_set_state(struct svs_peer *peer, int state);
void svs_conn_sync_state(struct sock *sk);
bool svs_conn_maybe_tracked(const struct sock *sk);
int svs_sock_release(struct socket *sock);

/* @sock's record, if @ops (its current operations) are ours; RCU. */
static inline struct svs_conn *svs_conn_of_ops(const struct proto_ops *ops)
{
	if (!ops || ops->release != svs_sock_release)
		return NULL;
	return container_of(ops, struct svs_conn, ops);
}

struct svs_conn *svs_conn_attach(struct sock *sk);
void svs_conn_untracked(struct svs_service *svc, struct svs_dest *dest);
bool svs_conn_uc_find(struct svs_conn *conn, const struct svs_key *key,
		      union nf_inet_addr *daddr, __be16 *dport);
bool svs_conn_uc_add(struct svs_conn *conn, struct svs_service *svc,
		     struct svs_dest *dest);
void svs_conn_uc_recv(struct svs_conn *conn, struct sockaddr *uaddr);
/* What a virtual-address rewrite needs of a peer record (a copy). */
struct svs_peer_view {
	union nf_inet_addr vaddr;
	union nf_inet_addr daddr;
	__be16 vport;
	__be16 dport;
	u8 af;
	bool valid;			/* a record that shows the virtual peer */
	u32 seq;			/* conn->seq when copied */
};

void svs_conn_view(struct svs_conn *conn, struct svs_peer_view *v);
const struct proto_ops *svs_conn_orig_ops(struct socket *sock,
					  struct svs_peer_view *before);
u32 svs_conn_seq(struct socket *sock);
void svs_conn_peername(struct svs_conn *conn, const struct svs_peer_view *before,
		       struct sockaddr *uaddr);
int svs_conn_dump(struct sk_buff *skb, struct netlink_callback *cb);
int svs_conn_dump_done(struct netlink_callback *cb);
extern atomic64_t svs_untracked_total;	/* all namespaces */
extern struct srcu_struct svs_sock_srcu;	/* our socket operations */
extern bool svs_unloading;

/* sockstate.c: state changes of balanced sockets (tracepoints) */
extern bool svs_ss_attached;

/* Whether the tracepoints are attached (records may be made anywhere). */
static inline bool svs_sockstate_on(void)
{
	/* Pairs with svs_sockstate_get()'s release: the probes are in place. */
	return smp_load_acquire(&svs_ss_attached);
}

int svs_sockstate_get(void);
int svs_sockstate_init(void);
void svs_sockstate_exit(void);

/* skip.c: exemptions */
extern const struct nla_policy svs_skip_rule_policy[SOCK_VS_SKIP_ATTR_MAX + 1];
struct svs_skip *svs_skip_parse(struct nlattr *attr, struct netlink_ext_ack *extack);
void svs_skip_free(struct svs_skip *skip);
void svs_skip_put(struct svs_skip *skip);
void svs_skip_publish(struct svs_service *svc, struct svs_skip *skip);
bool svs_skip_match(const struct svs_skip *skip, struct sock *sk);
int svs_skip_fill(struct sk_buff *skb, const struct svs_service *svc);

/* persist.c: persistence templates */
struct svs_tmpl;

struct svs_tmpl_key {
	u32 svc_id;
	u8 kind;			/* enum sock_vs_hash_key */
	u8 pad[3];
	u64 client;
};

u32 svs_persist_limit(void);
struct svs_tmpl *svs_persist_get(struct svs_net *sn, struct sock *sk,
				 const struct svs_service *svc, u8 hash_key,
				 u64 hash, struct svs_tmpl_key *key);
struct svs_tmpl *svs_persist_create(struct svs_net *sn, u32 persist,
				    struct svs_dest *dest,
				    const struct svs_tmpl_key *key);
struct svs_dest *svs_persist_dest(const struct svs_tmpl *t);
void svs_persist_release(struct svs_tmpl *t);
void svs_persist_changed(struct svs_net *sn);
int svs_persist_net_init(struct svs_net *sn);
void svs_persist_net_exit(struct svs_net *sn);
int svs_persist_dump_start(struct netlink_callback *cb);
int svs_persist_dump(struct sk_buff *skb, struct netlink_callback *cb);
int svs_persist_dump_done(struct netlink_callback *cb);
int svs_persist_init(void);
void svs_persist_exit(void);

/* terminate.c: terminating the balanced sockets of a real server */
bool svs_terminate_needed(const struct svs_service *svc, u8 policy);
int svs_terminate_dest(struct svs_dest *dest, u8 policy);
u32 svs_terminate_doomed(struct list_head *doomed, int *err);

/* shard.c: shard placement on sharded real servers */

/* A connect whose local port sock_vs chose (hook.c retries another). */
struct svs_placement {
	u16 nshards;			/* 0: sock_vs chose no port */
	u16 shard;
};

#define SVS_SHARD_TRIES	32	/* ports tried per connect */
int svs_shard_place(struct sock *sk, u8 shard_policy,
		    struct svs_dest *dest, const struct svs_sched_in *in,
		    int *shard, struct svs_placement *pl);
int svs_bind_port_in_class(struct sock *sk, u32 nshards, u32 shard);

/* hook.c: the connect hook */
int svs_hook_init(void);
void svs_hook_exit(void);
bool svs_key_of(const struct sockaddr *uaddr, int addr_len, u8 protocol,
		struct svs_key *key);
u64 svs_hash_key(struct sock *sk, u8 which);
void svs_sched_in_init(struct svs_sched_in *in, const struct svs_dtable *dt,
		       u8 hash_key, struct sock *sk);
void svs_rewrite_addr(struct sockaddr *uaddr, int addr_len,
		      const union nf_inet_addr *addr, __be16 port);

/* unconn.c: unconnected UDP (SOCK_VS_SVC_F_UNCONNECTED) */
int svs_unconn_get(struct netlink_ext_ack *extack);
void svs_unconn_put(void);
void svs_unconn_shutdown(void);

/* peername.c: getpeername()/recvfrom() return the virtual address */
int svs_sock_getname(struct socket *sock, struct sockaddr *uaddr, int peer);
int svs_sock_recvmsg(struct socket *sock, struct msghdr *msg, size_t size,
		     int flags);

/* eject.c: passive health, and p2c's handshake times */
static inline bool svs_eject_needed(const struct svs_svc_conf *conf)
{
	return conf->eject || conf->sched == &svs_sched_p2c;
}

int svs_eject_get(struct netlink_ext_ack *extack);
void svs_eject_put(void);
void svs_eject_shutdown(void);
void svs_eject_outcome(const struct sock *sk, struct svs_dest *dest, bool ok);
void svs_eject_reset(struct svs_service *svc);
void svs_eject_forget(struct svs_service *svc, struct svs_dest *d);
bool svs_eject_probe(struct svs_service *svc, const struct svs_dtable *dt,
		     struct svs_dest **dest);
u8 svs_eject_state(const struct svs_dest *d, u32 *left_ms);

/* txn.c: transactions */
struct genl_info;
void *svs_txn_alloc(size_t n, size_t size);
extern const struct nla_policy svs_txn_policy[SOCK_VS_TXN_ATTR_MAX + 1];
extern const struct nla_policy svs_txn_svc_policy[SOCK_VS_TXN_SVC_ATTR_MAX + 1];
int svs_txn_begin(struct sk_buff *skb, struct genl_info *info);
int svs_txn_stage(struct sk_buff *skb, struct genl_info *info);
int svs_txn_commit(struct sk_buff *skb, struct genl_info *info);
int svs_txn_abort(struct sk_buff *skb, struct genl_info *info);
void svs_txn_net_exit(struct svs_net *sn);
int svs_txn_init(void);
void svs_txn_exit(void);

/* netlink.c */
extern const struct nla_policy svs_svc_policy[SOCK_VS_SVC_ATTR_MAX + 1];
extern const struct nla_policy svs_dest_policy[SOCK_VS_DEST_ATTR_MAX + 1];
void svs_svc_conf_default(struct svs_svc_conf *conf);
int svs_parse_service_nest(const struct nlattr *nest, struct nlattr **tb,
			   struct svs_key *key, struct netlink_ext_ack *extack);
int svs_parse_svc_conf(struct nlattr **tb, struct svs_svc_conf *conf,
		       struct netlink_ext_ack *extack);
int svs_check_unconnected(const struct svs_key *key,
			  const struct svs_svc_conf *conf,
			  struct netlink_ext_ack *extack);
int svs_parse_dest_nest(const struct nlattr *nest, u8 af, struct nlattr **tb,
			union nf_inet_addr *addr, __be16 *port,
			struct netlink_ext_ack *extack);
int svs_parse_dest_conf(struct nlattr **tb, struct svs_dest_conf *conf,
			struct netlink_ext_ack *extack);
void *svs_genl_reply(struct sk_buff *msg, struct genl_info *info, u8 cmd);
int svs_genl_init(void);
void svs_genl_exit(void);
void *svs_genl_put(struct sk_buff *skb, u32 portid, u32 seq, int flags, u8 cmd);
int svs_check_addr(const struct nlattr *attr, u16 af,
		   const union nf_inet_addr *addr, bool real_server,
		   struct netlink_ext_ack *extack);
void svs_count_killed(struct svs_net *sn, const struct svs_key *key, u32 killed);

/* ipvs_compat.c: the IPVS family, when ipvs_compat=1 */
int svs_ipvs_init(void);
void svs_ipvs_exit(void);

#endif /* _SOCK_VS_H */
