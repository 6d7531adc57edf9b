// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink family SOCK_VS: configuration and listing.
 *
 * The protocol is defined in include/uapi/linux/sock_vs.h.  Policies sit
 * beside the commands; validation is strict.  Commands that change
 * anything need CAP_NET_ADMIN over the namespace (GENL_UNS_ADMIN_PERM), and
 * so does the connection listing (it shows other users' processes); the
 * services, real servers and the module's information are open to every
 * user of the namespace (none of these dumps takes a lock the connect path
 * takes).  Every change is
 * all-or-nothing: it is checked completely before anything is modified.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/in.h>
#include <linux/in6.h>
#include <linux/utsname.h>
#include <net/genetlink.h>
#include <net/ipv6.h>

#include "sock_vs.h"
#include "compat.h"

/*
 * NLA_POLICY_MAX() holds an s16: larger bounds need a range object (not
 * const: 6.1 declares the pointer non-const).
 */
static struct netlink_range_validation svs_persist_range = {
	.max = SOCK_VS_PERSIST_MAX,
};

static struct netlink_range_validation svs_eject_range = {
	.max = SOCK_VS_EJECT_MAX,
};

static struct netlink_range_validation svs_eject_time_range = {
	.min = 1,
	.max = SOCK_VS_EJECT_TIME_LIMIT,
};

static struct netlink_range_validation svs_weight_range = {
	.max = SOCK_VS_WEIGHT_MAX,
};

static struct netlink_range_validation svs_thresh_range = {
	.max = INT_MAX,
};

static const struct nla_policy svs_stats_policy[SOCK_VS_STATS_ATTR_MAX + 1] = {
	[SOCK_VS_STATS_ATTR_CONNS] = { .type = NLA_U64 },
	[SOCK_VS_STATS_ATTR_REFUSED] = { .type = NLA_U64 },
	[SOCK_VS_STATS_ATTR_UNTRACKED] = { .type = NLA_U64 },
	[SOCK_VS_STATS_ATTR_KILLED] = { .type = NLA_U64 },
	[SOCK_VS_STATS_ATTR_EJECTED] = { .type = NLA_U64 },
	[SOCK_VS_STATS_ATTR_FAILED] = { .type = NLA_U64 },
};

const struct nla_policy svs_skip_rule_policy[SOCK_VS_SKIP_ATTR_MAX + 1] = {
	[SOCK_VS_SKIP_ATTR_UID_MIN] = { .type = NLA_U32 },
	[SOCK_VS_SKIP_ATTR_UID_MAX] = { .type = NLA_U32 },
	[SOCK_VS_SKIP_ATTR_CGROUP] = { .type = NLA_NUL_STRING,
				       .len = SOCK_VS_SKIP_CGROUP_PATH_MAX - 1 },
	[SOCK_VS_SKIP_ATTR_MARK] = { .type = NLA_U32 },
	[SOCK_VS_SKIP_ATTR_MARK_MASK] = { .type = NLA_U32 },
	[SOCK_VS_SKIP_ATTR_CGROUP_ID] = { .type = NLA_REJECT },
};

/* SOCK_VS_SVC_ATTR_SKIP: SOCK_VS_SKIP_RULE entries (skip.c). */
static const struct nla_policy svs_skip_policy[SOCK_VS_SKIP_RULE + 1] = {
	[SOCK_VS_SKIP_RULE] = NLA_POLICY_NESTED(svs_skip_rule_policy),
};

const struct nla_policy svs_svc_policy[SOCK_VS_SVC_ATTR_MAX + 1] = {
	[SOCK_VS_SVC_ATTR_AF] = { .type = NLA_U16 },
	[SOCK_VS_SVC_ATTR_PROTOCOL] = { .type = NLA_U16 },
	[SOCK_VS_SVC_ATTR_ADDR] = NLA_POLICY_MIN_LEN(sizeof(struct in_addr)),
	[SOCK_VS_SVC_ATTR_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[SOCK_VS_SVC_ATTR_SCHED_NAME] = { .type = NLA_NUL_STRING,
					  .len = SOCK_VS_SCHED_NAME_MAX - 1 },
	[SOCK_VS_SVC_ATTR_FLAGS] = NLA_POLICY_MASK(NLA_U32, SOCK_VS_SVC_F_ALL),
	[SOCK_VS_SVC_ATTR_STATS] = NLA_POLICY_NESTED(svs_stats_policy),
	[SOCK_VS_SVC_ATTR_NUM_DESTS] = { .type = NLA_U32 },
	[SOCK_VS_SVC_ATTR_HASH_KEY] = NLA_POLICY_MAX(NLA_U8, SOCK_VS_HASH_MAX),
	[SOCK_VS_SVC_ATTR_SHARD_POLICY] = NLA_POLICY_MAX(NLA_U8, SOCK_VS_SHARD_MAX),
	[SOCK_VS_SVC_ATTR_TERMINATE] = NLA_POLICY_MAX(NLA_U8, SOCK_VS_TERMINATE_MAX),
	[SOCK_VS_SVC_ATTR_SKIP] = NLA_POLICY_NESTED(svs_skip_policy),
	[SOCK_VS_SVC_ATTR_PERSIST] = NLA_POLICY_FULL_RANGE(NLA_U32, &svs_persist_range),
	[SOCK_VS_SVC_ATTR_EJECT] = NLA_POLICY_FULL_RANGE(NLA_U32, &svs_eject_range),
	[SOCK_VS_SVC_ATTR_EJECT_TIME] = NLA_POLICY_FULL_RANGE(NLA_U32, &svs_eject_time_range),
	[SOCK_VS_SVC_ATTR_EJECT_TIME_MAX] = NLA_POLICY_FULL_RANGE(NLA_U32, &svs_eject_time_range),
	[SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT] = NLA_POLICY_RANGE(NLA_U8, 1, 100),
};

const struct nla_policy svs_dest_policy[SOCK_VS_DEST_ATTR_MAX + 1] = {
	[SOCK_VS_DEST_ATTR_ADDR] = NLA_POLICY_MIN_LEN(sizeof(struct in_addr)),
	[SOCK_VS_DEST_ATTR_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[SOCK_VS_DEST_ATTR_WEIGHT] = NLA_POLICY_FULL_RANGE(NLA_U32, &svs_weight_range),
	[SOCK_VS_DEST_ATTR_AF] = { .type = NLA_U16 },
	[SOCK_VS_DEST_ATTR_STATS] = NLA_POLICY_NESTED(svs_stats_policy),
	[SOCK_VS_DEST_ATTR_ACTIVE_CONNS] = { .type = NLA_U32 },
	[SOCK_VS_DEST_ATTR_INACT_CONNS] = { .type = NLA_U32 },
	[SOCK_VS_DEST_ATTR_U_THRESH] = NLA_POLICY_FULL_RANGE(NLA_U32, &svs_thresh_range),
	[SOCK_VS_DEST_ATTR_L_THRESH] = NLA_POLICY_FULL_RANGE(NLA_U32, &svs_thresh_range),
	[SOCK_VS_DEST_ATTR_SHARDS] = NLA_POLICY_RANGE(NLA_U16, 1, SOCK_VS_SHARDS_MAX),
	[SOCK_VS_DEST_ATTR_SHARD_CONNS] = { .type = NLA_REJECT },
	[SOCK_VS_DEST_ATTR_OVERLOADED] = { .type = NLA_REJECT },
	[SOCK_VS_DEST_ATTR_EJECTED] = { .type = NLA_REJECT },
	[SOCK_VS_DEST_ATTR_EJECT_LEFT] = { .type = NLA_REJECT },
	[SOCK_VS_DEST_ATTR_FAILS] = { .type = NLA_REJECT },
};

static const struct nla_policy svs_policy[SOCK_VS_ATTR_MAX + 1] = {
	[SOCK_VS_ATTR_SERVICE] = NLA_POLICY_NESTED(svs_svc_policy),
	[SOCK_VS_ATTR_DEST] = NLA_POLICY_NESTED(svs_dest_policy),
	[SOCK_VS_ATTR_INFO] = { .type = NLA_REJECT },
	[SOCK_VS_ATTR_CONN] = { .type = NLA_REJECT },
	[SOCK_VS_ATTR_KILLED] = { .type = NLA_REJECT },
	[SOCK_VS_ATTR_TEMPLATE] = { .type = NLA_REJECT },
	[SOCK_VS_ATTR_TXN] = NLA_POLICY_NESTED(svs_txn_policy),	/* txn.c */
	[SOCK_VS_ATTR_TXN_SVC] = NLA_POLICY_NESTED(svs_txn_svc_policy),
};

static struct genl_family svs_genl_family;

static int svs_addr_len(u8 af)
{
	return af == AF_INET ? sizeof(struct in_addr) : sizeof(struct in6_addr);
}

/*
 * Check @addr (of family @af, from @attr) for a virtual address or a real
 * server: a unicast address, usable without a scope id.  Shared with the
 * IPVS family (ipvs_compat.c).
 */
int svs_check_addr(const struct nlattr *attr, u16 af,
		   const union nf_inet_addr *addr, bool real_server,
		   struct netlink_ext_ack *extack)
{
	if (af == AF_INET) {
		if (ipv4_is_zeronet(addr->ip) || ipv4_is_multicast(addr->ip) ||
		    ipv4_is_lbcast(addr->ip))
			goto bad;
	} else {
		int type = ipv6_addr_type(&addr->in6);

		if (type == IPV6_ADDR_ANY || (type & IPV6_ADDR_MULTICAST))
			goto bad;
		/*
		 * A v4-mapped real server would be connected through the
		 * IPv4 stack (and balanced again by an IPv4 service); a
		 * link-local one needs a scope id a service cannot give.
		 */
		if (real_server && (type & IPV6_ADDR_MAPPED)) {
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "v4-mapped real server: use an IPv4 service and address");
			return -EINVAL;
		}
		if (real_server && (type & IPV6_ADDR_LINKLOCAL)) {
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "link-local real servers are not supported (no scope id)");
			return -EINVAL;
		}
	}
	return 0;
bad:
	if (real_server)
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "real server must have a unicast address");
	else
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "virtual address must be a unicast address");
	return -EINVAL;
}

/* Fetch and check an address of family @af (4 or 16 raw bytes). */
static int svs_get_addr(const struct nlattr *attr, u16 af,
			union nf_inet_addr *addr, bool real_server,
			struct netlink_ext_ack *extack)
{
	int len = svs_addr_len(af);

	if (nla_len(attr) != len) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "address length does not match the address family");
		return -EAFNOSUPPORT;
	}
	memset(addr, 0, sizeof(*addr));
	nla_memcpy(addr, attr, len);
	return svs_check_addr(attr, af, addr, real_server, extack);
}

/*
 * Parse a service nest into its key; @tb gets the parsed attributes.
 * Shared with transactions (txn.c).
 */
int svs_parse_service_nest(const struct nlattr *nest, struct nlattr **tb,
			   struct svs_key *key, struct netlink_ext_ack *extack)
{
	u16 af, proto;
	int err;

	err = nla_parse_nested(tb, SOCK_VS_SVC_ATTR_MAX, nest, svs_svc_policy,
			       extack);
	if (err)
		return err;
	if (!tb[SOCK_VS_SVC_ATTR_AF] || !tb[SOCK_VS_SVC_ATTR_PROTOCOL] ||
	    !tb[SOCK_VS_SVC_ATTR_ADDR] || !tb[SOCK_VS_SVC_ATTR_PORT]) {
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "service needs address family, protocol, address and port");
		return -EINVAL;
	}
	af = nla_get_u16(tb[SOCK_VS_SVC_ATTR_AF]);
	if (af != AF_INET && af != AF_INET6) {
		NL_SET_ERR_MSG_ATTR(extack, tb[SOCK_VS_SVC_ATTR_AF],
				    "address family must be AF_INET or AF_INET6");
		return -EAFNOSUPPORT;
	}
	proto = nla_get_u16(tb[SOCK_VS_SVC_ATTR_PROTOCOL]);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
		NL_SET_ERR_MSG_ATTR(extack, tb[SOCK_VS_SVC_ATTR_PROTOCOL],
				    "protocol must be TCP or UDP");
		return -EPROTONOSUPPORT;
	}
	memset(key, 0, sizeof(*key));
	err = svs_get_addr(tb[SOCK_VS_SVC_ATTR_ADDR], af, &key->addr, false,
			   extack);
	if (err)
		return err;
	key->port = htons(nla_get_u16(tb[SOCK_VS_SVC_ATTR_PORT]));
	key->protocol = proto;
	key->af = af;
	return 0;
}

/* The command's service nest into its key; @tb gets its attributes. */
static int svs_parse_service(struct genl_info *info, struct nlattr **tb,
			     struct svs_key *key)
{
	struct nlattr *nest = info->attrs[SOCK_VS_ATTR_SERVICE];

	if (!nest) {
		NL_SET_ERR_MSG(info->extack, "missing service attribute");
		return -EINVAL;
	}
	return svs_parse_service_nest(nest, tb, key, info->extack);
}

/* The service a command names; -ESRCH if there is none. */
static struct svs_service *svs_lookup_service(struct svs_net *sn,
					      struct genl_info *info,
					      struct nlattr **tb)
{
	struct svs_service *svc;
	struct svs_key key;
	int err;

	err = svs_parse_service(info, tb, &key);
	if (err)
		return ERR_PTR(err);
	svc = svs_service_find(sn, &key);
	if (!svc) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[SOCK_VS_ATTR_SERVICE],
				    "no such service");
		return ERR_PTR(-ESRCH);
	}
	return svc;
}

static const struct svs_sched_ops *svs_get_sched(struct nlattr *attr,
						 struct netlink_ext_ack *extack)
{
	const struct svs_sched_ops *sched;
	char name[SOCK_VS_SCHED_NAME_MAX];

	nla_strscpy(name, attr, sizeof(name));
	sched = svs_sched_find(name);
	if (!sched)
		NL_SET_ERR_MSG_ATTR(extack, attr, "unknown scheduler");
	return sched;
}

/* What NEW_SERVICE gives a service whose request leaves them out. */
void svs_svc_conf_default(struct svs_svc_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->sched = &svs_sched_wrr;
	conf->hash_key = SOCK_VS_HASH_TGID;
	conf->shard_policy = SOCK_VS_SHARD_RR;
	conf->terminate = SOCK_VS_TERMINATE_DEFAULT;
	conf->eject_time = SOCK_VS_EJECT_TIME_DEFAULT;
	conf->eject_time_max = SOCK_VS_EJECT_TIME_MAX_DEFAULT;
	conf->eject_pct = SOCK_VS_EJECT_PERCENT_DEFAULT;
}

/* Apply the optional service settings of @tb over @conf. */
int svs_parse_svc_conf(struct nlattr **tb, struct svs_svc_conf *conf,
		       struct netlink_ext_ack *extack)
{
	if (tb[SOCK_VS_SVC_ATTR_SCHED_NAME]) {
		conf->sched = svs_get_sched(tb[SOCK_VS_SVC_ATTR_SCHED_NAME], extack);
		if (!conf->sched)
			return -ENOENT;
	}
	if (tb[SOCK_VS_SVC_ATTR_FLAGS])
		conf->flags = nla_get_u32(tb[SOCK_VS_SVC_ATTR_FLAGS]);
	if (tb[SOCK_VS_SVC_ATTR_HASH_KEY])
		conf->hash_key = nla_get_u8(tb[SOCK_VS_SVC_ATTR_HASH_KEY]);
	if (tb[SOCK_VS_SVC_ATTR_SHARD_POLICY])
		conf->shard_policy = nla_get_u8(tb[SOCK_VS_SVC_ATTR_SHARD_POLICY]);
	if (tb[SOCK_VS_SVC_ATTR_TERMINATE])
		conf->terminate = nla_get_u8(tb[SOCK_VS_SVC_ATTR_TERMINATE]);
	if (tb[SOCK_VS_SVC_ATTR_PERSIST])
		conf->persist = nla_get_u32(tb[SOCK_VS_SVC_ATTR_PERSIST]);
	if (tb[SOCK_VS_SVC_ATTR_EJECT])
		conf->eject = nla_get_u32(tb[SOCK_VS_SVC_ATTR_EJECT]);
	if (tb[SOCK_VS_SVC_ATTR_EJECT_TIME])
		conf->eject_time = nla_get_u32(tb[SOCK_VS_SVC_ATTR_EJECT_TIME]);
	if (tb[SOCK_VS_SVC_ATTR_EJECT_TIME_MAX])
		conf->eject_time_max = nla_get_u32(tb[SOCK_VS_SVC_ATTR_EJECT_TIME_MAX]);
	if (tb[SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT])
		conf->eject_pct = nla_get_u8(tb[SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT]);
	if (conf->eject_time > conf->eject_time_max) {
		NL_SET_ERR_MSG(extack, "ejection time above the longest ejection time");
		return -EINVAL;
	}
	if (conf->persist && conf->sched == &svs_sched_port) {
		NL_SET_ERR_MSG(extack,
			       "persistence cannot be combined with the port scheduler (it would override its choice by local port)");
		return -EINVAL;
	}
	return 0;
}

/* SOCK_VS_SVC_F_UNCONNECTED is for UDP services, ejection for TCP ones. */
int svs_check_unconnected(const struct svs_key *key,
			  const struct svs_svc_conf *conf,
			  struct netlink_ext_ack *extack)
{
	if ((conf->flags & SOCK_VS_SVC_F_UNCONNECTED) && key->protocol != IPPROTO_UDP) {
		NL_SET_ERR_MSG(extack, "unconnected is for UDP services");
		return -EINVAL;
	}
	if (conf->eject && key->protocol != IPPROTO_TCP) {
		NL_SET_ERR_MSG(extack, "ejection (passive health) is for TCP services");
		return -EINVAL;
	}
	return 0;
}

/*
 * Terminate the sockets of the servers on @doomed (no lock held), then
 * answer @info's command with how many: a message carrying
 * SOCK_VS_ATTR_KILLED, and on kernels that format them, the ACK's text.
 */
static int svs_reply_killed(struct genl_info *info, u32 killed, int err)
{
	struct sk_buff *msg;
	void *hdr;

	if (err) {
		/* The change is made; some sockets could not be terminated. */
		NL_SET_ERR_MSG(info->extack,
			       "out of memory terminating the real server's sockets");
		return err;
	}
	if (killed)
		SVS_EXTACK_KILLED(info->extack, killed);
	msg = nlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return 0;	/* the count is only for information */
	hdr = genlmsg_put_reply(msg, info, &svs_genl_family, 0,
				info->genlhdr->cmd);
	if (!hdr || nla_put_u32(msg, SOCK_VS_ATTR_KILLED, killed)) {
		nlmsg_free(msg);
		return 0;
	}
	genlmsg_end(msg, hdr);
	genlmsg_reply(msg, info);	/* the change is made, whatever becomes of this */
	return 0;
}

/* After a change that deleted the servers on @doomed: see svs_reply_killed(). */
static int svs_finish_doomed(struct genl_info *info, struct list_head *doomed)
{
	int err;
	u32 killed = svs_terminate_doomed(doomed, &err);

	return svs_reply_killed(info, killed, err);
}

static int svs_new_service(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	struct nlattr *tb[SOCK_VS_SVC_ATTR_MAX + 1];
	struct svs_skip *skip = NULL;
	struct svs_svc_conf conf;
	struct svs_key key;
	int err;

	svs_svc_conf_default(&conf);
	err = svs_parse_service(info, tb, &key);
	if (err)
		return err;
	err = svs_parse_svc_conf(tb, &conf, info->extack);
	if (err)
		return err;
	err = svs_check_unconnected(&key, &conf, info->extack);
	if (err)
		return err;
	if (tb[SOCK_VS_SVC_ATTR_SKIP]) {
		skip = svs_skip_parse(tb[SOCK_VS_SVC_ATTR_SKIP], info->extack);
		if (IS_ERR(skip))
			return PTR_ERR(skip);
	}

	mutex_lock(&sn->lock);
	if (svs_service_find(sn, &key)) {
		NL_SET_ERR_MSG(info->extack, "service already exists");
		err = -EEXIST;
	} else {
		err = svs_service_add(sn, &key, &conf, skip, info->extack);
	}
	mutex_unlock(&sn->lock);
	if (err)
		svs_skip_free(skip);
	return err;
}

static int svs_set_service(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	struct nlattr *tb[SOCK_VS_SVC_ATTR_MAX + 1];
	struct svs_skip *skip = NULL;
	struct svs_svc_conf conf;
	struct svs_service *svc;
	int err;

	mutex_lock(&sn->lock);
	svc = svs_lookup_service(sn, info, tb);
	if (IS_ERR(svc)) {
		err = PTR_ERR(svc);
		goto out;
	}
	conf = svc->conf;
	err = svs_parse_svc_conf(tb, &conf, info->extack);
	if (err)
		goto out;
	err = svs_check_unconnected(&svc->key, &conf, info->extack);
	if (err)
		goto out;
	if (tb[SOCK_VS_SVC_ATTR_SKIP]) {
		skip = svs_skip_parse(tb[SOCK_VS_SVC_ATTR_SKIP], info->extack);
		if (IS_ERR(skip)) {
			err = PTR_ERR(skip);
			goto out;
		}
	}
	err = svs_service_edit(sn, svc, &conf, info->extack);
	if (err)
		svs_skip_free(skip);
	else if (tb[SOCK_VS_SVC_ATTR_SKIP])
		svs_skip_publish(svc, skip);
out:
	mutex_unlock(&sn->lock);
	if (!err)
		svs_persist_changed(sn);	/* persistence may be off now */
	return err;
}

static int svs_del_service(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	struct nlattr *tb[SOCK_VS_SVC_ATTR_MAX + 1];
	struct svs_service *svc;
	LIST_HEAD(doomed);
	int err = 0;

	mutex_lock(&sn->lock);
	svc = svs_lookup_service(sn, info, tb);
	if (IS_ERR(svc))
		err = PTR_ERR(svc);
	else
		svs_service_del(sn, svc, &doomed);
	mutex_unlock(&sn->lock);
	if (err)
		return err;
	svs_persist_changed(sn);
	return svs_finish_doomed(info, &doomed);
}

static int svs_put_stats(struct sk_buff *skb, int type,
			 const struct svs_stats *s)
{
	struct nlattr *nest = nla_nest_start(skb, type);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, SOCK_VS_STATS_ATTR_CONNS,
			      svs_stat_read(s, SVS_STAT_CONNS), SOCK_VS_STATS_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, SOCK_VS_STATS_ATTR_REFUSED,
			      svs_stat_read(s, SVS_STAT_REFUSED), SOCK_VS_STATS_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, SOCK_VS_STATS_ATTR_UNTRACKED,
			      svs_stat_read(s, SVS_STAT_UNTRACKED), SOCK_VS_STATS_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, SOCK_VS_STATS_ATTR_KILLED,
			      svs_stat_read(s, SVS_STAT_KILLED), SOCK_VS_STATS_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, SOCK_VS_STATS_ATTR_EJECTED,
			      svs_stat_read(s, SVS_STAT_EJECTED), SOCK_VS_STATS_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, SOCK_VS_STATS_ATTR_FAILED,
			      svs_stat_read(s, SVS_STAT_FAILED), SOCK_VS_STATS_ATTR_PAD)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int svs_fill_service(struct sk_buff *skb, const struct svs_service *svc,
			    u32 portid, u32 seq, int flags)
{
	struct nlattr *nest;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &svs_genl_family, flags,
			  SOCK_VS_CMD_GET_SERVICE);
	if (!hdr)
		return -EMSGSIZE;
	nest = nla_nest_start(skb, SOCK_VS_ATTR_SERVICE);
	if (!nest)
		goto cancel;
	if (nla_put_u16(skb, SOCK_VS_SVC_ATTR_AF, svc->key.af) ||
	    nla_put_u16(skb, SOCK_VS_SVC_ATTR_PROTOCOL, svc->key.protocol) ||
	    nla_put(skb, SOCK_VS_SVC_ATTR_ADDR, svs_addr_len(svc->key.af),
		    &svc->key.addr) ||
	    nla_put_u16(skb, SOCK_VS_SVC_ATTR_PORT, ntohs(svc->key.port)) ||
	    nla_put_string(skb, SOCK_VS_SVC_ATTR_SCHED_NAME, svc->conf.sched->name) ||
	    nla_put_u32(skb, SOCK_VS_SVC_ATTR_FLAGS, svc->conf.flags) ||
	    nla_put_u8(skb, SOCK_VS_SVC_ATTR_HASH_KEY, svc->conf.hash_key) ||
	    nla_put_u8(skb, SOCK_VS_SVC_ATTR_SHARD_POLICY, svc->conf.shard_policy) ||
	    nla_put_u8(skb, SOCK_VS_SVC_ATTR_TERMINATE, svc->conf.terminate) ||
	    nla_put_u32(skb, SOCK_VS_SVC_ATTR_PERSIST, svc->conf.persist) ||
	    nla_put_u32(skb, SOCK_VS_SVC_ATTR_EJECT, svc->conf.eject) ||
	    nla_put_u32(skb, SOCK_VS_SVC_ATTR_EJECT_TIME, svc->conf.eject_time) ||
	    nla_put_u32(skb, SOCK_VS_SVC_ATTR_EJECT_TIME_MAX, svc->conf.eject_time_max) ||
	    nla_put_u8(skb, SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT, svc->conf.eject_pct) ||
	    nla_put_u32(skb, SOCK_VS_SVC_ATTR_NUM_DESTS, svc->num_dests) ||
	    svs_skip_fill(skb, svc) ||
	    svs_put_stats(skb, SOCK_VS_SVC_ATTR_STATS, &svc->stats))
		goto cancel;
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

static int svs_get_service(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	struct nlattr *tb[SOCK_VS_SVC_ATTR_MAX + 1];
	struct svs_service *svc;
	struct sk_buff *msg;
	int err;

	msg = nlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg) {
		NL_SET_ERR_MSG(info->extack, "out of memory for the reply");
		return -ENOMEM;
	}
	mutex_lock(&sn->lock);
	svc = svs_lookup_service(sn, info, tb);
	if (IS_ERR(svc))
		err = PTR_ERR(svc);
	else
		err = svs_fill_service(msg, svc, info->snd_portid,
				       info->snd_seq, 0);
	mutex_unlock(&sn->lock);
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	return genlmsg_reply(msg, info);
}

static int svs_dump_services(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct svs_net *sn = svs_net(sock_net(skb->sk));
	struct svs_service *svc;
	unsigned long id;

	mutex_lock(&sn->lock);
	xa_for_each_start(&sn->by_id, id, svc, cb->args[0]) {
		if (svs_fill_service(skb, svc, NETLINK_CB(cb->skb).portid,
				     cb->nlh->nlmsg_seq, NLM_F_MULTI))
			break;
		cb->args[0] = id + 1;
	}
	mutex_unlock(&sn->lock);
	return skb->len;
}

/*
 * Parse a real-server nest: address (of the service's family @af) and
 * port.  Shared with transactions (txn.c).
 */
int svs_parse_dest_nest(const struct nlattr *nest, u8 af, struct nlattr **tb,
			union nf_inet_addr *addr, __be16 *port,
			struct netlink_ext_ack *extack)
{
	int err;

	err = nla_parse_nested(tb, SOCK_VS_DEST_ATTR_MAX, nest, svs_dest_policy,
			       extack);
	if (err)
		return err;
	if (!tb[SOCK_VS_DEST_ATTR_ADDR] || !tb[SOCK_VS_DEST_ATTR_PORT]) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "real server needs address and port");
		return -EINVAL;
	}
	if ((tb[SOCK_VS_DEST_ATTR_AF] &&
	     nla_get_u16(tb[SOCK_VS_DEST_ATTR_AF]) != af) ||
	    nla_len(tb[SOCK_VS_DEST_ATTR_ADDR]) != svs_addr_len(af)) {
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "real server address family differs from the service's");
		return -EAFNOSUPPORT;
	}
	err = svs_get_addr(tb[SOCK_VS_DEST_ATTR_ADDR], af, addr, true, extack);
	if (err)
		return err;
	*port = htons(nla_get_u16(tb[SOCK_VS_DEST_ATTR_PORT]));
	return 0;
}

/* The command's real-server nest, for a server of @svc. */
static int svs_parse_dest(struct genl_info *info, const struct svs_service *svc,
			  struct nlattr **tb, union nf_inet_addr *addr,
			  __be16 *port)
{
	struct nlattr *nest = info->attrs[SOCK_VS_ATTR_DEST];

	if (!nest) {
		NL_SET_ERR_MSG(info->extack, "missing real server attribute");
		return -EINVAL;
	}
	return svs_parse_dest_nest(nest, svc->key.af, tb, addr, port, info->extack);
}

/* Apply the optional real-server settings of @tb over @conf. */
int svs_parse_dest_conf(struct nlattr **tb, struct svs_dest_conf *conf,
			struct netlink_ext_ack *extack)
{
	if (tb[SOCK_VS_DEST_ATTR_WEIGHT])
		conf->weight = nla_get_u32(tb[SOCK_VS_DEST_ATTR_WEIGHT]);
	if (tb[SOCK_VS_DEST_ATTR_U_THRESH])
		conf->u_thresh = nla_get_u32(tb[SOCK_VS_DEST_ATTR_U_THRESH]);
	if (tb[SOCK_VS_DEST_ATTR_L_THRESH])
		conf->l_thresh = nla_get_u32(tb[SOCK_VS_DEST_ATTR_L_THRESH]);
	if (tb[SOCK_VS_DEST_ATTR_SHARDS])
		conf->shards = nla_get_u16(tb[SOCK_VS_DEST_ATTR_SHARDS]);
	if (conf->l_thresh > conf->u_thresh) {
		/* The one given (an edit may give one of them). */
		NL_SET_ERR_MSG_ATTR(extack, tb[SOCK_VS_DEST_ATTR_L_THRESH] ?:
				    tb[SOCK_VS_DEST_ATTR_U_THRESH],
				    "lower threshold above upper threshold");
		return -EINVAL;
	}
	return 0;
}

/* Count @killed in the service of @key, if it still exists. */
void svs_count_killed(struct svs_net *sn, const struct svs_key *key,
		      u32 killed)
{
	struct svs_service *svc;

	if (!killed)
		return;
	mutex_lock(&sn->lock);
	svc = svs_service_find(sn, key);
	if (svc)
		svs_stat_add(&svc->stats, SVS_STAT_KILLED, killed);
	mutex_unlock(&sn->lock);
}

static int svs_finish_del_dest(struct svs_net *sn, struct genl_info *info,
			       const struct svs_key *key,
			       struct list_head *doomed)
{
	int err;
	u32 killed = svs_terminate_doomed(doomed, &err);

	svs_count_killed(sn, key, killed);
	return svs_reply_killed(info, killed, err);
}

enum svs_dest_op { SVS_DEST_NEW, SVS_DEST_SET, SVS_DEST_DEL };

static int svs_dest_cmd(struct genl_info *info, enum svs_dest_op op)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	struct nlattr *stb[SOCK_VS_SVC_ATTR_MAX + 1];
	struct nlattr *tb[SOCK_VS_DEST_ATTR_MAX + 1];
	struct netlink_ext_ack *extack = info->extack;
	struct svs_dest_conf conf = {
		.weight = SOCK_VS_WEIGHT_DEFAULT,
		.shards = 1,
	};
	struct svs_service *svc;
	union nf_inet_addr addr;
	struct svs_dest *dest;
	struct svs_key key;
	LIST_HEAD(doomed);
	__be16 port;
	int err;

	mutex_lock(&sn->lock);
	svc = svs_lookup_service(sn, info, stb);
	if (IS_ERR(svc)) {
		err = PTR_ERR(svc);
		goto out;
	}
	err = svs_parse_dest(info, svc, tb, &addr, &port);
	if (err)
		goto out;
	if (!tb[SOCK_VS_DEST_ATTR_WEIGHT] && op == SVS_DEST_SET) {
		NL_SET_ERR_MSG(extack, "missing real server weight");
		err = -EINVAL;
		goto out;
	}

	dest = svs_dest_find(svc, &addr, port);
	if (op != SVS_DEST_NEW && !dest) {
		NL_SET_ERR_MSG(extack, "no such real server");
		err = -ENOENT;
		goto out;
	}
	if (op == SVS_DEST_DEL) {
		key = svc->key;
		err = svs_dest_del(svc, dest, extack, &doomed);
		mutex_unlock(&sn->lock);
		if (err)
			return err;
		svs_persist_changed(sn);
		return svs_finish_del_dest(sn, info, &key, &doomed);
	}
	if (dest) {	/* edit: what is not given stays as it is */
		conf.shards = dest->shards;
		conf.u_thresh = dest->live.u_thresh;
		conf.l_thresh = dest->live.l_thresh;
		conf.ipvs = dest->ipvs;
	}
	err = svs_parse_dest_conf(tb, &conf, extack);
	if (err)
		goto out;
	if (op == SVS_DEST_NEW)
		err = svs_dest_add(sn, svc, &addr, port, &conf, extack);
	else
		err = svs_dest_edit(svc, dest, &conf, extack);
out:
	mutex_unlock(&sn->lock);
	if (!err && op == SVS_DEST_SET)
		svs_persist_changed(sn);	/* a quiesced server's templates go */
	return err;
}

static int svs_new_dest(struct sk_buff *skb, struct genl_info *info)
{
	return svs_dest_cmd(info, SVS_DEST_NEW);
}

static int svs_set_dest(struct sk_buff *skb, struct genl_info *info)
{
	return svs_dest_cmd(info, SVS_DEST_SET);
}

static int svs_del_dest(struct sk_buff *skb, struct genl_info *info)
{
	return svs_dest_cmd(info, SVS_DEST_DEL);
}

static int svs_put_shard_conns(struct sk_buff *skb, const struct svs_dest *d)
{
	struct nlattr *attr;
	u32 *v;
	int i;

	attr = nla_reserve(skb, SOCK_VS_DEST_ATTR_SHARD_CONNS,
			   d->shards * sizeof(u32));
	if (!attr)
		return -EMSGSIZE;
	v = nla_data(attr);
	for (i = 0; i < d->shards; i++)
		v[i] = d->shard_conns ? atomic_read(&d->shard_conns[i]) :
					atomic_read(&d->live.conns);
	return 0;
}

static int svs_fill_dest(struct sk_buff *skb, const struct svs_service *svc,
			 struct svs_dest *d, u32 portid, u32 seq)
{
	struct nlattr *nest;
	u32 active, inactive, ej_left;
	void *hdr;
	u8 ej_state;

	svs_conn_count(d, &active, &inactive);
	ej_state = svs_eject_state(d, &ej_left);
	hdr = genlmsg_put(skb, portid, seq, &svs_genl_family, NLM_F_MULTI,
			  SOCK_VS_CMD_GET_DEST);
	if (!hdr)
		return -EMSGSIZE;
	nest = nla_nest_start(skb, SOCK_VS_ATTR_DEST);
	if (!nest)
		goto cancel;
	if (nla_put(skb, SOCK_VS_DEST_ATTR_ADDR, svs_addr_len(svc->key.af),
		    &d->addr) ||
	    nla_put_u16(skb, SOCK_VS_DEST_ATTR_PORT, ntohs(d->port)) ||
	    nla_put_u32(skb, SOCK_VS_DEST_ATTR_WEIGHT, d->weight) ||
	    nla_put_u16(skb, SOCK_VS_DEST_ATTR_AF, svc->key.af) ||
	    nla_put_u32(skb, SOCK_VS_DEST_ATTR_ACTIVE_CONNS, active) ||
	    nla_put_u32(skb, SOCK_VS_DEST_ATTR_INACT_CONNS, inactive) ||
	    nla_put_u32(skb, SOCK_VS_DEST_ATTR_U_THRESH, d->live.u_thresh) ||
	    nla_put_u32(skb, SOCK_VS_DEST_ATTR_L_THRESH, d->live.l_thresh) ||
	    nla_put_u16(skb, SOCK_VS_DEST_ATTR_SHARDS, d->shards) ||
	    nla_put_u8(skb, SOCK_VS_DEST_ATTR_OVERLOADED,
		       atomic_read(&d->live.overloaded)) ||
	    nla_put_u8(skb, SOCK_VS_DEST_ATTR_EJECTED, ej_state) ||
	    nla_put_u32(skb, SOCK_VS_DEST_ATTR_EJECT_LEFT, ej_left) ||
	    nla_put_u32(skb, SOCK_VS_DEST_ATTR_FAILS, atomic_read(&d->ej_fails)) ||
	    svs_put_shard_conns(skb, d) ||
	    svs_put_stats(skb, SOCK_VS_DEST_ATTR_STATS, &d->stats))
		goto cancel;
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/* Room for a real server of SOCK_VS_SHARDS_MAX shards per message. */
static int svs_dump_dests_start(struct netlink_callback *cb)
{
	cb->min_dump_alloc = NLMSG_GOODSIZE + SOCK_VS_SHARDS_MAX * sizeof(u32);
	return 0;
}

static int svs_dump_dests(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct svs_net *sn = svs_net(sock_net(skb->sk));
	struct nlattr *attrs[SOCK_VS_ATTR_MAX + 1];
	struct nlattr *tb[SOCK_VS_SVC_ATTR_MAX + 1];
	struct genl_info info = { .attrs = attrs, .extack = cb->extack };
	struct svs_service *svc;
	struct svs_dest *d;
	long i = 0;
	int err;

	/* The request, parsed here: portable across kernel versions. */
	err = nlmsg_parse(cb->nlh, GENL_HDRLEN, attrs, SOCK_VS_ATTR_MAX,
			  svs_policy, cb->extack);
	if (err)
		return err;
	mutex_lock(&sn->lock);
	svc = svs_lookup_service(sn, &info, tb);
	if (IS_ERR(svc)) {
		err = PTR_ERR(svc);
		goto out;
	}
	list_for_each_entry(d, &svc->dests, list) {
		if (i++ < cb->args[0])
			continue;
		if (svs_fill_dest(skb, svc, d, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq))
			break;
		cb->args[0] = i;
	}
out:
	mutex_unlock(&sn->lock);
	/* A first call may report an error; later ones just end the dump. */
	if (err && !cb->args[1])
		return err;
	cb->args[1] = 1;
	return err ? 0 : skb->len;
}

static int svs_flush_cmd(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	LIST_HEAD(doomed);

	mutex_lock(&sn->lock);
	svs_flush(sn, &doomed);
	mutex_unlock(&sn->lock);
	svs_persist_changed(sn);
	return svs_finish_doomed(info, &doomed);
}

/*
 * SOCK_VS_CMD_KILL: terminate now the sockets of one real server of a
 * service, or of all of them, by the service's policy or the one given.
 * The servers stay (a quiesced server's connections, say); each is held
 * by a reference while the configuration lock is released.
 */
static int svs_kill_cmd(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	struct nlattr *stb[SOCK_VS_SVC_ATTR_MAX + 1];
	struct nlattr *tb[SOCK_VS_DEST_ATTR_MAX + 1];
	struct netlink_ext_ack *extack = info->extack;
	struct svs_dest **dests = NULL, *d = NULL;
	struct svs_service *svc;
	union nf_inet_addr addr;
	u32 i, n = 0, killed = 0;
	struct svs_key key;
	__be16 port;
	u8 policy;
	int err = 0, ret;

	mutex_lock(&sn->lock);
	svc = svs_lookup_service(sn, info, stb);
	if (IS_ERR(svc)) {
		err = PTR_ERR(svc);
		goto unlock;
	}
	key = svc->key;
	policy = svc->conf.terminate;
	if (stb[SOCK_VS_SVC_ATTR_TERMINATE]) {
		policy = nla_get_u8(stb[SOCK_VS_SVC_ATTR_TERMINATE]);
		if (policy == SOCK_VS_TERMINATE_NONE) {
			NL_SET_ERR_MSG_ATTR(extack, stb[SOCK_VS_SVC_ATTR_TERMINATE],
					    "policy none terminates nothing");
			err = -EINVAL;
			goto unlock;
		}
	}
	if (info->attrs[SOCK_VS_ATTR_DEST]) {
		err = svs_parse_dest(info, svc, tb, &addr, &port);
		if (err)
			goto unlock;
		d = svs_dest_find(svc, &addr, port);
		if (!d) {
			NL_SET_ERR_MSG(extack, "no such real server");
			err = -ENOENT;
			goto unlock;
		}
	}
	if (!svs_terminate_needed(svc, policy) || !svc->num_dests)
		goto unlock;	/* the policy leaves this service's sockets alone */
	dests = kmalloc_array(svc->num_dests, sizeof(*dests), GFP_KERNEL_ACCOUNT);
	if (!dests) {
		NL_SET_ERR_MSG(extack, "out of memory");
		err = -ENOMEM;
		goto unlock;
	}
	if (info->attrs[SOCK_VS_ATTR_DEST]) {
		refcount_inc(&d->refcnt);
		dests[n++] = d;
	} else {
		list_for_each_entry(d, &svc->dests, list) {
			refcount_inc(&d->refcnt);
			dests[n++] = d;
		}
	}
unlock:
	mutex_unlock(&sn->lock);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		ret = svs_terminate_dest(dests[i], policy);
		if (ret < 0)
			err = ret;
		else
			killed += ret;
		svs_dest_put(dests[i]);
	}
	kfree(dests);
	svs_count_killed(sn, &key, killed);
	return svs_reply_killed(info, killed, err);
}

static int svs_zero_cmd(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	struct nlattr *tb[SOCK_VS_SVC_ATTR_MAX + 1];
	struct svs_service *svc;
	unsigned long id;
	int err = 0;

	mutex_lock(&sn->lock);
	if (info->attrs[SOCK_VS_ATTR_SERVICE]) {
		svc = svs_lookup_service(sn, info, tb);
		if (IS_ERR(svc))
			err = PTR_ERR(svc);
		else
			svs_zero_service(svc);
	} else {
		xa_for_each(&sn->by_id, id, svc)
			svs_zero_service(svc);
	}
	mutex_unlock(&sn->lock);
	return err;
}

static int svs_get_info(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	struct nlattr *nest;
	struct sk_buff *msg;
	void *hdr;

	msg = nlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg) {
		NL_SET_ERR_MSG(info->extack, "out of memory for the reply");
		return -ENOMEM;
	}
	hdr = genlmsg_put_reply(msg, info, &svs_genl_family, 0,
				SOCK_VS_CMD_GET_INFO);
	if (!hdr)
		goto nospace;
	nest = nla_nest_start(msg, SOCK_VS_ATTR_INFO);
	if (!nest)
		goto nospace;
	if (nla_put_string(msg, SOCK_VS_INFO_ATTR_VERSION, SOCK_VS_VERSION) ||
	    nla_put_u32(msg, SOCK_VS_INFO_ATTR_NUM_SERVICES,
			READ_ONCE(sn->num_services)) ||
	    nla_put_string(msg, SOCK_VS_INFO_ATTR_HOOK, SVS_HOOK_NAME) ||
	    nla_put_string(msg, SOCK_VS_INFO_ATTR_KERNEL,
			   init_utsname()->release) ||
	    nla_put_u32(msg, SOCK_VS_INFO_ATTR_MAX_SERVICES,
			svs_limit_services(sn)) ||
	    nla_put_u32(msg, SOCK_VS_INFO_ATTR_MAX_DESTS,
			svs_limit_dests(sn)) ||
	    nla_put_u64_64bit(msg, SOCK_VS_INFO_ATTR_UNTRACKED,
			      atomic64_read(&svs_untracked_total),
			      SOCK_VS_INFO_ATTR_PAD) ||
	    nla_put_u32(msg, SOCK_VS_INFO_ATTR_TEMPLATES,
			atomic_read(&sn->num_tmpl)) ||
	    nla_put_u32(msg, SOCK_VS_INFO_ATTR_MAX_TEMPLATES, svs_persist_limit()) ||
	    nla_put_u64_64bit(msg, SOCK_VS_INFO_ATTR_GENERATION, READ_ONCE(sn->gen),
			      SOCK_VS_INFO_ATTR_PAD) ||
	    nla_put_u32(msg, SOCK_VS_INFO_ATTR_TXNS, READ_ONCE(sn->num_txns)))
		goto nospace;
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
nospace:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static const struct genl_ops svs_genl_ops[] = {
	{
		.cmd = SOCK_VS_CMD_NEW_SERVICE,
		.doit = svs_new_service,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SOCK_VS_CMD_SET_SERVICE,
		.doit = svs_set_service,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SOCK_VS_CMD_DEL_SERVICE,
		.doit = svs_del_service,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SOCK_VS_CMD_GET_SERVICE,
		.doit = svs_get_service,
		.dumpit = svs_dump_services,
	},
	{
		.cmd = SOCK_VS_CMD_NEW_DEST,
		.doit = svs_new_dest,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SOCK_VS_CMD_SET_DEST,
		.doit = svs_set_dest,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SOCK_VS_CMD_DEL_DEST,
		.doit = svs_del_dest,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SOCK_VS_CMD_GET_DEST,
		.start = svs_dump_dests_start,
		.dumpit = svs_dump_dests,
	},
	{
		.cmd = SOCK_VS_CMD_FLUSH,
		.doit = svs_flush_cmd,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SOCK_VS_CMD_ZERO,
		.doit = svs_zero_cmd,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SOCK_VS_CMD_GET_INFO,
		.doit = svs_get_info,
	},
	{
		.cmd = SOCK_VS_CMD_GET_CONN,
		.dumpit = svs_conn_dump,
		.done = svs_conn_dump_done,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SOCK_VS_CMD_KILL,
		.doit = svs_kill_cmd,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SOCK_VS_CMD_GET_TEMPLATE,
		.start = svs_persist_dump_start,
		.dumpit = svs_persist_dump,
		.done = svs_persist_dump_done,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	/* Transactions (txn.c; their attributes: svs_txn_policy, svs_txn_svc_policy). */
	{
		.cmd = SOCK_VS_CMD_TXN_BEGIN,
		.doit = svs_txn_begin,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SOCK_VS_CMD_TXN_STAGE,
		.doit = svs_txn_stage,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SOCK_VS_CMD_TXN_COMMIT,
		.doit = svs_txn_commit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SOCK_VS_CMD_TXN_ABORT,
		.doit = svs_txn_abort,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

static struct genl_family svs_genl_family __ro_after_init = {
	.name = SOCK_VS_GENL_NAME,
	.version = SOCK_VS_GENL_VERSION,
	.maxattr = SOCK_VS_ATTR_MAX,
	.policy = svs_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.ops = svs_genl_ops,
	.n_ops = ARRAY_SIZE(svs_genl_ops),
	.resv_start_op = SOCK_VS_CMD_GET_INFO + 1,
};

/* The header of an answer to @info's request, of command @cmd (txn.c). */
void *svs_genl_reply(struct sk_buff *msg, struct genl_info *info, u8 cmd)
{
	return genlmsg_put_reply(msg, info, &svs_genl_family, 0, cmd);
}

/* A message header of the SOCK_VS family (for dumps filled elsewhere). */
void *svs_genl_put(struct sk_buff *skb, u32 portid, u32 seq, int flags, u8 cmd)
{
	return genlmsg_put(skb, portid, seq, &svs_genl_family, flags, cmd);
}

int svs_genl_init(void)
{
	return genl_register_family(&svs_genl_family);
}

void svs_genl_exit(void)
{
	genl_unregister_family(&svs_genl_family);
}
