// SPDX-License-Identifier: GPL-2.0
/*
 * Transactions: a namespace's whole table, or a set of its services,
 * replaced in one step (SOCK_VS_CMD_TXN_*, the uapi header says what
 * userspace sees).
 *
 * Staging.  TXN_BEGIN opens a transaction bound to the netlink socket that
 * sent it (its port id, and the socket as an opaque identity); TXN_STAGE
 * messages add services to it, parsed and checked completely as they
 * come, by the same functions as NEW_SERVICE and NEW_DEST (netlink.c,
 * skip.c): a message is taken whole or refused whole, and a refused entry
 * is named in the extended ACK (its attribute; on kernels that format
 * messages, its key in the text too).  Nothing of the table changes while
 * a transaction is staged.  A transaction holds at most max_services
 * entries of at most max_dests real servers; it is freed by TXN_COMMIT,
 * TXN_ABORT, the socket's release (the NETLINK_URELEASE notifier), the
 * namespace's exit and the module's unload.
 *
 * Committing, under the namespace's configuration mutex, in three phases:
 *
 *  1. prepare: everything that can fail, nothing visible.  Each staged
 *     service is classified (new, changed, unchanged, deleted) against the
 *     table; a new one is allocated with its real servers and snapshot and
 *     inserted in the hash table *hidden* (the connect path skips it); a
 *     changed one gets its new real servers (a staged server whose key it
 *     already has is that same object), the new snapshot and the hooks it
 *     starts needing (unconnected UDP probes, the ejection tracepoint).
 *     On a failure all of it is undone and the table is as it was.
 *  2. publish: one write section of the namespace's seqcount (svs_net.seq,
 *     under its spinlock): stores and pointer swaps only, prepared in 1:
 *     a new service shown, a deleted one hidden, a
 *     changed one's settings, snapshot, exemptions and servers' weights
 *     and thresholds set.  The connect path reads a service, its snapshot
 *     and settings in one read section (svs_svc_view()) and retries when
 *     it overlapped a write section, so each connect decides on the whole
 *     old table or the whole new one; its side effects (pick counter,
 *     templates, ejection probe, counters, the socket's record) come after
 *     that read, once.
 *  3. finish: what cannot fail: deleted services and departed servers
 *     leave their lists (their sockets are terminated by policy after the
 *     mutex is released, as DEL_DEST does), old snapshots and exemptions
 *     go after a grace period, hooks no longer needed are put.
 *
 * Why a seqcount over the existing objects rather than a whole new table
 * generation behind one RCU pointer: services and real servers are
 * long-lived objects holding counters, balanced sockets, persistence
 * templates (by service id) and ejection state, and the passive health
 * code reads their settings in place; a generation would have to copy or
 * share all of that and rebuild the hash table for every commit (and for
 * every single command).  With the seqcount a commit costs what it
 * changes, readers pay one sequence read and compare, and a service that
 * survives a commit is simply the same object.  The seqcount is per
 * namespace, a seqcount_spinlock_t whose write sections hold a spinlock of
 * their own: on PREEMPT_RT a reader that finds one open sleeps on that
 * lock (priority inheritance) instead of spinning on a preempted writer,
 * and never waits for the configuration mutex, which a commit holds while
 * it waits for readers (unregistering unconn.c's probes).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/error-injection.h>
#include <linux/jhash.h>
#include <linux/mm.h>
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "sock_vs.h"
#include "compat.h"

const struct nla_policy svs_txn_policy[SOCK_VS_TXN_ATTR_MAX + 1] = {
	[SOCK_VS_TXN_ATTR_FLAGS] = NLA_POLICY_MASK(NLA_U32, SOCK_VS_TXN_F_ALL),
	[SOCK_VS_TXN_ATTR_GENERATION] = { .type = NLA_U64 },
	[SOCK_VS_TXN_ATTR_ADDED] = { .type = NLA_REJECT },
	[SOCK_VS_TXN_ATTR_CHANGED] = { .type = NLA_REJECT },
	[SOCK_VS_TXN_ATTR_DELETED] = { .type = NLA_REJECT },
	[SOCK_VS_TXN_ATTR_UNCHANGED] = { .type = NLA_REJECT },
};

const struct nla_policy svs_txn_svc_policy[SOCK_VS_TXN_SVC_ATTR_MAX + 1] = {
	[SOCK_VS_TXN_SVC_ATTR_SERVICE] = NLA_POLICY_NESTED(svs_svc_policy),
	[SOCK_VS_TXN_SVC_ATTR_DEST] = NLA_POLICY_NESTED(svs_dest_policy),
	[SOCK_VS_TXN_SVC_ATTR_DELETE] = { .type = NLA_FLAG },
};

/* A staged real server. */
struct svs_txn_dest {
	union nf_inet_addr addr;
	__be16 port;
	bool fresh;			/* commit: @dest is new */
	struct svs_dest_conf conf;
	struct svs_dest *dest;		/* commit: the server it is, kept or new */
};

enum svs_txn_op {
	SVS_TXN_KEEP,			/* already as staged (or absent, to delete) */
	SVS_TXN_ADD,
	SVS_TXN_CHANGE,
	SVS_TXN_DEL,
};

/* A staged service, and what the commit makes of it. */
struct svs_txn_svc {
	struct hlist_node node;		/* svs_txn.buckets, by key */
	struct list_head list;		/* svs_txn.svcs, staging order */
	struct svs_key key;
	bool del;			/* staged for deletion */
	struct svs_svc_conf conf;
	struct svs_skip *skip;		/* staged exemptions (NULL: none) until published */
	u32 n;
	struct svs_txn_dest *dests;	/* n, in order */
	/* The commit (phases above). */
	u8 op;				/* enum svs_txn_op */
	bool hooks;			/* holds svs_hooks_get(&old_conf, &conf) */
	bool skip_changed;
	struct svs_service *svc;
	struct svs_svc_conf old_conf;
	struct svs_dtable *dt;		/* the new snapshot until published; NULL: same */
	struct svs_dtable *old_dt;	/* after publishing: the one replaced */
	struct svs_skip *old_skip;
	u32 ngone;
	struct svs_dest **gone;		/* servers that leave the service */
	struct list_head doomed;	/* ...whose sockets the policy terminates */
};

struct svs_txn {
	struct list_head node;		/* svs_net.txns */
	u32 portid;
	const struct sock *owner;	/* the socket that began it: compared only */
	u32 flags;			/* SOCK_VS_TXN_F_* */
	bool check_gen;
	u64 gen;
	u32 n;				/* staged services */
	struct list_head svcs;
	/*
	 * The staged services by key (duplicates, and a replacing commit's
	 * "is it staged?"): a hash of nbuckets (a power of 2) chains, grown
	 * to keep one entry per chain on average, charged to the stager.
	 */
	struct hlist_head *buckets;
	u32 nbuckets;
	u32 nhashed;
};

struct svs_txn_result {
	u32 added, changed, deleted, unchanged;
};

#define SVS_TXN_BUCKETS_MIN	16

/*
 * Every allocation of a transaction's own bookkeeping (the transaction, its
 * index, the staged services and their arrays, the commit's work arrays),
 * zeroed, charged to the configuring process's memory cgroup and freed with
 * kvfree(): one function, so that /sys/kernel/debug/fail_function can fail
 * each of them (tests/vm/cases/66-fault-injection.py).
 */
noinline void *svs_txn_alloc(size_t n, size_t size)
{
	return kvcalloc(n, size, GFP_KERNEL_ACCOUNT);
}

ALLOW_ERROR_INJECTION(svs_txn_alloc, NULL);

static struct hlist_head *svs_txn_bucket(struct hlist_head *buckets, u32 nbuckets,
					 const struct svs_key *key)
{
	/* svs_key has no padding (sock_vs.h): its bytes are the key. */
	return &buckets[jhash(key, sizeof(*key), 0) & (nbuckets - 1)];
}

static struct svs_txn_svc *svs_txn_lookup_key(struct svs_txn *txn, const struct svs_key *key)
{
	struct svs_txn_svc *ts;

	hlist_for_each_entry(ts, svs_txn_bucket(txn->buckets, txn->nbuckets, key), node)
		if (!memcmp(&ts->key, key, sizeof(*key)))
			return ts;
	return NULL;
}

/* Index @ts (not indexed yet), growing the table first if needed. */
static int svs_txn_index(struct svs_txn *txn, struct svs_txn_svc *ts)
{
	struct hlist_head *buckets;
	struct svs_txn_svc *pos;
	struct hlist_node *tmp;
	u32 i, nb;

	if (txn->nhashed >= txn->nbuckets) {
		nb = txn->nbuckets * 2;
		buckets = svs_txn_alloc(nb, sizeof(*buckets));
		if (!buckets)
			return -ENOMEM;
		for (i = 0; i < txn->nbuckets; i++) {
			hlist_for_each_entry_safe(pos, tmp, &txn->buckets[i], node) {
				hlist_del(&pos->node);
				hlist_add_head(&pos->node, svs_txn_bucket(buckets, nb, &pos->key));
			}
		}
		kvfree(txn->buckets);
		txn->buckets = buckets;
		txn->nbuckets = nb;
	}
	hlist_add_head(&ts->node, svs_txn_bucket(txn->buckets, txn->nbuckets, &ts->key));
	txn->nhashed++;
	return 0;
}

static void svs_txn_unindex(struct svs_txn *txn, struct svs_txn_svc *ts)
{
	hlist_del(&ts->node);
	txn->nhashed--;
}

/*
 * On kernels that format extended ACK messages: prefix the message with
 * the service it is about ("service TCP 10.0.0.1:80: ..."), if it fits.
 */
static void svs_txn_name(struct netlink_ext_ack *extack, const struct svs_key *key)
{
	const char *proto = key->protocol == IPPROTO_TCP ? "TCP" : "UDP";
	char buf[SVS_EXTACK_FMT_LEN + 1];
	int len;

	if (!SVS_EXTACK_FMT_LEN || !extack || !extack->_msg)
		return;
	if (key->af == AF_INET)
		len = snprintf(buf, sizeof(buf), "service %s %pI4:%u: %s", proto,
			       &key->addr.ip, ntohs(key->port), extack->_msg);
	else
		len = snprintf(buf, sizeof(buf), "service %s [%pI6c]:%u: %s", proto,
			       &key->addr.in6, ntohs(key->port), extack->_msg);
	if (len < SVS_EXTACK_FMT_LEN)
		SVS_EXTACK_SET_TEXT(extack, buf);
}

static void svs_txn_svc_free(struct svs_txn_svc *ts)
{
	svs_skip_free(ts->skip);
	kvfree(ts->dests);
	kvfree(ts->gone);
	kvfree(ts);
}

static void svs_txn_free(struct svs_txn *txn)
{
	struct svs_txn_svc *ts, *tmp;

	if (!txn)
		return;
	list_for_each_entry_safe(ts, tmp, &txn->svcs, list)
		svs_txn_svc_free(ts);
	kvfree(txn->buckets);
	kvfree(txn);
}

static struct svs_txn *svs_txn_lookup(struct svs_net *sn, u32 portid)
{
	struct svs_txn *txn;

	list_for_each_entry(txn, &sn->txns, node)
		if (txn->portid == portid)
			return txn;
	return NULL;
}

/* The transaction of the socket that sent @skb's request, or NULL. */
static struct svs_txn *svs_txn_find(struct svs_net *sn, struct sk_buff *skb,
				    struct genl_info *info)
{
	struct svs_txn *txn = svs_txn_lookup(sn, info->snd_portid);

	return txn && txn->owner == NETLINK_CB(skb).sk ? txn : NULL;
}

static void svs_txn_unlink(struct svs_net *sn, struct svs_txn *txn)
{
	list_del(&txn->node);
	WRITE_ONCE(sn->num_txns, sn->num_txns - 1);
}

int svs_txn_begin(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	struct nlattr *tb[SOCK_VS_TXN_ATTR_MAX + 1];
	struct netlink_ext_ack *extack = info->extack;
	struct svs_txn *txn, *stale = NULL;
	int err;

	txn = svs_txn_alloc(1, sizeof(*txn));
	if (!txn) {
		NL_SET_ERR_MSG(extack, "out of memory for the transaction");
		return -ENOMEM;
	}
	INIT_LIST_HEAD(&txn->svcs);
	txn->portid = info->snd_portid;
	txn->owner = NETLINK_CB(skb).sk;
	if (info->attrs[SOCK_VS_ATTR_TXN]) {
		err = nla_parse_nested(tb, SOCK_VS_TXN_ATTR_MAX,
				       info->attrs[SOCK_VS_ATTR_TXN], svs_txn_policy,
				       extack);
		if (err) {
			kvfree(txn);
			return err;
		}
		if (tb[SOCK_VS_TXN_ATTR_FLAGS])
			txn->flags = nla_get_u32(tb[SOCK_VS_TXN_ATTR_FLAGS]);
		if (tb[SOCK_VS_TXN_ATTR_GENERATION]) {
			txn->check_gen = true;
			txn->gen = nla_get_u64(tb[SOCK_VS_TXN_ATTR_GENERATION]);
		}
	}
	txn->nbuckets = SVS_TXN_BUCKETS_MIN;
	txn->buckets = svs_txn_alloc(txn->nbuckets, sizeof(*txn->buckets));
	if (!txn->buckets) {
		NL_SET_ERR_MSG(extack, "out of memory for the transaction");
		kvfree(txn);
		return -ENOMEM;
	}

	mutex_lock(&sn->lock);
	stale = svs_txn_lookup(sn, txn->portid);
	if (stale && stale->owner == txn->owner) {
		stale = NULL;
		NL_SET_ERR_MSG(extack, "a transaction is already open on this socket");
		err = -EBUSY;
		goto unlock;
	}
	/*
	 * Another socket had this port id and was released before the
	 * notifier told us: its transaction is stale.
	 */
	if (stale)
		svs_txn_unlink(sn, stale);
	if (sn->num_txns >= SOCK_VS_TXN_MAX_OPEN) {
		NL_SET_ERR_MSG(extack,
			       "too many open transactions in the namespace (SOCK_VS_TXN_MAX_OPEN)");
		err = -ENOSPC;
		goto unlock;
	}
	list_add_tail(&txn->node, &sn->txns);
	WRITE_ONCE(sn->num_txns, sn->num_txns + 1);
	txn = NULL;
unlock:
	mutex_unlock(&sn->lock);
	svs_txn_free(stale);
	svs_txn_free(txn);
	return err;
}

/* Room for the @nth staged service (from 0). */
static int svs_txn_room(struct svs_net *sn, u32 nth, const struct nlattr *attr,
			struct netlink_ext_ack *extack)
{
	if (nth < svs_limit_services(sn))
		return 0;
	if (sn->userns)
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "too many services in the transaction for a namespace owned by a user namespace (userns_max_services, max_services)");
	else
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "too many services in the transaction (max_services)");
	return -ENOSPC;
}

/* Room for @ndests real servers in a service, as NEW_DEST says it. */
static int svs_txn_room_dests(struct svs_net *sn, u32 ndests, const struct nlattr *attr,
			      struct netlink_ext_ack *extack)
{
	if (ndests > svs_limit_dests(sn)) {
		if (sn->userns)
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "too many real servers for a namespace owned by a user namespace (userns_max_dests, max_dests)");
		else
			NL_SET_ERR_MSG_ATTR(extack, attr, "too many real servers (max_dests)");
		return -ENOSPC;
	}
	return 0;
}

/* The real servers of entry @entry, of a service of family @af. */
static int svs_txn_parse_dests(struct svs_txn_svc *ts, const struct nlattr *entry,
			       struct netlink_ext_ack *extack)
{
	struct nlattr *tb[SOCK_VS_DEST_ATTR_MAX + 1];
	struct svs_txn_dest *d;
	const struct nlattr *a;
	int rem, err;
	u32 i = 0, j;

	nla_for_each_nested(a, entry, rem) {
		if (nla_type(a) != SOCK_VS_TXN_SVC_ATTR_DEST)
			continue;
		d = &ts->dests[i];
		err = svs_parse_dest_nest(a, ts->key.af, tb, &d->addr, &d->port, extack);
		if (err)
			return err;
		d->conf.weight = SOCK_VS_WEIGHT_DEFAULT;
		d->conf.shards = 1;
		err = svs_parse_dest_conf(tb, &d->conf, extack);
		if (err) {
			if (!extack->bad_attr)
				NL_SET_BAD_ATTR(extack, a);
			return err;
		}
		for (j = 0; j < i; j++) {
			if (ts->dests[j].port == d->port &&
			    nf_inet_addr_cmp(&ts->dests[j].addr, &d->addr)) {
				NL_SET_ERR_MSG_ATTR(extack, a,
						    "real server listed twice in the service");
				return -EINVAL;
			}
		}
		i++;
	}
	return 0;
}

/* The rest of a TXN_SVC entry of key @key (see svs_txn_parse()). */
static struct svs_txn_svc *svs_txn_parse_svc(struct svs_net *sn, struct svs_txn *txn,
					     const struct nlattr *entry, struct nlattr **tb,
					     struct nlattr **stb, const struct svs_key *key,
					     u32 nth, struct netlink_ext_ack *extack)
{
	struct svs_txn_svc *ts;
	const struct nlattr *a;
	struct svs_skip *skip;
	u32 ndests = 0;
	int rem, err;

	if (svs_txn_lookup_key(txn, key)) {
		NL_SET_ERR_MSG_ATTR(extack, tb[SOCK_VS_TXN_SVC_ATTR_SERVICE],
				    "service staged twice in the transaction");
		return ERR_PTR(-EINVAL);
	}
	err = svs_txn_room(sn, nth, entry, extack);
	if (err)
		return ERR_PTR(err);
	nla_for_each_nested(a, entry, rem)
		if (nla_type(a) == SOCK_VS_TXN_SVC_ATTR_DEST)
			ndests++;
	if (tb[SOCK_VS_TXN_SVC_ATTR_DELETE]) {
		if (txn->flags & SOCK_VS_TXN_F_REPLACE) {
			NL_SET_ERR_MSG_ATTR(extack, tb[SOCK_VS_TXN_SVC_ATTR_DELETE],
					    "a replacing transaction deletes a service by leaving it out");
			return ERR_PTR(-EINVAL);
		}
		if (ndests) {
			NL_SET_ERR_MSG_ATTR(extack, tb[SOCK_VS_TXN_SVC_ATTR_DEST],
					    "a service to delete has no real servers");
			return ERR_PTR(-EINVAL);
		}
	}
	err = svs_txn_room_dests(sn, ndests, entry, extack);
	if (err)
		return ERR_PTR(err);

	ts = svs_txn_alloc(1, sizeof(*ts));
	if (!ts) {
		NL_SET_ERR_MSG(extack, "out of memory for the staged service");
		return ERR_PTR(-ENOMEM);
	}
	INIT_LIST_HEAD(&ts->doomed);
	ts->key = *key;
	if (tb[SOCK_VS_TXN_SVC_ATTR_DELETE]) {
		ts->del = true;
		return ts;
	}
	svs_svc_conf_default(&ts->conf);
	err = svs_parse_svc_conf(stb, &ts->conf, extack) ?:
	      svs_check_unconnected(key, &ts->conf, extack);
	if (err)
		goto fail;
	if (stb[SOCK_VS_SVC_ATTR_SKIP]) {
		skip = svs_skip_parse(stb[SOCK_VS_SVC_ATTR_SKIP], extack);
		if (IS_ERR(skip)) {
			err = PTR_ERR(skip);
			goto fail;
		}
		ts->skip = skip;
	}
	if (ndests) {
		ts->dests = svs_txn_alloc(ndests, sizeof(*ts->dests));
		if (!ts->dests) {
			NL_SET_ERR_MSG(extack, "out of memory for the staged real servers");
			err = -ENOMEM;
			goto fail;
		}
	}
	err = svs_txn_parse_dests(ts, entry, extack);
	if (err)
		goto fail;
	ts->n = ndests;
	return ts;
fail:
	svs_txn_svc_free(ts);
	return ERR_PTR(err);
}

/*
 * One TXN_SVC entry of a TXN_STAGE message, checked as NEW_SERVICE and
 * NEW_DEST check theirs; @nth: the entries staged before it.  A refusal
 * past the service's key names the service in the message's text.
 */
static struct svs_txn_svc *svs_txn_parse(struct svs_net *sn, struct svs_txn *txn,
					 const struct nlattr *entry, u32 nth,
					 struct netlink_ext_ack *extack)
{
	struct nlattr *tb[SOCK_VS_TXN_SVC_ATTR_MAX + 1];
	struct nlattr *stb[SOCK_VS_SVC_ATTR_MAX + 1];
	struct svs_txn_svc *ts;
	struct svs_key key;
	int err;

	err = nla_parse_nested(tb, SOCK_VS_TXN_SVC_ATTR_MAX, entry,
			       svs_txn_svc_policy, extack);
	if (err)
		return ERR_PTR(err);
	if (!tb[SOCK_VS_TXN_SVC_ATTR_SERVICE]) {
		NL_SET_ERR_MSG_ATTR(extack, entry, "a staged entry needs its service");
		return ERR_PTR(-EINVAL);
	}
	err = svs_parse_service_nest(tb[SOCK_VS_TXN_SVC_ATTR_SERVICE], stb, &key, extack);
	if (err)
		return ERR_PTR(err);
	ts = svs_txn_parse_svc(sn, txn, entry, tb, stb, &key, nth, extack);
	if (IS_ERR(ts))
		svs_txn_name(extack, &key);
	return ts;
}

int svs_txn_stage(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	struct netlink_ext_ack *extack = info->extack;
	struct svs_txn_svc *ts, *tmp;
	const struct nlattr *attr;
	struct svs_txn *txn;
	LIST_HEAD(staged);
	int rem, err = 0;
	u32 n = 0;

	mutex_lock(&sn->lock);
	txn = svs_txn_find(sn, skb, info);
	if (!txn) {
		NL_SET_ERR_MSG(extack, "no transaction open on this socket (TXN_BEGIN)");
		err = -ENOENT;
		goto unlock;
	}
	nla_for_each_attr(attr, genlmsg_data(info->genlhdr),
			  genlmsg_len(info->genlhdr), rem) {
		if (nla_type(attr) != SOCK_VS_ATTR_TXN_SVC)
			continue;
		ts = svs_txn_parse(sn, txn, attr, txn->n + n, extack);
		if (IS_ERR(ts)) {
			err = PTR_ERR(ts);
			goto bad_entry;
		}
		/* Indexed now: a later entry of this message may repeat it. */
		err = svs_txn_index(txn, ts);
		if (err) {
			NL_SET_ERR_MSG(extack, "out of memory for the transaction's index");
			svs_txn_name(extack, &ts->key);
			svs_txn_svc_free(ts);
			goto bad_entry;
		}
		list_add_tail(&ts->list, &staged);
		n++;
	}
	if (!n) {
		NL_SET_ERR_MSG(extack, "nothing to stage (no SOCK_VS_ATTR_TXN_SVC)");
		err = -EINVAL;
		goto unlock;
	}
	list_splice_tail(&staged, &txn->svcs);
	txn->n += n;
	goto unlock;

bad_entry:
	/* The entry is named: its attribute, and its key in the text. */
	if (!extack->bad_attr)
		NL_SET_BAD_ATTR(extack, attr);
	list_for_each_entry_safe(ts, tmp, &staged, list) {
		svs_txn_unindex(txn, ts);
		svs_txn_svc_free(ts);
	}
unlock:
	mutex_unlock(&sn->lock);
	return err;
}

static bool svs_txn_conf_equal(const struct svs_svc_conf *a, const struct svs_svc_conf *b)
{
	/* ipvs: the staged one is a copy of the service's (svs_txn_prep_change()). */
	return a->sched == b->sched && a->flags == b->flags &&
	       a->hash_key == b->hash_key && a->shard_policy == b->shard_policy &&
	       a->terminate == b->terminate && a->persist == b->persist &&
	       a->eject == b->eject && a->eject_time == b->eject_time &&
	       a->eject_time_max == b->eject_time_max && a->eject_pct == b->eject_pct;
}

static bool svs_txn_skip_equal(const struct svs_skip *a, const struct svs_skip *b)
{
	const struct svs_skip_rule *x, *y;
	u32 i;

	if (!a || !b)
		return a == b;
	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		x = &a->rule[i];
		y = &b->rule[i];
		if (x->kind != y->kind || x->level != y->level ||
		    !uid_eq(x->uid_min, y->uid_min) || !uid_eq(x->uid_max, y->uid_max) ||
		    x->mark != y->mark || x->mask != y->mask || x->cgroup_id != y->cgroup_id ||
		    !x->path != !y->path || (x->path && strcmp(x->path, y->path)))
			return false;
	}
	return true;
}

static bool svs_txn_dest_equal(const struct svs_dest *d, const struct svs_dest_conf *c)
{
	return d->weight == c->weight && d->live.u_thresh == c->u_thresh &&
	       d->live.l_thresh == c->l_thresh && d->shards == c->shards;
}

/* The staged servers' new snapshot, for @sched. */
static struct svs_dtable *svs_txn_dtable(struct svs_txn_svc *ts,
					 const struct svs_sched_ops *sched)
{
	const struct svs_dest_conf **cv;
	struct svs_dtable *dt;
	struct svs_dest **dv;
	u32 i, n = max(ts->n, 1U);

	dv = svs_txn_alloc(n, sizeof(*dv) + sizeof(*cv));
	if (!dv)
		return ERR_PTR(-ENOMEM);
	cv = (const struct svs_dest_conf **)&dv[n];
	for (i = 0; i < ts->n; i++) {
		dv[i] = ts->dests[i].dest;
		cv[i] = &ts->dests[i].conf;
	}
	dt = svs_dtable_make(sched, ts->n, dv, cv);
	kvfree(dv);
	return dt;
}

/* The new servers of @ts (those without an object), for @svc. */
static int svs_txn_new_dests(struct svs_net *sn, struct svs_txn_svc *ts,
			     struct svs_service *svc, struct netlink_ext_ack *extack)
{
	struct svs_txn_dest *d;
	struct svs_dest *dest;
	u32 i;

	for (i = 0; i < ts->n; i++) {
		d = &ts->dests[i];
		if (d->dest)
			continue;
		dest = svs_dest_new(sn, svc, &d->addr, d->port, &d->conf, extack);
		if (IS_ERR(dest))
			return PTR_ERR(dest);
		d->dest = dest;
		d->fresh = true;
	}
	return 0;
}

static void svs_txn_put_new_dests(struct svs_txn_svc *ts)
{
	u32 i;

	for (i = 0; i < ts->n; i++) {
		if (ts->dests[i].fresh) {
			svs_dest_put(ts->dests[i].dest);
			ts->dests[i].dest = NULL;
			ts->dests[i].fresh = false;
		}
	}
}

/* A new service: allocated, inserted hidden.  Undone by svs_txn_undo(). */
static int svs_txn_prep_add(struct svs_net *sn, struct svs_txn_svc *ts,
			    struct netlink_ext_ack *extack)
{
	struct svs_service *svc;
	struct svs_dtable *dt;
	u32 i;
	int err;

	err = svs_txn_room_dests(sn, ts->n, NULL, extack);
	if (err)
		return err;
	svc = svs_service_alloc(sn, &ts->key, &ts->conf, extack);
	if (IS_ERR(svc))
		return PTR_ERR(svc);
	err = svs_txn_new_dests(sn, ts, svc, extack);
	if (err)
		goto put_dests;
	dt = svs_txn_dtable(ts, ts->conf.sched);
	if (IS_ERR(dt)) {
		NL_SET_ERR_MSG(extack, "out of memory building the scheduler table");
		err = PTR_ERR(dt);
		goto put_dests;
	}
	RCU_INIT_POINTER(svc->dt, dt);
	err = svs_hooks_get(NULL, &ts->conf, extack);
	if (err)
		goto put_dests;
	svc->hidden = true;
	RCU_INIT_POINTER(svc->skip, ts->skip);
	err = svs_service_insert(sn, svc, extack);
	if (err) {
		RCU_INIT_POINTER(svc->skip, NULL);
		svs_hooks_put(&ts->conf, NULL);
		goto put_dests;
	}
	ts->skip = NULL;		/* the service's now */
	for (i = 0; i < ts->n; i++) {
		list_add_tail(&ts->dests[i].dest->list, &svc->dests);
		ts->dests[i].fresh = false;	/* the service's now */
	}
	svc->num_dests = ts->n;
	ts->svc = svc;
	ts->op = SVS_TXN_ADD;
	return 0;

put_dests:
	svs_txn_put_new_dests(ts);
	svs_service_free(svc);		/* with its snapshot, if made */
	return err;
}

/*
 * An existing service: which of its servers stay (the staged ones with
 * their keys, unless their shards change), come and go, and whether
 * anything changes at all.  Undone by svs_txn_undo().
 */
static int svs_txn_prep_change(struct svs_net *sn, struct svs_txn_svc *ts,
			       struct netlink_ext_ack *extack)
{
	struct svs_service *svc = ts->svc;
	struct svs_dest *d, *pos;
	struct svs_txn_dest *t;
	bool same_dests, need_dt;
	u32 i, j;
	int err;

	err = svs_txn_room_dests(sn, ts->n, NULL, extack);
	if (err)
		return err;
	ts->old_conf = svc->conf;
	ts->conf.ipvs = svc->conf.ipvs;	/* what only the IPVS family sets */
	same_dests = ts->n == svc->num_dests;
	need_dt = ts->conf.sched != svc->conf.sched || !same_dests;
	pos = list_first_entry_or_null(&svc->dests, struct svs_dest, list);
	for (i = 0; i < ts->n; i++) {
		t = &ts->dests[i];
		d = svs_dest_find(svc, &t->addr, t->port);
		if (d && d->shards != t->conf.shards)
			d = NULL;	/* another server under its key: it goes */
		t->dest = d;
		if (d)
			t->conf.ipvs = d->ipvs;
		if (!d || d != pos || !svs_txn_dest_equal(d, &t->conf))
			same_dests = false;
		if (!d || d != pos || !svs_txn_dest_equal(d, &t->conf))
			need_dt = true;	/* weights and thresholds are in the snapshot */
		if (pos)
			pos = list_is_last(&pos->list, &svc->dests) ? NULL :
			      list_next_entry(pos, list);
	}
	ts->skip_changed = !svs_txn_skip_equal(rcu_dereference_protected(svc->skip, true),
					       ts->skip);
	if (same_dests && !ts->skip_changed && svs_txn_conf_equal(&svc->conf, &ts->conf)) {
		ts->op = SVS_TXN_KEEP;
		return 0;
	}

	/* The servers that leave: those no staged one is. */
	ts->gone = svs_txn_alloc(max(svc->num_dests, 1U), sizeof(*ts->gone));
	if (!ts->gone) {
		NL_SET_ERR_MSG(extack, "out of memory for the transaction");
		return -ENOMEM;
	}
	ts->ngone = 0;
	list_for_each_entry(d, &svc->dests, list) {
		for (j = 0; j < ts->n && ts->dests[j].dest != d; j++)
			;
		if (j == ts->n)
			ts->gone[ts->ngone++] = d;
	}
	err = svs_txn_new_dests(sn, ts, svc, extack);
	if (err)
		goto fail;
	if (need_dt) {
		ts->dt = svs_txn_dtable(ts, ts->conf.sched);
		if (IS_ERR(ts->dt)) {
			err = PTR_ERR(ts->dt);
			ts->dt = NULL;
			NL_SET_ERR_MSG(extack, "out of memory building the scheduler table");
			goto fail;
		}
	}
	err = svs_hooks_get(&ts->old_conf, &ts->conf, extack);
	if (err)
		goto fail;
	ts->hooks = true;
	ts->op = SVS_TXN_CHANGE;
	return 0;
fail:
	svs_dtable_free(ts->dt);
	ts->dt = NULL;
	svs_txn_put_new_dests(ts);
	return err;
}

/* Undo the preparation of @ts (nothing of it was published). */
static void svs_txn_undo(struct svs_net *sn, struct svs_txn_svc *ts)
{
	switch (ts->op) {
	case SVS_TXN_ADD:
		/* Readers may have found it (hidden): freed after a grace period. */
		svs_service_remove(sn, ts->svc, NULL);
		break;
	case SVS_TXN_CHANGE:
		svs_dtable_free(ts->dt);
		ts->dt = NULL;
		svs_txn_put_new_dests(ts);
		if (ts->hooks)
			svs_hooks_put(&ts->conf, &ts->old_conf);
		ts->hooks = false;
		break;
	}
	ts->op = SVS_TXN_KEEP;
}

/* Inside the write section: stores and swaps only. */
static void svs_txn_publish_change(struct svs_txn_svc *ts)
{
	struct svs_service *svc = ts->svc;
	u32 i;

	svs_service_conf_set(svc, &ts->conf);
	if (ts->dt) {
		ts->old_dt = rcu_replace_pointer(svc->dt, ts->dt, true);
		ts->dt = NULL;
	}
	if (ts->skip_changed) {
		ts->old_skip = rcu_replace_pointer(svc->skip, ts->skip, true);
		ts->skip = NULL;
	}
	for (i = 0; i < ts->n; i++)
		if (!ts->dests[i].fresh)
			svs_dest_set_conf(ts->dests[i].dest, &ts->dests[i].conf);
	for (i = 0; i < ts->ngone; i++)
		WRITE_ONCE(ts->gone[i]->removed, true);	/* its templates go */
	WRITE_ONCE(svc->num_dests, ts->n);
}

/* After the write section: the old configuration's leftovers. */
static void svs_txn_finish_change(struct svs_txn_svc *ts)
{
	struct svs_service *svc = ts->svc;
	struct svs_dest *d;
	u32 i;

	svs_dtable_retire(ts->old_dt);
	svs_skip_put(ts->old_skip);
	for (i = 0; i < ts->ngone; i++) {
		d = ts->gone[i];
		list_del(&d->list);
		svs_eject_forget(svc, d);
		svs_dest_retire(svc, d, &ts->doomed);
	}
	/* The service's list in the staged order. */
	for (i = 0; i < ts->n; i++) {
		d = ts->dests[i].dest;
		if (ts->dests[i].fresh)
			list_add_tail(&d->list, &svc->dests);
		else
			list_move_tail(&d->list, &svc->dests);
		ts->dests[i].fresh = false;
	}
	if (!ts->conf.eject && ts->old_conf.eject)
		svs_eject_reset(svc);	/* every server back */
	svs_hooks_put(&ts->old_conf, &ts->conf);
	ts->hooks = false;
}

/* Whether @svc (of the table) is staged in @txn. */
static bool svs_txn_staged(struct svs_txn *txn, const struct svs_service *svc)
{
	return svs_txn_lookup_key(txn, &svc->key);
}

/*
 * Commit @txn under the lock: all of it, or (an error) nothing.  The
 * servers of deleted services go to @doomed, those leaving changed ones
 * to their entries' lists.
 */
static int svs_txn_apply(struct svs_net *sn, struct svs_txn *txn,
			 struct svs_txn_result *res, struct list_head *doomed,
			 struct netlink_ext_ack *extack)
{
	struct svs_service **victims = NULL, *svc;
	struct svs_txn_svc *ts;
	u32 nvictims = 0, adds = 0, i;
	unsigned long id;
	int err = 0;

	lockdep_assert_held(&sn->lock);
	if (txn->check_gen && txn->gen != sn->gen) {
		NL_SET_ERR_MSG(extack,
			       "the table changed since the transaction's generation");
		return -EAGAIN;
	}
	list_for_each_entry(ts, &txn->svcs, list) {
		ts->svc = svs_service_find(sn, &ts->key);
		ts->op = SVS_TXN_KEEP;
		if (ts->del)
			nvictims += !!ts->svc;
		else
			adds += !ts->svc;
	}
	if (txn->flags & SOCK_VS_TXN_F_REPLACE)
		xa_for_each(&sn->by_id, id, svc)
			nvictims += !svs_txn_staged(txn, svc);
	if (adds && sn->num_services - nvictims + adds > svs_limit_services(sn)) {
		if (sn->userns)
			NL_SET_ERR_MSG(extack,
				       "too many services for a namespace owned by a user namespace (userns_max_services, max_services)");
		else
			NL_SET_ERR_MSG(extack, "too many services (max_services)");
		return -ENOSPC;
	}
	if (nvictims) {
		victims = svs_txn_alloc(nvictims, sizeof(*victims));
		if (!victims) {
			NL_SET_ERR_MSG(extack, "out of memory for the transaction");
			return -ENOMEM;
		}
	}
	nvictims = 0;
	list_for_each_entry(ts, &txn->svcs, list) {
		if (ts->del && ts->svc) {
			victims[nvictims++] = ts->svc;
			ts->op = SVS_TXN_DEL;
		}
	}
	if (txn->flags & SOCK_VS_TXN_F_REPLACE)
		xa_for_each(&sn->by_id, id, svc)
			if (!svs_txn_staged(txn, svc))
				victims[nvictims++] = svc;

	/* 1. Prepare: everything that can fail. */
	list_for_each_entry(ts, &txn->svcs, list) {
		if (ts->del)
			continue;
		err = ts->svc ? svs_txn_prep_change(sn, ts, extack) :
				svs_txn_prep_add(sn, ts, extack);
		if (err) {
			svs_txn_name(extack, &ts->key);
			list_for_each_entry_continue_reverse(ts, &txn->svcs, list)
				svs_txn_undo(sn, ts);
			kvfree(victims);
			return err;
		}
	}

	/* 2. Publish: what every connect sees at once. */
	svs_publish_begin(sn);
	list_for_each_entry(ts, &txn->svcs, list) {
		if (ts->op == SVS_TXN_ADD)
			WRITE_ONCE(ts->svc->hidden, false);
		else if (ts->op == SVS_TXN_CHANGE)
			svs_txn_publish_change(ts);
	}
	for (i = 0; i < nvictims; i++)
		WRITE_ONCE(victims[i]->hidden, true);
	svs_publish_end(sn);

	/* 3. Finish: the old configuration goes. */
	list_for_each_entry(ts, &txn->svcs, list) {
		switch (ts->op) {
		case SVS_TXN_ADD:
			res->added++;
			break;
		case SVS_TXN_CHANGE:
			svs_txn_finish_change(ts);
			res->changed++;
			break;
		case SVS_TXN_KEEP:
			res->unchanged++;
			break;
		}
	}
	for (i = 0; i < nvictims; i++)
		svs_service_remove(sn, victims[i], doomed);
	res->deleted = nvictims;
	kvfree(victims);
	if (res->added || res->changed || res->deleted)
		svs_table_changed(sn);
	return 0;
}

/* Terminate the sockets of the servers on @doomed (no lock held). */
static u32 svs_txn_terminate(struct list_head *doomed, int *err)
{
	struct svs_dest *dest, *tmp;
	u32 killed = 0;
	int ret;

	list_for_each_entry_safe(dest, tmp, doomed, list) {
		list_del(&dest->list);
		ret = svs_terminate_dest(dest, dest->doom);
		if (ret < 0)
			*err = ret;
		else
			killed += ret;
		svs_dest_put(dest);
	}
	return killed;
}

static void svs_txn_reply(struct genl_info *info, const struct svs_txn_result *res,
			  u64 gen, u32 killed)
{
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;

	msg = nlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return;	/* the counts are only for information */
	hdr = svs_genl_reply(msg, info, SOCK_VS_CMD_TXN_COMMIT);
	if (!hdr)
		goto free;
	nest = nla_nest_start(msg, SOCK_VS_ATTR_TXN);
	if (!nest ||
	    nla_put_u32(msg, SOCK_VS_TXN_ATTR_ADDED, res->added) ||
	    nla_put_u32(msg, SOCK_VS_TXN_ATTR_CHANGED, res->changed) ||
	    nla_put_u32(msg, SOCK_VS_TXN_ATTR_DELETED, res->deleted) ||
	    nla_put_u32(msg, SOCK_VS_TXN_ATTR_UNCHANGED, res->unchanged) ||
	    nla_put_u64_64bit(msg, SOCK_VS_TXN_ATTR_GENERATION, gen, SOCK_VS_TXN_ATTR_PAD))
		goto free;
	nla_nest_end(msg, nest);
	if (nla_put_u32(msg, SOCK_VS_ATTR_KILLED, killed))
		goto free;
	genlmsg_end(msg, hdr);
	genlmsg_reply(msg, info);	/* the commit is made, whatever becomes of this */
	return;
free:
	nlmsg_free(msg);
}

int svs_txn_commit(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	struct svs_txn_result res = { 0 };
	struct svs_txn_svc *ts;
	struct svs_txn *txn;
	LIST_HEAD(doomed);
	u32 killed = 0, k;
	bool any = false;
	int err, terr = 0;
	u64 gen;

	mutex_lock(&sn->lock);
	txn = svs_txn_find(sn, skb, info);
	if (!txn) {
		mutex_unlock(&sn->lock);
		NL_SET_ERR_MSG(info->extack, "no transaction open on this socket (TXN_BEGIN)");
		return -ENOENT;
	}
	svs_txn_unlink(sn, txn);	/* a commit ends it, whatever happens */
	err = svs_txn_apply(sn, txn, &res, &doomed, info->extack);
	gen = sn->gen;
	mutex_unlock(&sn->lock);
	if (err) {
		svs_txn_free(txn);
		return err;
	}

	list_for_each_entry(ts, &txn->svcs, list)
		any |= !list_empty(&ts->doomed);
	if (any || !list_empty(&doomed))
		synchronize_rcu();	/* connects that picked them are tracked now */
	list_for_each_entry(ts, &txn->svcs, list) {
		k = svs_txn_terminate(&ts->doomed, &terr);
		svs_count_killed(sn, &ts->key, k);
		killed += k;
	}
	killed += svs_txn_terminate(&doomed, &terr);
	svs_txn_free(txn);
	svs_persist_changed(sn);	/* templates of departed and quiesced servers */
	/*
	 * The commit is made: it succeeds.  Sockets that could not be
	 * terminated (no memory) are said in the ACK's message.
	 */
	if (terr)
		NL_SET_ERR_MSG(info->extack,
			       "committed; out of memory terminating some of the departed servers' sockets");
	else if (killed)
		SVS_EXTACK_KILLED(info->extack, killed);
	svs_txn_reply(info, &res, gen, killed);
	return 0;
}

int svs_txn_abort(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	struct svs_txn *txn;

	mutex_lock(&sn->lock);
	txn = svs_txn_find(sn, skb, info);
	if (txn)
		svs_txn_unlink(sn, txn);
	mutex_unlock(&sn->lock);
	if (!txn) {
		NL_SET_ERR_MSG(info->extack, "no transaction open on this socket (TXN_BEGIN)");
		return -ENOENT;
	}
	svs_txn_free(txn);
	return 0;
}

/* The namespace goes: so do its transactions (no socket is left to send). */
void svs_txn_net_exit(struct svs_net *sn)
{
	struct svs_txn *txn, *tmp;
	LIST_HEAD(gone);

	mutex_lock(&sn->lock);
	list_for_each_entry_safe(txn, tmp, &sn->txns, node) {
		svs_txn_unlink(sn, txn);
		list_add(&txn->node, &gone);
	}
	mutex_unlock(&sn->lock);
	list_for_each_entry_safe(txn, tmp, &gone, node)
		svs_txn_free(txn);
}

/*
 * A netlink socket is released: a transaction it left open goes.  Every
 * generic netlink socket of the host passes here; one read tells those of
 * namespaces without open transactions apart.
 */
static int svs_txn_urelease(struct notifier_block *nb, unsigned long event,
			    void *ptr)
{
	struct netlink_notify *n = ptr;
	struct svs_txn *txn;
	struct svs_net *sn;

	if (event != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC)
		return NOTIFY_DONE;
	sn = svs_net(n->net);
	if (!READ_ONCE(sn->num_txns))
		return NOTIFY_DONE;
	mutex_lock(&sn->lock);
	txn = svs_txn_lookup(sn, n->portid);
	if (txn)
		svs_txn_unlink(sn, txn);
	mutex_unlock(&sn->lock);
	svs_txn_free(txn);
	return NOTIFY_DONE;
}

static struct notifier_block svs_txn_notifier = {
	.notifier_call = svs_txn_urelease,
};

/* After the per-namespace state exists: it is what the notifier looks at. */
int svs_txn_init(void)
{
	return netlink_register_notifier(&svs_txn_notifier);
}

/* Before the per-namespace state goes (waits for notifiers running). */
void svs_txn_exit(void)
{
	netlink_unregister_notifier(&svs_txn_notifier);
}
