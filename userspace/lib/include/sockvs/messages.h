// Building sock_vs generic netlink requests and parsing the replies.
//
// These are pure functions with no socket I/O, so that they can be tested
// on a host without the module: builders return a complete nl_msg (with
// NL_AUTO_PORT / NL_AUTO_SEQ, filled in when sent), parsers take one
// received netlink message.
#ifndef SOCKVS_MESSAGES_H_
#define SOCKVS_MESSAGES_H_

#include <linux/netlink.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "sockvs/types.h"

struct nl_msg;

namespace sockvs {

struct NlMsgDeleter {
  void operator()(nl_msg* msg) const noexcept;
};
// Owns a libnl message.
using NlMsgPtr = std::unique_ptr<nl_msg, NlMsgDeleter>;

// --- Requests ------------------------------------------------------------------
// `family_id` is the resolved generic netlink id of SOCK_VS.  Commands that
// change state and GET_SERVICE / GET_INFO ask for an ACK (NLM_F_ACK); the
// two list commands are dumps (NLM_F_DUMP).  Builders throw sockvs::Error
// (EINVAL) on invalid input: an unset address, port 0, a bad scheduler name,
// an unknown hash key, shard policy or terminate policy (and on KILL the
// policy none, which terminates nothing), a weight above SOCK_VS_WEIGHT_MAX, a
// threshold above kThresholdMax, a lower threshold above the upper one
// (when both are given), shards outside 1..SOCK_VS_SHARDS_MAX, a
// persistence timeout above kPersistMax, an
// exemption skip_rule_problem() finds fault with, (E2BIG) more than
// SOCK_VS_SKIP_MAX exemptions, or (EAFNOSUPPORT) a real server of another
// family than its service.
// Optional settings (std::optional fields, an empty sched_name) are sent
// only when set.

// NEW_SERVICE: SERVICE{af, protocol, addr, port, [sched_name], flags,
// [hash_key u8], [shard_policy u8], [terminate u8], [SKIP{RULE{...}...}],
// [persist u32]}.
// The SKIP nest (NLA_F_NESTED, as its RULE entries) is sent when svc.skip
// is set, empty for an empty vector; a uid rule as UID_MIN and UID_MAX, a
// mark rule as MARK and MARK_MASK, a cgroup rule as CGROUP (its id is not
// sent).
NlMsgPtr build_new_service(int family_id, const Service& svc);
// SET_SERVICE: SERVICE{key, [sched_name], flags, [hash_key], [shard_policy],
// [terminate], [SKIP], [persist]}.  What is not sent stays unchanged; a SKIP nest
// replaces the rules (an empty one clears them).
NlMsgPtr build_set_service(int family_id, const Service& svc);
// DEL_SERVICE: SERVICE{key}.  Answered with a KILLED message
// (parse_killed_reply), like DEL_DEST, FLUSH and KILL.
NlMsgPtr build_del_service(int family_id, const ServiceKey& key);
// GET_SERVICE (doit): SERVICE{key}.
NlMsgPtr build_get_service(int family_id, const ServiceKey& key);
// GET_SERVICE (dump): no attributes.
NlMsgPtr build_list_services(int family_id);
// NEW_DEST: SERVICE{key} DEST{addr, port, weight, [u_thresh u32],
// [l_thresh u32], [shards u16], af}.
NlMsgPtr build_new_dest(int family_id, const ServiceKey& key, const RealServer& dest);
// SET_DEST: as NEW_DEST; thresholds and shards not sent stay unchanged.
NlMsgPtr build_set_dest(int family_id, const ServiceKey& key, const RealServer& dest);
// DEL_DEST: SERVICE{key} DEST{addr, port, af}.
NlMsgPtr build_del_dest(int family_id, const ServiceKey& key, const RealServer& dest);
// GET_DEST (dump): SERVICE{key}.
NlMsgPtr build_list_dests(int family_id, const ServiceKey& key);
// FLUSH: no attributes.
NlMsgPtr build_flush(int family_id);
// KILL: SERVICE{key, [terminate u8]} [DEST{addr, port, af}]: terminate now
// the balanced sockets of `dest`, or of every real server of the service,
// by `policy` or (nullopt) by the service's own.
NlMsgPtr build_kill(int family_id, const ServiceKey& key, const std::optional<RealServer>& dest,
                    std::optional<Terminate> policy);
// ZERO: [SERVICE{key}]; every service when `key` is empty.
NlMsgPtr build_zero(int family_id, const std::optional<ServiceKey>& key);
// GET_INFO: no attributes.
NlMsgPtr build_get_info(int family_id);
// GET_CONN (dump): no attributes.
NlMsgPtr build_list_conns(int family_id);
// GET_TEMPLATE (dump): no attributes.
NlMsgPtr build_list_templates(int family_id);

// --- Replies ---------------------------------------------------------------------
// Each takes one complete generic netlink message (nlmsghdr, genlmsghdr,
// attributes) whose nlmsg_len bytes are readable, and throws sockvs::Error
// (EPROTO) if it is malformed or lacks a required attribute.  Unknown
// attributes are ignored (the enums only grow).

// A SOCK_VS_ATTR_SERVICE nest (GET_SERVICE doit reply or dump part).
// SVC_ATTR_PERSIST gives svc.persist (nullopt without it).
// SVC_ATTR_SKIP gives svc.skip, in the module's order: a uid rule without
// UID_MAX is the single uid UID_MIN, a mark rule without MARK_MASK has the
// mask kSkipMarkMaskAll; entries of other types than SOCK_VS_SKIP_RULE and
// rules of no known kind are skipped.
Service parse_service_reply(const nlmsghdr* nlh);
// A SOCK_VS_ATTR_DEST nest (GET_DEST dump part).  SHARD_CONNS must be a
// whole number of u32, and as many as SHARDS says when both are present.
RealServer parse_dest_reply(const nlmsghdr* nlh);
// A SOCK_VS_ATTR_INFO nest (GET_INFO reply).
Info parse_info_reply(const nlmsghdr* nlh);
// A SOCK_VS_ATTR_CONN nest (GET_CONN dump part).  The three addresses must
// be of the family AF says (or, without AF, all of one length, 4 or 16).
Connection parse_conn_reply(const nlmsghdr* nlh);
// A SOCK_VS_ATTR_TEMPLATE nest (GET_TEMPLATE dump part).  PROTOCOL, VADDR,
// VPORT, DADDR, DPORT, CLIENT_KIND and CLIENT are required; the two
// addresses must be of the family AF says (or, without AF, of one length,
// 4 or 16).  A client kind this version does not know is kept as its
// number.  Without CONNS or EXPIRES they read as 0.
Template parse_template_reply(const nlmsghdr* nlh);

// SOCK_VS_ATTR_KILLED (u32): the sockets a DEL_DEST, DEL_SERVICE, FLUSH or
// KILL terminated, in the message the module sends before the ACK.
std::uint32_t parse_killed_reply(const nlmsghdr* nlh);

// The outcome carried by an NLMSG_ERROR or NLMSG_DONE message.
struct NetlinkStatus {
  int error = 0;        // 0 or a negative errno, as the kernel sent it
  std::string ext_ack;  // NLMSGERR_ATTR_MSG, or ""

  friend bool operator==(const NetlinkStatus&, const NetlinkStatus&) = default;
};

// Parses an NLMSG_ERROR message (an ACK when error == 0), including the
// extended ACK TLVs when NLM_F_ACK_TLVS is set (after the echoed request,
// or right after struct nlmsgerr when NLM_F_CAPPED is set).  Throws
// sockvs::Error (EPROTO) if the message is too short for struct nlmsgerr;
// malformed TLVs are ignored.
NetlinkStatus parse_error_message(const nlmsghdr* nlh);

// Parses an NLMSG_DONE message: a dump that failed part-way carries a
// negative errno in its payload, and TLVs after it (NLM_F_ACK_TLVS).
NetlinkStatus parse_done_message(const nlmsghdr* nlh);

}  // namespace sockvs

#endif  // SOCKVS_MESSAGES_H_
