// SPDX-License-Identifier: GPL-2.0
/*
 * ipvs_compat=1: the kernel's IPVS generic netlink protocol (family "IPVS",
 * version 1, as net/netfilter/ipvs/ip_vs_ctl.c of 6.1 and 6.12 speaks it),
 * answered from sock_vs's own per-namespace tables, so that unmodified
 * ipvsadm, keepalived and other libipvs users configure connect-time
 * balancing.  An IPVS service is a sock_vs service: both families see and
 * change the same table, through the same functions (service.c).
 *
 * Same commands, policies, validation flags (liberal parsing: tools send
 * nests without NLA_F_NESTED), reply layouts and errnos as ip_vs; what
 * sock_vs cannot do (fwmark services, one-packet scheduling, persistence
 * engines, the sync daemon, schedulers it lacks) is refused as IPVS
 * refuses an invalid request, with a line in the log.  The forwarding
 * method, a non-persistent service's timeout, the persistence netmask and
 * the scheduler flags are stored and echoed: every method means the same
 * connect-time rewrite.  /proc/net/ip_vs and /proc/net/ip_vs_stats exist
 * in ip_vs's format, per namespace.
 *
 * ip_vs itself cannot load while this family is registered (a module
 * notifier refuses it), and sock_vs does not load with ipvs_compat=1 while
 * ip_vs is loaded (the family's name is taken).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ip_vs.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>

#include "sock_vs.h"
#include "compat.h"

static bool svs_ipvs_compat;
module_param_named(ipvs_compat, svs_ipvs_compat, bool, 0444);
MODULE_PARM_DESC(ipvs_compat, "Also answer the IPVS generic netlink family, for ipvsadm and keepalived (default 0; refuses to load while ip_vs is loaded)");

/* ip_vs's defaults: 15 min, 2 min, 5 min; its connection table size. */
#define SVS_IPVS_TCP_TIMEOUT	(15 * 60)
#define SVS_IPVS_TCP_FIN_TIMEOUT (2 * 60)
#define SVS_IPVS_UDP_TIMEOUT	(5 * 60)
#define SVS_IPVS_CONN_TAB_SIZE	4096

static struct genl_family svs_ipvs_family;

static const struct nla_policy svs_ipvs_cmd_policy[IPVS_CMD_ATTR_MAX + 1] = {
	[IPVS_CMD_ATTR_SERVICE] = { .type = NLA_NESTED },
	[IPVS_CMD_ATTR_DEST] = { .type = NLA_NESTED },
	[IPVS_CMD_ATTR_DAEMON] = { .type = NLA_NESTED },
	[IPVS_CMD_ATTR_TIMEOUT_TCP] = { .type = NLA_U32 },
	[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN] = { .type = NLA_U32 },
	[IPVS_CMD_ATTR_TIMEOUT_UDP] = { .type = NLA_U32 },
};

static const struct nla_policy svs_ipvs_daemon_policy[IPVS_DAEMON_ATTR_MAX + 1] = {
	[IPVS_DAEMON_ATTR_STATE] = { .type = NLA_U32 },
	[IPVS_DAEMON_ATTR_MCAST_IFN] = { .type = NLA_NUL_STRING,
					 .len = IP_VS_IFNAME_MAXLEN - 1 },
	[IPVS_DAEMON_ATTR_SYNC_ID] = { .type = NLA_U32 },
	[IPVS_DAEMON_ATTR_SYNC_MAXLEN] = { .type = NLA_U16 },
	[IPVS_DAEMON_ATTR_MCAST_GROUP] = { .type = NLA_U32 },
	[IPVS_DAEMON_ATTR_MCAST_GROUP6] = { .len = sizeof(struct in6_addr) },
	[IPVS_DAEMON_ATTR_MCAST_PORT] = { .type = NLA_U16 },
	[IPVS_DAEMON_ATTR_MCAST_TTL] = { .type = NLA_U8 },
};

static const struct nla_policy svs_ipvs_svc_policy[IPVS_SVC_ATTR_MAX + 1] = {
	[IPVS_SVC_ATTR_AF] = { .type = NLA_U16 },
	[IPVS_SVC_ATTR_PROTOCOL] = { .type = NLA_U16 },
	[IPVS_SVC_ATTR_ADDR] = { .type = NLA_BINARY,
				 .len = sizeof(union nf_inet_addr) },
	[IPVS_SVC_ATTR_PORT] = { .type = NLA_U16 },
	[IPVS_SVC_ATTR_FWMARK] = { .type = NLA_U32 },
	[IPVS_SVC_ATTR_SCHED_NAME] = { .type = NLA_NUL_STRING,
				       .len = IP_VS_SCHEDNAME_MAXLEN - 1 },
	[IPVS_SVC_ATTR_PE_NAME] = { .type = NLA_NUL_STRING,
				    .len = IP_VS_PENAME_MAXLEN },
	[IPVS_SVC_ATTR_FLAGS] = { .type = NLA_BINARY,
				  .len = sizeof(struct ip_vs_flags) },
	[IPVS_SVC_ATTR_TIMEOUT] = { .type = NLA_U32 },
	[IPVS_SVC_ATTR_NETMASK] = { .type = NLA_U32 },
	[IPVS_SVC_ATTR_STATS] = { .type = NLA_NESTED },
};

static const struct nla_policy svs_ipvs_dest_policy[IPVS_DEST_ATTR_MAX + 1] = {
	[IPVS_DEST_ATTR_ADDR] = { .type = NLA_BINARY,
				  .len = sizeof(union nf_inet_addr) },
	[IPVS_DEST_ATTR_PORT] = { .type = NLA_U16 },
	[IPVS_DEST_ATTR_FWD_METHOD] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_WEIGHT] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_U_THRESH] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_L_THRESH] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_ACTIVE_CONNS] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_INACT_CONNS] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_PERSIST_CONNS] = { .type = NLA_U32 },
	[IPVS_DEST_ATTR_STATS] = { .type = NLA_NESTED },
	[IPVS_DEST_ATTR_ADDR_FAMILY] = { .type = NLA_U16 },
	[IPVS_DEST_ATTR_TUN_TYPE] = { .type = NLA_U8 },
	[IPVS_DEST_ATTR_TUN_PORT] = { .type = NLA_U16 },
	[IPVS_DEST_ATTR_TUN_FLAGS] = { .type = NLA_U16 },
};

/*
 * An IPVS request sock_vs does not carry out: a line in the log, @msg (a
 * string literal) in the extended ACK, and ip_vs's errno for an invalid
 * request.
 */
static int svs_ipvs_refuse(struct netlink_ext_ack *extack, const char *msg)
{
	pr_info_ratelimited("IPVS request refused: %s\n", msg);
	if (extack)
		extack->_msg = msg;
	return -EINVAL;
}

/* A service request, parsed: its key, and the settings of a full one. */
struct svs_ipvs_svc {
	struct svs_key key;
	const char *sched_name;
	const char *pe_name;
	struct ip_vs_flags flags;
	u32 timeout;
	__be32 netmask;
};

/*
 * Parse the service nest as ip_vs_genl_parse_service() does; @full: the
 * scheduler, flags, timeout and netmask are needed too (NEW, SET).
 */
static int svs_ipvs_parse_svc(struct nlattr *nla, bool full,
			      struct svs_ipvs_svc *u,
			      struct netlink_ext_ack *extack)
{
	struct nlattr *tb[IPVS_SVC_ATTR_MAX + 1];
	u16 af, proto;

	if (!nla || nla_parse_nested_deprecated(tb, IPVS_SVC_ATTR_MAX, nla,
						svs_ipvs_svc_policy, extack))
		return -EINVAL;
	if (!tb[IPVS_SVC_ATTR_AF] ||
	    !(tb[IPVS_SVC_ATTR_FWMARK] ||
	      (tb[IPVS_SVC_ATTR_PORT] && tb[IPVS_SVC_ATTR_PROTOCOL] &&
	       tb[IPVS_SVC_ATTR_ADDR])))
		return -EINVAL;
	memset(u, 0, sizeof(*u));
	af = nla_get_u16(tb[IPVS_SVC_ATTR_AF]);
	if (af != AF_INET && af != AF_INET6)
		return -EAFNOSUPPORT;
	if (tb[IPVS_SVC_ATTR_FWMARK])
		return svs_ipvs_refuse(extack,
				       "firewall-mark services are not supported (connect-time balancing matches address, protocol and port)");
	u->key.af = af;
	/* the u16 itself, not the u8 the key keeps (0x0106 is not TCP) */
	proto = nla_get_u16(tb[IPVS_SVC_ATTR_PROTOCOL]);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return svs_ipvs_refuse(extack, "only TCP and UDP services are supported");
	u->key.protocol = proto;
	nla_memcpy(&u->key.addr, tb[IPVS_SVC_ATTR_ADDR], sizeof(u->key.addr));
	if (af == AF_INET)
		memset(&u->key.addr.all[1], 0, sizeof(u->key.addr) - sizeof(u32));
	u->key.port = nla_get_be16(tb[IPVS_SVC_ATTR_PORT]);
	if (!full)
		return 0;
	if (!tb[IPVS_SVC_ATTR_SCHED_NAME] || !tb[IPVS_SVC_ATTR_FLAGS] ||
	    !tb[IPVS_SVC_ATTR_TIMEOUT] || !tb[IPVS_SVC_ATTR_NETMASK])
		return -EINVAL;
	nla_memcpy(&u->flags, tb[IPVS_SVC_ATTR_FLAGS], sizeof(u->flags));
	u->sched_name = nla_data(tb[IPVS_SVC_ATTR_SCHED_NAME]);
	u->pe_name = tb[IPVS_SVC_ATTR_PE_NAME] ?
		     nla_data(tb[IPVS_SVC_ATTR_PE_NAME]) : NULL;
	u->timeout = nla_get_u32(tb[IPVS_SVC_ATTR_TIMEOUT]);
	u->netmask = nla_get_be32(tb[IPVS_SVC_ATTR_NETMASK]);
	return 0;
}

/* The flags a service shows through the IPVS family. */
static u32 svs_ipvs_svc_flags(const struct svs_svc_conf *conf)
{
	return IP_VS_SVC_F_HASHED | conf->ipvs.flags |
	       (conf->persist ? IP_VS_SVC_F_PERSISTENT : 0);
}

/*
 * Apply a full service request @u over @conf (a new service's defaults or
 * an existing one's settings), as ip_vs_add_service()/ip_vs_edit_service()
 * check it.
 */
static int svs_ipvs_svc_conf(const struct svs_ipvs_svc *u,
			     struct svs_svc_conf *conf,
			     struct netlink_ext_ack *extack)
{
	const struct svs_sched_ops *sched;
	u32 flags;

	flags = (svs_ipvs_svc_flags(conf) & ~u->flags.mask) |
		(u->flags.flags & u->flags.mask);
	sched = svs_sched_find(u->sched_name);
	if (!sched) {
		pr_info_ratelimited("IPVS request refused: scheduler %s is not one of sock_vs's\n",
				    u->sched_name);
		NL_SET_ERR_MSG(extack, "unknown scheduler");
		return -ENOENT;
	}
	if (u->pe_name && *u->pe_name)
		return svs_ipvs_refuse(extack, "persistence engines are not supported");
	if (flags & IP_VS_SVC_F_ONEPACKET)
		return svs_ipvs_refuse(extack, "one-packet scheduling is not supported");
	if (u->key.af == AF_INET6) {
		u32 plen = (__force u32)u->netmask;

		if (plen < 1 || plen > 128)
			return -EINVAL;
	}
	if (!u->key.port)
		return svs_ipvs_refuse(extack, "port 0 (all ports) services are not supported");
	conf->persist = 0;
	if (flags & IP_VS_SVC_F_PERSISTENT) {
		if (!u->timeout || u->timeout > SOCK_VS_PERSIST_MAX)
			return svs_ipvs_refuse(extack,
					       "persistence timeout out of range (1 s to 31 days)");
		if (sched == &svs_sched_port)
			return svs_ipvs_refuse(extack,
					       "persistence cannot be combined with the port scheduler");
		conf->persist = u->timeout;
	}
	conf->sched = sched;
	/* kept and echoed as ip_vs keeps them; only persistence acts */
	conf->ipvs.flags = flags & ~(IP_VS_SVC_F_PERSISTENT | IP_VS_SVC_F_HASHED);
	conf->ipvs.timeout = u->timeout;
	conf->ipvs.netmask = u->netmask;
	conf->ipvs.netmask_set = true;
	return 0;
}

/* A real-server request, parsed (ip_vs_genl_parse_dest()). */
struct svs_ipvs_dest {
	union nf_inet_addr addr;
	__be16 port;
	u16 af;
	u32 fwd;
	u32 weight, u_thresh, l_thresh;
	u8 tun_type;
	__be16 tun_port;
	u16 tun_flags;
};

static int svs_ipvs_parse_dest(struct nlattr *nla, bool full,
			       struct svs_ipvs_dest *u,
			       struct netlink_ext_ack *extack)
{
	struct nlattr *tb[IPVS_DEST_ATTR_MAX + 1];

	if (!nla || nla_parse_nested_deprecated(tb, IPVS_DEST_ATTR_MAX, nla,
						svs_ipvs_dest_policy, extack))
		return -EINVAL;
	if (!tb[IPVS_DEST_ATTR_ADDR] || !tb[IPVS_DEST_ATTR_PORT])
		return -EINVAL;
	memset(u, 0, sizeof(*u));
	nla_memcpy(&u->addr, tb[IPVS_DEST_ATTR_ADDR], sizeof(u->addr));
	u->port = nla_get_be16(tb[IPVS_DEST_ATTR_PORT]);
	if (tb[IPVS_DEST_ATTR_ADDR_FAMILY])
		u->af = nla_get_u16(tb[IPVS_DEST_ATTR_ADDR_FAMILY]);
	if (!full)
		return 0;
	if (!tb[IPVS_DEST_ATTR_FWD_METHOD] || !tb[IPVS_DEST_ATTR_WEIGHT] ||
	    !tb[IPVS_DEST_ATTR_U_THRESH] || !tb[IPVS_DEST_ATTR_L_THRESH])
		return -EINVAL;
	u->fwd = nla_get_u32(tb[IPVS_DEST_ATTR_FWD_METHOD]) & IP_VS_CONN_F_FWD_MASK;
	u->weight = nla_get_u32(tb[IPVS_DEST_ATTR_WEIGHT]);
	u->u_thresh = nla_get_u32(tb[IPVS_DEST_ATTR_U_THRESH]);
	u->l_thresh = nla_get_u32(tb[IPVS_DEST_ATTR_L_THRESH]);
	if (tb[IPVS_DEST_ATTR_TUN_TYPE])
		u->tun_type = nla_get_u8(tb[IPVS_DEST_ATTR_TUN_TYPE]);
	if (tb[IPVS_DEST_ATTR_TUN_PORT])
		u->tun_port = nla_get_be16(tb[IPVS_DEST_ATTR_TUN_PORT]);
	if (tb[IPVS_DEST_ATTR_TUN_FLAGS])
		u->tun_flags = nla_get_u16(tb[IPVS_DEST_ATTR_TUN_FLAGS]);
	return 0;
}

/* ip_vs_add_dest()/ip_vs_edit_dest()'s checks, then sock_vs's bound. */
static int svs_ipvs_dest_conf(const struct svs_ipvs_dest *u,
			      struct svs_dest_conf *conf,
			      struct netlink_ext_ack *extack)
{
	if ((int)u->weight < 0 || u->l_thresh > u->u_thresh)
		return -ERANGE;
	if (u->u_thresh > INT_MAX)
		return -EINVAL;
	if (u->tun_type == IP_VS_CONN_F_TUNNEL_TYPE_GUE && !u->tun_port)
		return -EINVAL;
	if (u->weight > SOCK_VS_WEIGHT_MAX) {
		pr_info_ratelimited("IPVS request refused: weight %u above sock_vs's maximum %u\n",
				    u->weight, SOCK_VS_WEIGHT_MAX);
		NL_SET_ERR_MSG(extack, "weight above 65535");
		return -ERANGE;
	}
	conf->weight = u->weight;
	conf->u_thresh = u->u_thresh;
	conf->l_thresh = u->l_thresh;
	conf->ipvs.fwd = u->fwd;
	conf->ipvs.tun_type = u->tun_type;
	conf->ipvs.tun_port = u->tun_port;
	conf->ipvs.tun_flags = u->tun_flags;
	return 0;
}

static int svs_ipvs_set_config(struct svs_net *sn, struct nlattr **attrs)
{
	static const int ids[] = { IPVS_CMD_ATTR_TIMEOUT_TCP,
				   IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
				   IPVS_CMD_ATTR_TIMEOUT_UDP };
	u32 *t[] = { &sn->ipvs_timeout_tcp, &sn->ipvs_timeout_tcp_fin,
		     &sn->ipvs_timeout_udp };
	int i;

	/* ip_vs_set_timeout(): all are checked before any is set; 0 keeps. */
	for (i = 0; i < ARRAY_SIZE(ids); i++)
		if (attrs[ids[i]] && nla_get_u32(attrs[ids[i]]) > INT_MAX / HZ)
			return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(ids); i++)
		if (attrs[ids[i]] && nla_get_u32(attrs[ids[i]]))
			*t[i] = nla_get_u32(attrs[ids[i]]);
	return 0;
}

/*
 * A real-server command on @svc (configuration lock held); a deleted server
 * goes to @doomed, its sockets terminated by the caller.
 */
static int svs_ipvs_dest_cmd(struct svs_net *sn, struct svs_service *svc,
			     struct genl_info *info, u8 cmd,
			     struct list_head *doomed)
{
	struct netlink_ext_ack *extack = info->extack;
	struct svs_dest_conf conf = { .shards = 1 };
	struct svs_ipvs_dest u;
	struct svs_dest *dest;
	int err;

	err = svs_ipvs_parse_dest(info->attrs[IPVS_CMD_ATTR_DEST],
				  cmd != IPVS_CMD_DEL_DEST, &u, extack);
	if (err)
		return err;
	if (!u.af)
		u.af = svc->key.af;
	if (u.af != AF_INET && u.af != AF_INET6)
		return -EAFNOSUPPORT;
	if (u.af != svc->key.af && cmd != IPVS_CMD_DEL_DEST)
		return svs_ipvs_refuse(extack,
				       "a real server of another address family than its service's");
	if (u.af == AF_INET)
		memset(&u.addr.all[1], 0, sizeof(u.addr) - sizeof(u32));
	dest = u.af == svc->key.af ? svs_dest_find(svc, &u.addr, u.port) : NULL;
	if (cmd == IPVS_CMD_DEL_DEST) {
		if (!dest)
			return -ENOENT;
		return svs_dest_del(svc, dest, extack, doomed);
	}
	if (dest)
		conf.shards = dest->shards;
	err = svs_ipvs_dest_conf(&u, &conf, extack);
	if (err)
		return err;
	if (cmd == IPVS_CMD_NEW_DEST) {
		if (dest)
			return -EEXIST;
		if (!u.port)
			return svs_ipvs_refuse(extack, "real server port 0 is not supported");
		err = svs_check_addr(info->attrs[IPVS_CMD_ATTR_DEST], u.af,
				     &u.addr, true, extack);
		if (err)
			return err;
		return svs_dest_add(sn, svc, &u.addr, u.port, &conf, extack);
	}
	if (!dest)
		return -ENOENT;
	return svs_dest_edit(svc, dest, &conf, extack);
}

static int svs_ipvs_set_cmd(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	struct netlink_ext_ack *extack = info->extack;
	u8 cmd = info->genlhdr->cmd;
	struct svs_svc_conf conf = {
		.hash_key = SOCK_VS_HASH_TGID,
		.shard_policy = SOCK_VS_SHARD_RR,
		.terminate = SOCK_VS_TERMINATE_DEFAULT,
		.eject_time = SOCK_VS_EJECT_TIME_DEFAULT,
		.eject_time_max = SOCK_VS_EJECT_TIME_MAX_DEFAULT,
		.eject_pct = SOCK_VS_EJECT_PERCENT_DEFAULT,
	};
	struct svs_service *svc = NULL;
	struct svs_ipvs_svc u;
	unsigned long id;
	LIST_HEAD(doomed);
	u32 killed;
	int err = 0;

	mutex_lock(&sn->lock);
	if (cmd == IPVS_CMD_FLUSH) {
		svs_flush(sn, &doomed);
		goto out;
	}
	if (cmd == IPVS_CMD_SET_CONFIG) {
		err = svs_ipvs_set_config(sn, info->attrs);
		goto out;
	}
	if (cmd == IPVS_CMD_ZERO && !info->attrs[IPVS_CMD_ATTR_SERVICE]) {
		xa_for_each(&sn->by_id, id, svc)
			svs_zero_service(svc);
		goto out;
	}
	err = svs_ipvs_parse_svc(info->attrs[IPVS_CMD_ATTR_SERVICE],
				 cmd == IPVS_CMD_NEW_SERVICE ||
				 cmd == IPVS_CMD_SET_SERVICE, &u, extack);
	if (err)
		goto out;
	svc = svs_service_find(sn, &u.key);
	if (cmd != IPVS_CMD_NEW_SERVICE && !svc) {
		err = -ESRCH;
		goto out;
	}
	switch (cmd) {
	case IPVS_CMD_NEW_SERVICE:
		if (svc) {
			err = -EEXIST;
			break;
		}
		err = svs_ipvs_svc_conf(&u, &conf, extack);
		if (!err)
			err = svs_check_addr(info->attrs[IPVS_CMD_ATTR_SERVICE],
					     u.key.af, &u.key.addr, false, extack);
		if (!err)
			err = svs_service_add(sn, &u.key, &conf, NULL, extack);
		break;
	case IPVS_CMD_SET_SERVICE:
		conf = svc->conf;
		err = svs_ipvs_svc_conf(&u, &conf, extack);
		if (!err)
			err = svs_service_edit(sn, svc, &conf, extack);
		break;
	case IPVS_CMD_DEL_SERVICE:
		svs_service_del(sn, svc, &doomed);
		break;
	case IPVS_CMD_NEW_DEST:
	case IPVS_CMD_SET_DEST:
	case IPVS_CMD_DEL_DEST:
		err = svs_ipvs_dest_cmd(sn, svc, info, cmd, &doomed);
		break;
	case IPVS_CMD_ZERO:
		svs_zero_service(svc);
		break;
	default:
		err = -EINVAL;
	}
out:
	mutex_unlock(&sn->lock);
	if (err)
		return err;
	if (!list_empty(&doomed)) {
		/* Deleted servers' sockets, terminated without the lock. */
		killed = svs_terminate_doomed(&doomed, &err);
		if (cmd == IPVS_CMD_DEL_DEST)
			svs_count_killed(sn, &u.key, killed);
	}
	/* Deleted servers', persistence off, a server quiesced: templates go. */
	if (cmd == IPVS_CMD_FLUSH || cmd == IPVS_CMD_DEL_SERVICE ||
	    cmd == IPVS_CMD_SET_SERVICE || cmd == IPVS_CMD_SET_DEST ||
	    cmd == IPVS_CMD_DEL_DEST)
		svs_persist_changed(sn);
	return err;
}

/*
 * No synchronisation daemon can start; stopping one that is not running is
 * what ip_vs's stop_sync_thread() answers then (ESRCH).
 */
static int svs_ipvs_daemon_cmd(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[IPVS_DAEMON_ATTR_MAX + 1];
	u32 state;

	if (info->genlhdr->cmd == IPVS_CMD_NEW_DAEMON)
		return svs_ipvs_refuse(info->extack,
				       "the connection synchronisation daemon is not supported");
	if (!info->attrs[IPVS_CMD_ATTR_DAEMON] ||
	    nla_parse_nested_deprecated(tb, IPVS_DAEMON_ATTR_MAX,
					info->attrs[IPVS_CMD_ATTR_DAEMON],
					svs_ipvs_daemon_policy, info->extack) ||
	    !tb[IPVS_DAEMON_ATTR_STATE])
		return -EINVAL;
	state = nla_get_u32(tb[IPVS_DAEMON_ATTR_STATE]);
	return state == IP_VS_STATE_MASTER || state == IP_VS_STATE_BACKUP ? -ESRCH : -EINVAL;
}

/* No synchronisation daemon runs: an empty list, as ip_vs gives then. */
static int svs_ipvs_dump_daemons(struct sk_buff *skb, struct netlink_callback *cb)
{
	return 0;
}

static int svs_ipvs_put_stats(struct sk_buff *skb, int type, u64 conns,
			      bool wide)
{
	static const int ids[] = { IPVS_STATS_ATTR_INPKTS, IPVS_STATS_ATTR_OUTPKTS,
				   IPVS_STATS_ATTR_INBYTES, IPVS_STATS_ATTR_OUTBYTES,
				   IPVS_STATS_ATTR_CPS, IPVS_STATS_ATTR_INPPS,
				   IPVS_STATS_ATTR_OUTPPS, IPVS_STATS_ATTR_INBPS,
				   IPVS_STATS_ATTR_OUTBPS };
	struct nlattr *nest = nla_nest_start_noflag(skb, type);
	int i, err;

	if (!nest)
		return -EMSGSIZE;
	/*
	 * Connections only: sock_vs sees no packet after the connect.  The
	 * 32-bit nest has u64 byte counters, as ip_vs's has.
	 */
	err = wide ? nla_put_u64_64bit(skb, IPVS_STATS_ATTR_CONNS, conns,
				       IPVS_STATS_ATTR_PAD) :
		     nla_put_u32(skb, IPVS_STATS_ATTR_CONNS, (u32)conns);
	for (i = 0; !err && i < ARRAY_SIZE(ids); i++) {
		bool bytes = ids[i] == IPVS_STATS_ATTR_INBYTES ||
			     ids[i] == IPVS_STATS_ATTR_OUTBYTES;

		err = wide || bytes ?
		      nla_put_u64_64bit(skb, ids[i], 0, IPVS_STATS_ATTR_PAD) :
		      nla_put_u32(skb, ids[i], 0);
	}
	if (err) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static __be32 svs_ipvs_netmask(const struct svs_service *svc)
{
	if (svc->conf.ipvs.netmask_set)
		return svc->conf.ipvs.netmask;
	return svc->key.af == AF_INET ? htonl(0xffffffff) : (__force __be32)128;
}

static u32 svs_ipvs_timeout(const struct svs_service *svc)
{
	return svc->conf.persist ?: svc->conf.ipvs.timeout;
}

static int svs_ipvs_fill_svc(struct sk_buff *skb, const struct svs_service *svc)
{
	struct ip_vs_flags flags = { .flags = svs_ipvs_svc_flags(&svc->conf),
				     .mask = ~0U };
	u64 conns = svs_stat_read(&svc->stats, SVS_STAT_CONNS);
	struct nlattr *nest;

	nest = nla_nest_start_noflag(skb, IPVS_CMD_ATTR_SERVICE);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u16(skb, IPVS_SVC_ATTR_AF, svc->key.af) ||
	    nla_put_u16(skb, IPVS_SVC_ATTR_PROTOCOL, svc->key.protocol) ||
	    nla_put(skb, IPVS_SVC_ATTR_ADDR, sizeof(svc->key.addr), &svc->key.addr) ||
	    nla_put_be16(skb, IPVS_SVC_ATTR_PORT, svc->key.port) ||
	    nla_put_string(skb, IPVS_SVC_ATTR_SCHED_NAME, svc->conf.sched->name) ||
	    nla_put(skb, IPVS_SVC_ATTR_FLAGS, sizeof(flags), &flags) ||
	    nla_put_u32(skb, IPVS_SVC_ATTR_TIMEOUT, svs_ipvs_timeout(svc)) ||
	    nla_put_be32(skb, IPVS_SVC_ATTR_NETMASK, svs_ipvs_netmask(svc)) ||
	    svs_ipvs_put_stats(skb, IPVS_SVC_ATTR_STATS, conns, false) ||
	    svs_ipvs_put_stats(skb, IPVS_SVC_ATTR_STATS64, conns, true)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int svs_ipvs_get_cmd(struct sk_buff *skb, struct genl_info *info)
{
	struct svs_net *sn = svs_net(genl_info_net(info));
	u8 cmd = info->genlhdr->cmd, reply_cmd;
	struct svs_service *svc;
	struct svs_ipvs_svc u;
	struct sk_buff *msg;
	void *hdr;
	int err = -EMSGSIZE;

	if (cmd == IPVS_CMD_GET_SERVICE)
		reply_cmd = IPVS_CMD_NEW_SERVICE;
	else if (cmd == IPVS_CMD_GET_INFO)
		reply_cmd = IPVS_CMD_SET_INFO;
	else
		reply_cmd = IPVS_CMD_SET_CONFIG;
	msg = nlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	mutex_lock(&sn->lock);
	hdr = genlmsg_put_reply(msg, info, &svs_ipvs_family, 0, reply_cmd);
	if (!hdr)
		goto fail;
	switch (cmd) {
	case IPVS_CMD_GET_SERVICE:
		err = svs_ipvs_parse_svc(info->attrs[IPVS_CMD_ATTR_SERVICE], false,
					 &u, info->extack);
		if (err)
			goto fail;
		svc = svs_service_find(sn, &u.key);
		err = svc ? svs_ipvs_fill_svc(msg, svc) : -ESRCH;
		if (err)
			goto fail;
		break;
	case IPVS_CMD_GET_CONFIG:
		if (nla_put_u32(msg, IPVS_CMD_ATTR_TIMEOUT_TCP, sn->ipvs_timeout_tcp) ||
		    nla_put_u32(msg, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
				sn->ipvs_timeout_tcp_fin) ||
		    nla_put_u32(msg, IPVS_CMD_ATTR_TIMEOUT_UDP, sn->ipvs_timeout_udp))
			goto fail;
		break;
	default:
		if (nla_put_u32(msg, IPVS_INFO_ATTR_VERSION, IP_VS_VERSION_CODE) ||
		    nla_put_u32(msg, IPVS_INFO_ATTR_CONN_TAB_SIZE,
				SVS_IPVS_CONN_TAB_SIZE))
			goto fail;
	}
	mutex_unlock(&sn->lock);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
fail:
	mutex_unlock(&sn->lock);
	nlmsg_free(msg);
	return err;
}

static int svs_ipvs_dump_svcs(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct svs_net *sn = svs_net(sock_net(skb->sk));
	struct svs_service *svc;
	unsigned long id;
	void *hdr;

	mutex_lock(&sn->lock);
	xa_for_each_start(&sn->by_id, id, svc, cb->args[0]) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &svs_ipvs_family,
				  NLM_F_MULTI, IPVS_CMD_NEW_SERVICE);
		if (!hdr)
			break;
		if (svs_ipvs_fill_svc(skb, svc)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = id + 1;
	}
	mutex_unlock(&sn->lock);
	return skb->len;
}

static int svs_ipvs_fill_dest(struct sk_buff *skb, const struct svs_service *svc,
			      struct svs_dest *d)
{
	u64 conns = svs_stat_read(&d->stats, SVS_STAT_CONNS);
	struct nlattr *nest;
	u32 active, inactive;

	svs_conn_count(d, &active, &inactive);
	nest = nla_nest_start_noflag(skb, IPVS_CMD_ATTR_DEST);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put(skb, IPVS_DEST_ATTR_ADDR, sizeof(d->addr), &d->addr) ||
	    nla_put_be16(skb, IPVS_DEST_ATTR_PORT, d->port) ||
	    nla_put_u32(skb, IPVS_DEST_ATTR_FWD_METHOD, d->ipvs.fwd) ||
	    nla_put_u32(skb, IPVS_DEST_ATTR_WEIGHT, d->weight) ||
	    nla_put_u8(skb, IPVS_DEST_ATTR_TUN_TYPE, d->ipvs.tun_type) ||
	    nla_put_be16(skb, IPVS_DEST_ATTR_TUN_PORT, d->ipvs.tun_port) ||
	    nla_put_u16(skb, IPVS_DEST_ATTR_TUN_FLAGS, d->ipvs.tun_flags) ||
	    nla_put_u32(skb, IPVS_DEST_ATTR_U_THRESH, d->live.u_thresh) ||
	    nla_put_u32(skb, IPVS_DEST_ATTR_L_THRESH, d->live.l_thresh) ||
	    nla_put_u32(skb, IPVS_DEST_ATTR_ACTIVE_CONNS, active) ||
	    nla_put_u32(skb, IPVS_DEST_ATTR_INACT_CONNS, inactive) ||
	    nla_put_u32(skb, IPVS_DEST_ATTR_PERSIST_CONNS, 0) ||
	    nla_put_u16(skb, IPVS_DEST_ATTR_ADDR_FAMILY, svc->key.af) ||
	    svs_ipvs_put_stats(skb, IPVS_DEST_ATTR_STATS, conns, false) ||
	    svs_ipvs_put_stats(skb, IPVS_DEST_ATTR_STATS64, conns, true)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* The servers of the service the request names; none (empty) if none. */
static int svs_ipvs_dump_dests(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct svs_net *sn = svs_net(sock_net(skb->sk));
	struct nlattr *attrs[IPVS_CMD_ATTR_MAX + 1];
	struct svs_service *svc;
	struct svs_ipvs_svc u;
	struct svs_dest *d;
	long i = 0;
	void *hdr;

	if (nlmsg_parse_deprecated(cb->nlh, GENL_HDRLEN, attrs, IPVS_CMD_ATTR_MAX,
				   svs_ipvs_cmd_policy, cb->extack) ||
	    svs_ipvs_parse_svc(attrs[IPVS_CMD_ATTR_SERVICE], false, &u, NULL))
		return 0;
	mutex_lock(&sn->lock);
	svc = svs_service_find(sn, &u.key);
	if (!svc)
		goto out;
	list_for_each_entry(d, &svc->dests, list) {
		if (i++ < cb->args[0])
			continue;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &svs_ipvs_family,
				  NLM_F_MULTI, IPVS_CMD_NEW_DEST);
		if (!hdr)
			break;
		if (svs_ipvs_fill_dest(skb, svc, d)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = i;
	}
out:
	mutex_unlock(&sn->lock);
	return skb->len;
}

#define SVS_IPVS_OP(c, fn)						\
	{ .cmd = (c), .doit = (fn), .flags = GENL_ADMIN_PERM,		\
	  .validate = GENL_DONT_VALIDATE_STRICT | GENL_DONT_VALIDATE_DUMP }
#define SVS_IPVS_DUMP(c, fn)						\
	{ .cmd = (c), .dumpit = (fn), .flags = GENL_ADMIN_PERM,	\
	  .validate = GENL_DONT_VALIDATE_STRICT | GENL_DONT_VALIDATE_DUMP }

static const struct genl_small_ops svs_ipvs_ops[] = {
	SVS_IPVS_OP(IPVS_CMD_NEW_SERVICE, svs_ipvs_set_cmd),
	SVS_IPVS_OP(IPVS_CMD_SET_SERVICE, svs_ipvs_set_cmd),
	SVS_IPVS_OP(IPVS_CMD_DEL_SERVICE, svs_ipvs_set_cmd),
	{ .cmd = IPVS_CMD_GET_SERVICE, .doit = svs_ipvs_get_cmd,
	  .dumpit = svs_ipvs_dump_svcs, .flags = GENL_ADMIN_PERM,
	  .validate = GENL_DONT_VALIDATE_STRICT | GENL_DONT_VALIDATE_DUMP },
	SVS_IPVS_OP(IPVS_CMD_NEW_DEST, svs_ipvs_set_cmd),
	SVS_IPVS_OP(IPVS_CMD_SET_DEST, svs_ipvs_set_cmd),
	SVS_IPVS_OP(IPVS_CMD_DEL_DEST, svs_ipvs_set_cmd),
	SVS_IPVS_DUMP(IPVS_CMD_GET_DEST, svs_ipvs_dump_dests),
	SVS_IPVS_OP(IPVS_CMD_NEW_DAEMON, svs_ipvs_daemon_cmd),
	SVS_IPVS_OP(IPVS_CMD_DEL_DAEMON, svs_ipvs_daemon_cmd),
	SVS_IPVS_DUMP(IPVS_CMD_GET_DAEMON, svs_ipvs_dump_daemons),
	SVS_IPVS_OP(IPVS_CMD_SET_CONFIG, svs_ipvs_set_cmd),
	SVS_IPVS_OP(IPVS_CMD_GET_CONFIG, svs_ipvs_get_cmd),
	SVS_IPVS_OP(IPVS_CMD_GET_INFO, svs_ipvs_get_cmd),
	SVS_IPVS_OP(IPVS_CMD_ZERO, svs_ipvs_set_cmd),
	SVS_IPVS_OP(IPVS_CMD_FLUSH, svs_ipvs_set_cmd),
};

static struct genl_family svs_ipvs_family __ro_after_init = {
	.name = IPVS_GENL_NAME,
	.version = IPVS_GENL_VERSION,
	.maxattr = IPVS_CMD_ATTR_MAX,
	.policy = svs_ipvs_cmd_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = svs_ipvs_ops,
	.n_small_ops = ARRAY_SIZE(svs_ipvs_ops),
	.resv_start_op = IPVS_CMD_FLUSH + 1,
};

static const char *svs_ipvs_fwd_name(u32 fwd)
{
	switch (fwd & IP_VS_CONN_F_FWD_MASK) {
	case IP_VS_CONN_F_LOCALNODE:
		return "Local";
	case IP_VS_CONN_F_TUNNEL:
		return "Tunnel";
	case IP_VS_CONN_F_DROUTE:
		return "Route";
	default:
		return "Masq";
	}
}

/* /proc/net/ip_vs, in ip_vs_info_seq_show()'s format. */
static int svs_ipvs_info_show(struct seq_file *seq, void *v)
{
	struct svs_net *sn = svs_net(seq_file_single_net(seq));
	struct svs_service *svc;
	u32 active, inactive;
	struct svs_dest *d;
	unsigned long id;

	seq_printf(seq, "IP Virtual Server version %d.%d.%d (size=%d)\n",
		   (IP_VS_VERSION_CODE >> 16) & 0xff, (IP_VS_VERSION_CODE >> 8) & 0xff,
		   IP_VS_VERSION_CODE & 0xff, SVS_IPVS_CONN_TAB_SIZE);
	seq_puts(seq, "Prot LocalAddress:Port Scheduler Flags\n");
	seq_puts(seq, "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n");
	mutex_lock(&sn->lock);
	xa_for_each(&sn->by_id, id, svc) {
		const char *proto = svc->key.protocol == IPPROTO_TCP ? "TCP" : "UDP";

		if (svc->key.af == AF_INET6)
			seq_printf(seq, "%s  [%pI6]:%04X %s ", proto,
				   &svc->key.addr.in6, ntohs(svc->key.port),
				   svc->conf.sched->name);
		else
			seq_printf(seq, "%s  %08X:%04X %s  ", proto,
				   ntohl(svc->key.addr.ip), ntohs(svc->key.port),
				   svc->conf.sched->name);
		/* ip_vs shows the timeout in jiffies here */
		if (svc->conf.persist)
			seq_printf(seq, "persistent %d %08X\n", svc->conf.persist * HZ,
				   ntohl(svs_ipvs_netmask(svc)));
		else
			seq_putc(seq, '\n');
		list_for_each_entry(d, &svc->dests, list) {
			svs_conn_count(d, &active, &inactive);
			if (svc->key.af == AF_INET6)
				seq_printf(seq, "  -> [%pI6]:%04X      %-7s %-6d %-10d %-10d\n",
					   &d->addr.in6, ntohs(d->port),
					   svs_ipvs_fwd_name(d->ipvs.fwd), d->weight,
					   active, inactive);
			else
				seq_printf(seq, "  -> %08X:%04X      %-7s %-6d %-10d %-10d\n",
					   ntohl(d->addr.ip), ntohs(d->port),
					   svs_ipvs_fwd_name(d->ipvs.fwd), d->weight,
					   active, inactive);
		}
	}
	mutex_unlock(&sn->lock);
	return 0;
}

/*
 * /proc/net/ip_vs_stats, in ip_vs_stats_show()'s format: the connections of
 * the namespace's services (no packet or byte counts: sock_vs sees none).
 */
static int svs_ipvs_stats_show(struct seq_file *seq, void *v)
{
	struct svs_net *sn = svs_net(seq_file_single_net(seq));
	struct svs_service *svc;
	unsigned long id;
	u64 conns = 0;

	mutex_lock(&sn->lock);
	xa_for_each(&sn->by_id, id, svc)
		conns += svs_stat_read(&svc->stats, SVS_STAT_CONNS);
	mutex_unlock(&sn->lock);
	seq_puts(seq, "   Total Incoming Outgoing         Incoming         Outgoing\n");
	seq_puts(seq, "   Conns  Packets  Packets            Bytes            Bytes\n");
	seq_printf(seq, "%8llX %8llX %8llX %16llX %16llX\n\n",
		   (unsigned long long)conns, 0ULL, 0ULL, 0ULL, 0ULL);
	seq_puts(seq, " Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n");
	seq_printf(seq, "%8llX %8llX %8llX %16llX %16llX\n", 0ULL, 0ULL, 0ULL, 0ULL, 0ULL);
	return 0;
}

static int __net_init svs_ipvs_net_init(struct net *net)
{
	struct svs_net *sn = svs_net(net);

	sn->ipvs_timeout_tcp = SVS_IPVS_TCP_TIMEOUT;
	sn->ipvs_timeout_tcp_fin = SVS_IPVS_TCP_FIN_TIMEOUT;
	sn->ipvs_timeout_udp = SVS_IPVS_UDP_TIMEOUT;
	if (!proc_create_net_single("ip_vs", 0444, net->proc_net,
				    svs_ipvs_info_show, NULL))
		return -ENOMEM;
	if (!proc_create_net_single("ip_vs_stats", 0444, net->proc_net,
				    svs_ipvs_stats_show, NULL)) {
		remove_proc_entry("ip_vs", net->proc_net);
		return -ENOMEM;
	}
	return 0;
}

static void __net_exit svs_ipvs_net_exit(struct net *net)
{
	remove_proc_entry("ip_vs_stats", net->proc_net);
	remove_proc_entry("ip_vs", net->proc_net);
}

static struct pernet_operations svs_ipvs_net_ops = {
	.init = svs_ipvs_net_init,
	.exit = svs_ipvs_net_exit,
};

/* ip_vs would find its family's name and its /proc files taken: refuse it. */
static int svs_ipvs_module_event(struct notifier_block *nb, unsigned long state,
				 void *data)
{
	struct module *mod = data;

	if (state != MODULE_STATE_COMING || strcmp(mod->name, "ip_vs"))
		return NOTIFY_DONE;
	pr_err("ip_vs not loaded: sock_vs answers the IPVS family (ipvs_compat=1); unload sock_vs first\n");
	return notifier_from_errno(-EBUSY);
}

static struct notifier_block svs_ipvs_module_nb = {
	.notifier_call = svs_ipvs_module_event,
};

int svs_ipvs_init(void)
{
	int err;

	if (!svs_ipvs_compat)
		return 0;
	err = register_module_notifier(&svs_ipvs_module_nb);
	if (err)
		return err;
	err = genl_register_family(&svs_ipvs_family);
	if (err) {
		if (err == -EEXIST) {
			pr_err("ipvs_compat=1 refused: the IPVS family is taken (ip_vs is loaded); unload ip_vs or load sock_vs without ipvs_compat\n");
			err = -EBUSY;
		}
		goto err_nb;
	}
	err = register_pernet_subsys(&svs_ipvs_net_ops);
	if (err)
		goto err_genl;
	pr_info("ipvs_compat: answering the IPVS generic netlink family\n");
	return 0;

err_genl:
	genl_unregister_family(&svs_ipvs_family);
err_nb:
	unregister_module_notifier(&svs_ipvs_module_nb);
	return err;
}

void svs_ipvs_exit(void)
{
	if (!svs_ipvs_compat)
		return;
	genl_unregister_family(&svs_ipvs_family);
	unregister_pernet_subsys(&svs_ipvs_net_ops);
	unregister_module_notifier(&svs_ipvs_module_nb);
}
