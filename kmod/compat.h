/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels sock_vs supports, in one place.
 *
 * Tested: Debian 12's 6.1 and 6.12, and the newest kernel in Debian's
 * unstable suite (7.2), production and debug builds (tests/kernels/).
 */
#ifndef _SOCK_VS_COMPAT_H
#define _SOCK_VS_COMPAT_H

#include <linux/version.h>

/*
 * Probe points (hook.c).
 *
 * TCP: tcp_v4_connect() and tcp_v6_connect() (sk->sk_prot->connect) on
 * every supported kernel; tcp_v6_connect() calls tcp_v4_connect() for a
 * v4-mapped destination.
 *
 * UDP: __ip4_datagram_connect() and __ip6_datagram_connect(), called with
 * the socket locked.  Up to 6.12, udp_prot.connect is ip4_datagram_connect(),
 * a lock_sock() wrapper around __ip4_datagram_connect(); since 6.13,
 * udp_connect() and udpv6_connect() call the __ versions directly, so a
 * probe on ip4_datagram_connect()/ip6_datagram_connect() no longer sees UDP
 * connects.  __ip6_datagram_connect() calls __ip4_datagram_connect() for a
 * v4-mapped destination, so an IPv6 UDP socket connecting to ::ffff:VIP is
 * balanced by the IPv4 service, as with TCP.  Both are exported on every
 * supported kernel.  The prototype gained "struct sockaddr_unsized *" in
 * 7.x, which changes nothing for a probe that reads registers.
 */
#define SVS_SYM_TCP4_CONNECT	"tcp_v4_connect"
#define SVS_SYM_TCP6_CONNECT	"tcp_v6_connect"
#define SVS_SYM_UDP4_CONNECT	"__ip4_datagram_connect"
#define SVS_SYM_UDP6_CONNECT	"__ip6_datagram_connect"
/*
 * Unconnected UDP (unconn.c): udp_sendmsg() and udpv6_sendmsg(), the
 * sendmsg of UDP sockets on every supported kernel (udpv6_sendmsg() calls
 * udp_sendmsg() for a v4-mapped destination).  udp_sendmsg() is exported
 * everywhere, udpv6_sendmsg() only since 6.2: a wrapper reaches it through
 * sk->sk_prot->sendmsg, which is what called it.
 */
#define SVS_SYM_UDP4_SENDMSG	"udp_sendmsg"
#define SVS_SYM_UDP6_SENDMSG	"udpv6_sendmsg"
/*
 * Balanced sockets get their own operations table (conn.c, peername.c):
 * the entries sock_vs replaces (release, getname, listen, setsockopt,
 * recvmsg) have the same prototypes on every supported kernel, and the
 * tables it copies are the exported inet_stream_ops, inet6_stream_ops,
 * inet_dgram_ops and inet6_dgram_ops.
 */

/*
 * Shard placement (shard.c, hook.c): inet_sk_get_local_port_range() is
 * exported on every supported kernel (void on 6.1, bool since 6.3; the
 * result is not used); the port is bound with sk_prot->get_port() and
 * released with sk_prot->put_port(), because inet_put_port() is no longer
 * exported in 7.x.
 */

/*
 * Extended ACK text with a number in it (netlink.c): NL_SET_ERR_MSG_FMT
 * exists since 6.2; before, a message is a static string, so the number
 * is only in the reply's SOCK_VS_ATTR_KILLED.
 */
#ifdef NL_SET_ERR_MSG_FMT
#define SVS_EXTACK_KILLED(extack, n) \
	NL_SET_ERR_MSG_FMT(extack, "sockets terminated: %u", n)
#else
#define SVS_EXTACK_KILLED(extack, n) do { (void)(extack); (void)(n); } while (0)
#endif

/*
 * A transaction names the service an error is about in the message
 * (txn.c): a text of at most SVS_EXTACK_FMT_LEN - 1 characters, where
 * messages can be formatted (0: they cannot; the attribute still says it).
 */
#ifdef NL_SET_ERR_MSG_FMT
#define SVS_EXTACK_FMT_LEN	NETLINK_MAX_FMTMSG_LEN
#define SVS_EXTACK_SET_TEXT(extack, text) NL_SET_ERR_MSG_FMT(extack, "%s", text)
#else
#define SVS_EXTACK_FMT_LEN	0
#define SVS_EXTACK_SET_TEXT(extack, text) do { (void)(extack); (void)(text); } while (0)
#endif

#endif /* _SOCK_VS_COMPAT_H */
