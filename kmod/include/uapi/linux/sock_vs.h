/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * sock_vs: client-side connect() load balancing.
 *
 * The generic netlink protocol between the sock_vs kernel module and
 * userspace (libsockvs / sockvsadm).  This file is the only definition of
 * the protocol: the module and the userspace tools both include it.
 *
 * Conventions
 *  - Family name SOCK_VS_GENL_NAME, version SOCK_VS_GENL_VERSION.
 *  - Every command carries at most one SOCK_VS_ATTR_SERVICE nest (which
 *    service) and one SOCK_VS_ATTR_DEST nest (which real server).
 *  - Addresses are raw network-order bytes: 4 bytes for AF_INET, 16 for
 *    AF_INET6.  Ports are host-order u16.
 *  - Changes need CAP_NET_ADMIN over the network namespace of the netlink
 *    socket (GENL_UNS_ADMIN_PERM); reads are allowed to everyone in it.
 *  - Errors come back as a negative errno plus an extended ACK message.
 *    The module uses IPVS's errnos where they exist:
 *      EEXIST  service / real server already exists
 *      ESRCH   no such service
 *      ENOENT  no such real server, or unknown scheduler
 *      EAFNOSUPPORT  unsupported family, an address whose length does not
 *              match its family, or a real server of another family
 *      EINVAL  missing or malformed attribute
 *      ERANGE  attribute value out of its range (port 0, weight > 65535...)
 *      ENOSPC  per-namespace limit on services or real servers reached
 *      EPERM   no CAP_NET_ADMIN over the namespace
 *      ENOMEM  out of memory (the message names what); nothing changed
 *  - A connect() to a service with no real server of weight > 0 fails
 *    with ECONNREFUSED.
 *
 * Attribute enums only ever grow at the end.
 */
#ifndef _UAPI_LINUX_SOCK_VS_H
#define _UAPI_LINUX_SOCK_VS_H

#include <linux/types.h>

#define SOCK_VS_GENL_NAME	"SOCK_VS"
#define SOCK_VS_GENL_VERSION	1

/* Module version, reported by SOCK_VS_CMD_GET_INFO. */
#define SOCK_VS_VERSION		"0.1.0"

/* Longest scheduler name, including the terminating NUL. */
#define SOCK_VS_SCHED_NAME_MAX	16

/* Scheduler names understood by this version of the module. */
#define SOCK_VS_SCHED_RR	"rr"	/* round robin, skips weight 0 */
#define SOCK_VS_SCHED_WRR	"wrr"	/* weighted round robin (IPVS order) */
#define SOCK_VS_SCHED_LC	"lc"	/* fewest open connections */
#define SOCK_VS_SCHED_WLC	"wlc"	/* fewest open connections per weight */
#define SOCK_VS_SCHED_SH	"sh"	/* hash of the service's key (Maglev table) */
#define SOCK_VS_SCHED_MH	"mh"	/* Maglev consistent hashing of the key */
#define SOCK_VS_SCHED_PORT	"port"	/* bound local port % usable servers */
#define SOCK_VS_SCHED_FIXED	"fixed"	/* first usable server, in order */
#define SOCK_VS_SCHED_FO	"fo"	/* usable server of highest weight */
#define SOCK_VS_SCHED_P2C	"p2c"	/* two random choices, lower handshake RTT x load */
#define SOCK_VS_SCHED_DEFAULT	SOCK_VS_SCHED_WRR

/* What sh/mh and the "hash" shard policy hash (SOCK_VS_SVC_ATTR_HASH_KEY). */
enum sock_vs_hash_key {
	SOCK_VS_HASH_TGID,	/* the connecting process (default) */
	SOCK_VS_HASH_LOCAL,	/* the socket's bound local address and port */
	SOCK_VS_HASH_CGROUP,	/* the socket's cgroup (v2) */
	SOCK_VS_HASH_NETNS,	/* the socket's network namespace: the whole host */
	__SOCK_VS_HASH_MAX,
};

#define SOCK_VS_HASH_MAX (__SOCK_VS_HASH_MAX - 1)

/*
 * What happens to the balanced sockets of a real server that leaves its
 * service (SOCK_VS_CMD_DEL_DEST, DEL_SERVICE, FLUSH) or is named by
 * SOCK_VS_CMD_KILL (SOCK_VS_SVC_ATTR_TERMINATE).  Terminated sockets are
 * aborted by their protocol, as sock_diag's SOCK_DESTROY (ss -K) does,
 * with ECONNABORTED: a connected UDP socket is disconnected (its next
 * receive fails with ECONNABORTED; a send, now without a destination,
 * with EDESTADDRREQ, and SO_ERROR reads ECONNABORTED); a TCP connection
 * is reset.  Only sockets sock_vs balanced to that server and still
 * connected to it; never on unload.
 */
enum sock_vs_terminate {
	SOCK_VS_TERMINATE_NONE,	/* leave them connected */
	SOCK_VS_TERMINATE_UDP,	/* connected UDP sockets (default) */
	SOCK_VS_TERMINATE_ALL,	/* UDP sockets and TCP connections */
	__SOCK_VS_TERMINATE_MAX,
};

#define SOCK_VS_TERMINATE_MAX (__SOCK_VS_TERMINATE_MAX - 1)
#define SOCK_VS_TERMINATE_DEFAULT SOCK_VS_TERMINATE_UDP

/*
 * Persistence (SOCK_VS_SVC_ATTR_PERSIST, seconds; 0: none), as ipvsadm's
 * -p: a connect of a client that holds a template of the service goes to
 * the template's real server; a client without one is scheduled and gets
 * one.  The client is what the service's hash key names (the process by
 * default, SOCK_VS_HASH_NETNS for every socket of the namespace).  A
 * template expires PERSIST seconds after the last connection that used it
 * ended, and is dropped as soon as its real server is deleted, quiesced
 * (weight 0) or overloaded, as IPVS's expire_quiescent_template does.  Not
 * with the port scheduler (persistence would override its choice by local
 * port).  The templates of a namespace are bounded (module parameter
 * max_templates); beyond it a connect is scheduled without one.
 */
#define SOCK_VS_PERSIST_DEFAULT	300		/* ipvsadm's -p without a value */
#define SOCK_VS_PERSIST_MAX	2678400		/* 31 days */

/*
 * Passive health (outlier ejection): SOCK_VS_SVC_ATTR_EJECT consecutive
 * failed connects of a TCP service's real server (refused, reset or timed
 * out before the handshake completed: the kernel's own TCP state of the
 * balanced sockets) eject it for EJECT_TIME seconds, doubled on each
 * ejection in a row up to EJECT_TIME_MAX.  Then one connect probes it: a
 * completed handshake readmits it (and resets the doubling), a failure
 * ejects it again.  Never more than EJECT_MAX_PERCENT of a service's real
 * servers are ejected at once.  0 (the default): off.
 */
#define SOCK_VS_EJECT_MAX		1000	/* failures in a row */
#define SOCK_VS_EJECT_TIME_DEFAULT	30	/* seconds */
#define SOCK_VS_EJECT_TIME_MAX_DEFAULT	300
#define SOCK_VS_EJECT_TIME_LIMIT	86400	/* bound of both times */
#define SOCK_VS_EJECT_PERCENT_DEFAULT	50

/* SOCK_VS_DEST_ATTR_EJECTED */
enum sock_vs_eject_state {
	SOCK_VS_EJECT_NONE,	/* usable */
	SOCK_VS_EJECT_OUT,	/* ejected: no new connections */
	SOCK_VS_EJECT_PROBE,	/* ejected, one connect is probing it */
};

/* Which shard a connection to a sharded real server should land on. */
enum sock_vs_shard_policy {
	SOCK_VS_SHARD_RR,	/* round robin over the shards (default) */
	SOCK_VS_SHARD_LC,	/* the shard with the fewest open connections */
	SOCK_VS_SHARD_CPU,	/* current CPU % shards (thread-per-core clients) */
	SOCK_VS_SHARD_HASH,	/* the service's hash key % shards */
	__SOCK_VS_SHARD_MAX,
};

#define SOCK_VS_SHARD_MAX (__SOCK_VS_SHARD_MAX - 1)

/* Shards per real server: 1 (not sharded) .. SOCK_VS_SHARDS_MAX. */
#define SOCK_VS_SHARDS_MAX	1024

/* Real-server weight bounds (IPVS uses the same upper bound). */
#define SOCK_VS_WEIGHT_MAX	65535
#define SOCK_VS_WEIGHT_DEFAULT	1

/*
 * Service flags (SOCK_VS_SVC_ATTR_FLAGS).  Unknown bits are rejected.
 *
 * SOCK_VS_SVC_F_REAL_PEERNAME: getpeername() on a socket balanced by this
 * service returns the real server.  Without it (the default) it returns
 * the virtual address and port the application connected to.  Decided
 * when the socket connects: changing the flag affects new connections.
 */
#define SOCK_VS_SVC_F_REAL_PEERNAME	0x1
/*
 * SOCK_VS_SVC_F_UNCONNECTED (UDP services only): sendto()/sendmsg() with
 * this virtual address as destination on an unconnected UDP socket go to
 * a real server chosen once per socket and virtual address (again only
 * when that server leaves its service), and recvfrom()/recvmsg() report
 * the virtual address for datagrams from it.  The hook this needs is
 * installed only while a service with the flag exists.
 */
#define SOCK_VS_SVC_F_UNCONNECTED	0x2
#define SOCK_VS_SVC_F_ALL		(SOCK_VS_SVC_F_REAL_PEERNAME | SOCK_VS_SVC_F_UNCONNECTED)

enum sock_vs_cmd {
	SOCK_VS_CMD_UNSPEC,

	SOCK_VS_CMD_NEW_SERVICE,	/* SERVICE{af,protocol,addr,port[,sched_name,flags]} */
	SOCK_VS_CMD_SET_SERVICE,	/* SERVICE{key[,sched_name,flags]} */
	SOCK_VS_CMD_DEL_SERVICE,	/* SERVICE{key} */
	SOCK_VS_CMD_GET_SERVICE,	/* doit: SERVICE{key}; dumpit: all services */

	SOCK_VS_CMD_NEW_DEST,		/* SERVICE{key} DEST{addr,port[,weight]} */
	SOCK_VS_CMD_SET_DEST,		/* SERVICE{key} DEST{addr,port,weight} */
	SOCK_VS_CMD_DEL_DEST,		/* SERVICE{key} DEST{addr,port} */
	SOCK_VS_CMD_GET_DEST,		/* dumpit: SERVICE{key} -> its real servers */

	SOCK_VS_CMD_FLUSH,		/* delete every service of the namespace */
	SOCK_VS_CMD_ZERO,		/* [SERVICE{key}]: zero counters (all if none) */
	SOCK_VS_CMD_GET_INFO,		/* -> INFO{...} */
	SOCK_VS_CMD_GET_CONN,		/* dumpit: CONN{...} per open balanced socket */
	SOCK_VS_CMD_KILL,		/* SERVICE{key[,terminate]} [DEST{addr,port}] */
	SOCK_VS_CMD_GET_TEMPLATE,	/* dumpit: TEMPLATE{...} per persistence template */
	SOCK_VS_CMD_TXN_BEGIN,		/* [TXN{flags,generation}]: open this socket's one */
	SOCK_VS_CMD_TXN_STAGE,		/* TXN_SVC{SERVICE,DEST...[,DELETE]}...: stage services */
	SOCK_VS_CMD_TXN_COMMIT,		/* apply it whole, or nothing -> TXN{counts} KILLED */
	SOCK_VS_CMD_TXN_ABORT,		/* discard it */

	__SOCK_VS_CMD_MAX,
};

#define SOCK_VS_CMD_MAX (__SOCK_VS_CMD_MAX - 1)

/*
 * SOCK_VS_CMD_DEL_DEST, DEL_SERVICE, FLUSH and KILL answer with one
 * message of their own command carrying SOCK_VS_ATTR_KILLED (the sockets
 * terminated), before the ACK; kernels with formatted extended ACKs also
 * say it in the ACK's message.  KILL without DEST: every real server of
 * the service; its TERMINATE overrides the service's policy this once
 * (SOCK_VS_TERMINATE_NONE is refused: nothing to do).  Without one, a
 * service whose policy is NONE terminates nothing (KILLED 0).
 */

/*
 * Transactions: a namespace's table, or a set of its services, replaced
 * in one step.  TXN_BEGIN opens a transaction on the netlink socket that
 * sends it (one per socket); TXN_STAGE messages add services to it, each
 * a SOCK_VS_ATTR_TXN_SVC nest with the service as NEW_SERVICE takes it
 * (unset settings are the defaults, not "unchanged") and every one of its
 * real servers as NEW_DEST takes them, in order; TXN_COMMIT applies it.
 * Nothing is applied before the commit, and the commit applies everything
 * or nothing: every connect sees the table as it was before or as it is
 * after, never a mix, and so does every other configuring program.
 * Services and real servers that exist before and after (same key) are
 * the same objects: their counters, balanced sockets, persistence
 * templates and ejection state stay.  Real servers that leave, and the
 * services that are deleted, go as with DEL_DEST / DEL_SERVICE (their
 * sockets are terminated by the service's policy; the COMMIT's answer
 * carries SOCK_VS_ATTR_KILLED, before the ACK, like FLUSH's).
 *
 * A TXN_STAGE message is taken whole or refused whole (an invalid
 * service: the extended ACK names it and points at its attribute; the
 * transaction stays open with what was staged before).  The commit closes
 * the transaction, whether it succeeds or not; TXN_ABORT discards it, and
 * so does closing the socket.  A transaction holds at most max_services
 * services of at most max_dests real servers (ENOSPC); a namespace at
 * most SOCK_VS_TXN_MAX_OPEN open ones.  Errors: ENOENT no transaction
 * open on this socket, EBUSY one is already open, EAGAIN the table's
 * generation is no longer the one BEGIN named.
 */
#define SOCK_VS_TXN_MAX_OPEN	64

/* The staged services are the whole table: every other one is deleted. */
#define SOCK_VS_TXN_F_REPLACE	0x1
#define SOCK_VS_TXN_F_ALL	SOCK_VS_TXN_F_REPLACE

enum sock_vs_txn_attr {
	SOCK_VS_TXN_ATTR_UNSPEC,
	SOCK_VS_TXN_ATTR_FLAGS,		/* u32, SOCK_VS_TXN_F_* (BEGIN) */
	/*
	 * u64.  BEGIN: commit only if the table is still at this generation
	 * (GET_INFO's); it counts changes: every command that changes the
	 * table, and every commit that does, moves it on.  COMMIT's answer:
	 * the generation after the commit.
	 */
	SOCK_VS_TXN_ATTR_GENERATION,
	SOCK_VS_TXN_ATTR_PAD,
	SOCK_VS_TXN_ATTR_ADDED,		/* u32: services created (COMMIT's answer) */
	SOCK_VS_TXN_ATTR_CHANGED,	/* u32: services changed */
	SOCK_VS_TXN_ATTR_DELETED,	/* u32: services deleted */
	SOCK_VS_TXN_ATTR_UNCHANGED,	/* u32: services staged as they already were */

	__SOCK_VS_TXN_ATTR_MAX,
};

#define SOCK_VS_TXN_ATTR_MAX (__SOCK_VS_TXN_ATTR_MAX - 1)

/* One staged service (SOCK_VS_ATTR_TXN_SVC). */
enum sock_vs_txn_svc_attr {
	SOCK_VS_TXN_SVC_ATTR_UNSPEC,
	SOCK_VS_TXN_SVC_ATTR_SERVICE,	/* nest, enum sock_vs_svc_attr, as NEW_SERVICE */
	SOCK_VS_TXN_SVC_ATTR_DEST,	/* nest, enum sock_vs_dest_attr, as NEW_DEST; one each */
	/*
	 * flag: the service is to be deleted (it may not exist); SERVICE
	 * then needs only its key.  Not in a REPLACE transaction (leave the
	 * service out instead).
	 */
	SOCK_VS_TXN_SVC_ATTR_DELETE,

	__SOCK_VS_TXN_SVC_ATTR_MAX,
};

#define SOCK_VS_TXN_SVC_ATTR_MAX (__SOCK_VS_TXN_SVC_ATTR_MAX - 1)

/* Top-level attributes. */
enum sock_vs_attr {
	SOCK_VS_ATTR_UNSPEC,
	SOCK_VS_ATTR_SERVICE,		/* nest, enum sock_vs_svc_attr */
	SOCK_VS_ATTR_DEST,		/* nest, enum sock_vs_dest_attr */
	SOCK_VS_ATTR_INFO,		/* nest, enum sock_vs_info_attr */
	SOCK_VS_ATTR_CONN,		/* nest, enum sock_vs_conn_attr (output) */
	SOCK_VS_ATTR_KILLED,		/* u32: sockets terminated (output, see below) */
	SOCK_VS_ATTR_TEMPLATE,		/* nest, enum sock_vs_tmpl_attr (output) */
	SOCK_VS_ATTR_TXN,		/* nest, enum sock_vs_txn_attr */
	SOCK_VS_ATTR_TXN_SVC,		/* nest, enum sock_vs_txn_svc_attr (TXN_STAGE, repeated) */

	__SOCK_VS_ATTR_MAX,
};

#define SOCK_VS_ATTR_MAX (__SOCK_VS_ATTR_MAX - 1)

/* A virtual service.  (af, protocol, addr, port) is its key. */
enum sock_vs_svc_attr {
	SOCK_VS_SVC_ATTR_UNSPEC,
	SOCK_VS_SVC_ATTR_AF,		/* u16: AF_INET or AF_INET6 */
	SOCK_VS_SVC_ATTR_PROTOCOL,	/* u16: IPPROTO_TCP or IPPROTO_UDP */
	SOCK_VS_SVC_ATTR_ADDR,		/* binary: 4 or 16 bytes, network order */
	SOCK_VS_SVC_ATTR_PORT,		/* u16, host order, 1..65535 */
	SOCK_VS_SVC_ATTR_SCHED_NAME,	/* string, < SOCK_VS_SCHED_NAME_MAX */
	SOCK_VS_SVC_ATTR_FLAGS,		/* u32, SOCK_VS_SVC_F_* (unknown bits rejected) */
	SOCK_VS_SVC_ATTR_STATS,		/* nest, enum sock_vs_stats_attr (output) */
	SOCK_VS_SVC_ATTR_NUM_DESTS,	/* u32: number of real servers (output) */
	SOCK_VS_SVC_ATTR_HASH_KEY,	/* u8, enum sock_vs_hash_key */
	SOCK_VS_SVC_ATTR_SHARD_POLICY,	/* u8, enum sock_vs_shard_policy */
	SOCK_VS_SVC_ATTR_TERMINATE,	/* u8, enum sock_vs_terminate; on KILL: this time */
	SOCK_VS_SVC_ATTR_SKIP,		/* nest of SOCK_VS_SKIP_RULE nests (see below) */
	SOCK_VS_SVC_ATTR_PERSIST,	/* u32: persistence timeout (s), 0..SOCK_VS_PERSIST_MAX */
	SOCK_VS_SVC_ATTR_EJECT,		/* u32: failures in a row, 0 (off)..SOCK_VS_EJECT_MAX */
	SOCK_VS_SVC_ATTR_EJECT_TIME,	/* u32: base ejection (s), 1..SOCK_VS_EJECT_TIME_LIMIT */
	SOCK_VS_SVC_ATTR_EJECT_TIME_MAX, /* u32: longest ejection (s), EJECT_TIME..LIMIT */
	SOCK_VS_SVC_ATTR_EJECT_MAX_PERCENT, /* u8: 1..100 */

	__SOCK_VS_SVC_ATTR_MAX,
};

#define SOCK_VS_SVC_ATTR_MAX (__SOCK_VS_SVC_ATTR_MAX - 1)

/* A real server of a service.  (addr, port) is its key within the service. */
enum sock_vs_dest_attr {
	SOCK_VS_DEST_ATTR_UNSPEC,
	SOCK_VS_DEST_ATTR_ADDR,		/* binary: 4 or 16 bytes, same family as the service */
	SOCK_VS_DEST_ATTR_PORT,		/* u16, host order, 1..65535 */
	SOCK_VS_DEST_ATTR_WEIGHT,	/* u32, 0..SOCK_VS_WEIGHT_MAX; 0 = quiesced */
	SOCK_VS_DEST_ATTR_AF,		/* u16 (output; on input must match the service) */
	SOCK_VS_DEST_ATTR_STATS,	/* nest, enum sock_vs_stats_attr (output) */
	SOCK_VS_DEST_ATTR_ACTIVE_CONNS,	/* u32: scheduled sockets now ESTABLISHED (output) */
	SOCK_VS_DEST_ATTR_INACT_CONNS,	/* u32: others open, not CLOSE (output) */
	SOCK_VS_DEST_ATTR_U_THRESH,	/* u32: upper connection threshold, 0 = none */
	SOCK_VS_DEST_ATTR_L_THRESH,	/* u32: lower connection threshold, <= upper */
	SOCK_VS_DEST_ATTR_SHARDS,	/* u16: shards, 1..SOCK_VS_SHARDS_MAX (1: not sharded) */
	SOCK_VS_DEST_ATTR_SHARD_CONNS,	/* binary: u32 open connections per shard (output) */
	SOCK_VS_DEST_ATTR_OVERLOADED,	/* u8: 1 while over its upper threshold (output) */
	SOCK_VS_DEST_ATTR_EJECTED,	/* u8: enum sock_vs_eject_state (output) */
	SOCK_VS_DEST_ATTR_EJECT_LEFT,	/* u32: ms until a probe may readmit it (output) */
	SOCK_VS_DEST_ATTR_FAILS,	/* u32: failed connects in a row (output) */

	__SOCK_VS_DEST_ATTR_MAX,
};

#define SOCK_VS_DEST_ATTR_MAX (__SOCK_VS_DEST_ATTR_MAX - 1)

/*
 * Exemptions of a service (SOCK_VS_SVC_ATTR_SKIP): a connect to the
 * virtual address that matches one of the rules is not balanced; it goes
 * to the virtual address itself, as if the service did not exist.  On
 * NEW_SERVICE and SET_SERVICE the nest replaces the service's rules (an
 * empty nest clears them; without it SET_SERVICE keeps them).  Each entry
 * of the nest is a SOCK_VS_SKIP_RULE nest with exactly one kind of match:
 *   UID_MIN [UID_MAX]   the socket's owner uid (the fsuid of the process
 *                       that created it, as `ss -e` shows it), in the
 *                       requester's user namespace
 *   CGROUP              the socket's cgroup (v2) or a descendant; a path
 *                       from the root of the requester's cgroup namespace
 *                       ("/system.slice/x.service"), resolved when the rule
 *                       is set (EINVAL/ENOENT: no such cgroup); the rule
 *                       names that cgroup, not the path (a cgroup created
 *                       later under the same path is another cgroup)
 *   MARK [MARK_MASK]    (SO_MARK & mask) == mark; mask defaults to all ones
 * At most SOCK_VS_SKIP_MAX rules (E2BIG beyond).
 */
#define SOCK_VS_SKIP_MAX	8
#define SOCK_VS_SKIP_RULE	1	/* the type of each entry of the nest */

enum sock_vs_skip_attr {
	SOCK_VS_SKIP_ATTR_UNSPEC,
	SOCK_VS_SKIP_ATTR_UID_MIN,	/* u32 */
	SOCK_VS_SKIP_ATTR_UID_MAX,	/* u32, >= UID_MIN (default: UID_MIN) */
	SOCK_VS_SKIP_ATTR_CGROUP,	/* string: cgroup v2 path, starting with "/" */
	SOCK_VS_SKIP_ATTR_MARK,		/* u32 */
	SOCK_VS_SKIP_ATTR_MARK_MASK,	/* u32 (default 0xffffffff) */
	SOCK_VS_SKIP_ATTR_CGROUP_ID,	/* u64: the cgroup's id (output) */
	SOCK_VS_SKIP_ATTR_PAD,

	__SOCK_VS_SKIP_ATTR_MAX,
};

#define SOCK_VS_SKIP_ATTR_MAX (__SOCK_VS_SKIP_ATTR_MAX - 1)
#define SOCK_VS_SKIP_CGROUP_PATH_MAX	4096	/* including the NUL */

/*
 * Counters.  There is no per-packet path, so there are no byte or packet
 * counters: only connections scheduled (connect() calls rewritten).
 * UNTRACKED: scheduled sockets the module could not record (no memory for
 * the record, real server deleted meanwhile); they connected to the real
 * server but are missing from ActiveConn/InActConn and the listing.
 */
enum sock_vs_stats_attr {
	SOCK_VS_STATS_ATTR_UNSPEC,
	SOCK_VS_STATS_ATTR_CONNS,	/* u64: connections scheduled */
	SOCK_VS_STATS_ATTR_REFUSED,	/* u64: connects refused (no usable real server) */
	SOCK_VS_STATS_ATTR_PAD,
	SOCK_VS_STATS_ATTR_UNTRACKED,	/* u64: scheduled, not recorded (no memory...) */
	SOCK_VS_STATS_ATTR_KILLED,	/* u64: balanced sockets terminated */
	SOCK_VS_STATS_ATTR_EJECTED,	/* u64: ejections (passive health) */
	SOCK_VS_STATS_ATTR_FAILED,	/* u64: balanced TCP connects that failed (eject on) */

	__SOCK_VS_STATS_ATTR_MAX,
};

#define SOCK_VS_STATS_ATTR_MAX (__SOCK_VS_STATS_ATTR_MAX - 1)

/* What the module reports about itself (SOCK_VS_CMD_GET_INFO). */
enum sock_vs_info_attr {
	SOCK_VS_INFO_ATTR_UNSPEC,
	SOCK_VS_INFO_ATTR_VERSION,	/* string: SOCK_VS_VERSION of the module */
	SOCK_VS_INFO_ATTR_NUM_SERVICES,	/* u32: services in this namespace */
	SOCK_VS_INFO_ATTR_HOOK,		/* string: connect hook mechanism in use */
	SOCK_VS_INFO_ATTR_KERNEL,	/* string: release of the running kernel */
	SOCK_VS_INFO_ATTR_MAX_SERVICES,	/* u32: per-namespace service limit */
	SOCK_VS_INFO_ATTR_MAX_DESTS,	/* u32: per-service real-server limit */
	SOCK_VS_INFO_ATTR_UNTRACKED,	/* u64: untracked sockets, all namespaces */
	SOCK_VS_INFO_ATTR_PAD,
	SOCK_VS_INFO_ATTR_TEMPLATES,	/* u32: persistence templates in this namespace */
	SOCK_VS_INFO_ATTR_MAX_TEMPLATES, /* u32: their limit (max_templates) */
	SOCK_VS_INFO_ATTR_GENERATION,	/* u64: the table's generation (see TXN_ATTR_GENERATION) */
	SOCK_VS_INFO_ATTR_TXNS,		/* u32: transactions open in this namespace */

	__SOCK_VS_INFO_ATTR_MAX,
};

#define SOCK_VS_INFO_ATTR_MAX (__SOCK_VS_INFO_ATTR_MAX - 1)

/*
 * An open balanced socket of the caller's network namespace
 * (SOCK_VS_CMD_GET_CONN dump, one message each).  Addresses are of family
 * AF, the service's (an IPv6 socket connected to a v4-mapped address of an
 * IPv4 service is listed as IPv4).
 */
enum sock_vs_conn_attr {
	SOCK_VS_CONN_ATTR_UNSPEC,
	SOCK_VS_CONN_ATTR_AF,		/* u16: AF_INET or AF_INET6 */
	SOCK_VS_CONN_ATTR_PROTOCOL,	/* u16: IPPROTO_TCP or IPPROTO_UDP */
	SOCK_VS_CONN_ATTR_LADDR,	/* binary: the socket's local address */
	SOCK_VS_CONN_ATTR_LPORT,	/* u16, host order: its local port */
	SOCK_VS_CONN_ATTR_VADDR,	/* binary: the virtual address connected to */
	SOCK_VS_CONN_ATTR_VPORT,	/* u16, host order: the virtual port */
	SOCK_VS_CONN_ATTR_DADDR,	/* binary: the real server */
	SOCK_VS_CONN_ATTR_DPORT,	/* u16, host order: the real server's port */
	SOCK_VS_CONN_ATTR_SHARD,	/* u32: shard, only when the real server has shards */
	SOCK_VS_CONN_ATTR_STATE,	/* u8: TCP state (TCP_ESTABLISHED = 1, ...) */
	SOCK_VS_CONN_ATTR_PID,		/* u32: process (tgid) that connected */
	SOCK_VS_CONN_ATTR_COMM,		/* string: its command name at connect */

	__SOCK_VS_CONN_ATTR_MAX,
};

#define SOCK_VS_CONN_ATTR_MAX (__SOCK_VS_CONN_ATTR_MAX - 1)

/*
 * A persistence template of the caller's network namespace
 * (SOCK_VS_CMD_GET_TEMPLATE dump, one message each; CAP_NET_ADMIN).
 */
enum sock_vs_tmpl_attr {
	SOCK_VS_TMPL_ATTR_UNSPEC,
	SOCK_VS_TMPL_ATTR_AF,		/* u16: the service's family */
	SOCK_VS_TMPL_ATTR_PROTOCOL,	/* u16: IPPROTO_TCP or IPPROTO_UDP */
	SOCK_VS_TMPL_ATTR_VADDR,	/* binary: the virtual address */
	SOCK_VS_TMPL_ATTR_VPORT,	/* u16, host order */
	SOCK_VS_TMPL_ATTR_DADDR,	/* binary: the real server */
	SOCK_VS_TMPL_ATTR_DPORT,	/* u16, host order */
	SOCK_VS_TMPL_ATTR_CLIENT_KIND,	/* u8, enum sock_vs_hash_key: what CLIENT is */
	SOCK_VS_TMPL_ATTR_CLIENT,	/* u64: tgid, cgroup id, 0 (netns), hash (local) */
	SOCK_VS_TMPL_ATTR_CONNS,	/* u32: open connections that use it */
	SOCK_VS_TMPL_ATTR_EXPIRES,	/* u32: seconds to expiry (the timeout while CONNS > 0) */
	SOCK_VS_TMPL_ATTR_PAD,

	__SOCK_VS_TMPL_ATTR_MAX,
};

#define SOCK_VS_TMPL_ATTR_MAX (__SOCK_VS_TMPL_ATTR_MAX - 1)

#endif /* _UAPI_LINUX_SOCK_VS_H */
