// Low level: one generic netlink socket doing request/response exchanges
// with libnl.  Client is built on it; tests use it against the kernel's
// own "nlctrl" family, which exists everywhere.
#ifndef SOCKVS_GENL_SOCKET_H_
#define SOCKVS_GENL_SOCKET_H_

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "sockvs/messages.h"

struct nl_sock;

namespace sockvs {

class GenlSocket {
 public:
  // Opens and connects the socket, with NETLINK_EXT_ACK and NETLINK_CAP_ACK
  // enabled (where the kernel has them).  Throws sockvs::Error.
  GenlSocket();
  ~GenlSocket();
  GenlSocket(const GenlSocket&) = delete;
  GenlSocket& operator=(const GenlSocket&) = delete;
  GenlSocket(GenlSocket&&) = delete;
  GenlSocket& operator=(GenlSocket&&) = delete;

  // The id of the generic netlink family `name`, or -1 if there is no such
  // family.  Throws sockvs::Error on other failures.
  int resolve(const char* name);

  // The family whose messages transact() passes to on_reply.
  void set_family(int family_id) noexcept { family_id_ = family_id; }
  [[nodiscard]] int family() const noexcept { return family_id_; }

  using ReplyHandler = std::function<void(const nlmsghdr*)>;

  // Sends `msg` (a request for command `cmd`, with NL_AUTO_SEQ) and reads
  // until its ACK (NLM_F_ACK requests) or the end of its dump (NLM_F_DUMP),
  // passing every reply of the family to `on_reply` (for NLM_F_ACK
  // requests, the messages before the ACK: GET_SERVICE's service,
  // DEL_DEST's SOCK_VS_ATTR_KILLED, ...).  An error from the
  // kernel (NLMSG_ERROR, or NLMSG_DONE carrying one) throws
  // kernel_error(cmd, errno, extended ACK message); an exception from
  // on_reply is rethrown.  Messages with another sequence number (left over
  // from an abandoned exchange) are skipped.
  void transact(const NlMsgPtr& msg, std::uint8_t cmd, const ReplyHandler& on_reply = {});

 private:
  struct SockDeleter {
    void operator()(nl_sock* sock) const noexcept;
  };
  std::unique_ptr<nl_sock, SockDeleter> sock_;
  int family_id_ = -1;
};

}  // namespace sockvs

#endif  // SOCKVS_GENL_SOCKET_H_
