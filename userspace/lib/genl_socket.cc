#include "sockvs/genl_socket.h"

#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <string>

#include "sockvs/error.h"
#include "sockvs/txn.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

namespace sockvs {

namespace {

struct CbDeleter {
  void operator()(nl_cb* cb) const noexcept { nl_cb_put(cb); }
};
using CbPtr = std::unique_ptr<nl_cb, CbDeleter>;

// How long to wait for the module's answer before giving up.
constexpr time_t kReceiveTimeoutSeconds = 30;

// Send buffer: libnl's default of 32 KiB (64 KiB once the kernel doubles it)
// refuses a request above 64 KiB - 32 bytes with EMSGSIZE, and one
// transaction entry alone may be 64 KiB (its nest's length is 16 bits).
// The kernel caps this at net.core.wmem_max (208 KiB by default) and
// doubles it.
constexpr int kSendBufferBytes = 256 * 1024;

// A libnl error code (NLE_*) as the closest errno.
int nl_errno(int nlerr) {
  switch (nlerr < 0 ? -nlerr : nlerr) {
    case NLE_NOMEM:
      return ENOMEM;
    case NLE_PERM:
      return EPERM;
    case NLE_OBJ_NOTFOUND:
      return ENOENT;
    case NLE_AGAIN:
      return EAGAIN;
    case NLE_MSGSIZE:
      return EMSGSIZE;
    case NLE_NOACCESS:
      return EACCES;
    default:
      return EIO;
  }
}

Error nl_failure(const std::string& what, int nlerr) {
  return {nl_errno(nlerr), what + ": " + nl_geterror(nlerr)};
}

// What one request/response exchange has seen so far.
struct Exchange {
  std::uint32_t seq = 0;
  int family_id = 0;
  const std::function<void(const nlmsghdr*)>* on_reply = nullptr;
  nl_msg* current = nullptr;  // the message libnl is processing
  unsigned messages = 0;
  bool done = false;
  int error = 0;  // positive errno from the kernel
  std::string ext_ack;
  std::optional<std::uint32_t> attr_offset;  // NLMSGERR_ATTR_OFFS
  std::exception_ptr exception;
};

Exchange* exchange_of(void* arg) { return static_cast<Exchange*>(arg); }

// The callbacks run inside libnl (C): they must not throw.  What goes wrong
// in them is kept in the Exchange and thrown once libnl has returned.
void keep_exception(Exchange* ex) noexcept {
  ex->exception = std::current_exception();
  ex->done = true;
}

int on_msg_in(nl_msg* msg, void* arg) noexcept {
  Exchange* ex = exchange_of(arg);
  ex->current = msg;
  ++ex->messages;
  return NL_OK;
}

// Skips whatever does not answer our request (e.g. left over from an
// earlier request that was abandoned after an error).
int on_seq_check(nl_msg* msg, void* arg) noexcept {
  return nlmsg_hdr(msg)->nlmsg_seq == exchange_of(arg)->seq ? NL_OK : NL_SKIP;
}

int on_valid(nl_msg* msg, void* arg) noexcept {
  Exchange* ex = exchange_of(arg);
  const nlmsghdr* nlh = nlmsg_hdr(msg);
  if (nlh->nlmsg_type != ex->family_id || ex->on_reply == nullptr) {
    return NL_SKIP;
  }
  try {
    (*ex->on_reply)(nlh);
  } catch (...) {
    keep_exception(ex);
    return NL_STOP;
  }
  return NL_OK;
}

int on_finish(nl_msg* msg, void* arg) noexcept {
  Exchange* ex = exchange_of(arg);
  try {
    const NetlinkStatus status = parse_done_message(nlmsg_hdr(msg));
    if (status.error != 0) {
      ex->error = status.error < 0 ? -status.error : status.error;
      ex->ext_ack = status.ext_ack;
    }
  } catch (...) {
    keep_exception(ex);
  }
  ex->done = true;
  return NL_STOP;
}

int on_ack(nl_msg* /*msg*/, void* arg) noexcept {
  exchange_of(arg)->done = true;
  return NL_STOP;
}

int on_error(sockaddr_nl* /*nla*/, nlmsgerr* err, void* arg) noexcept {
  Exchange* ex = exchange_of(arg);
  ex->error = err->error < 0 ? -err->error : err->error;
  // libnl hands over only the struct nlmsgerr; the extended ACK TLVs are
  // found through the whole message, recorded by on_msg_in.
  if (ex->current != nullptr) {
    const nlmsghdr* nlh = nlmsg_hdr(ex->current);
    try {
      const NetlinkStatus status = parse_error_message(nlh);
      if (nlh->nlmsg_type == NLMSG_ERROR && status.error == err->error) {
        ex->ext_ack = status.ext_ack;
        ex->attr_offset = error_attr_offset(nlh);
      }
    } catch (...) {
      ex->ext_ack.clear();  // no message then; the errno is what matters
    }
  }
  ex->done = true;
  return NL_STOP;
}

int on_overrun(nl_msg* /*msg*/, void* arg) noexcept {
  Exchange* ex = exchange_of(arg);
  try {
    throw Error(ENOBUFS, "netlink overrun: the reply from the sock_vs module was lost");
  } catch (...) {
    keep_exception(ex);
  }
  return NL_STOP;
}

int on_invalid(nl_msg* /*msg*/, void* arg) noexcept {
  Exchange* ex = exchange_of(arg);
  try {
    throw Error(EPROTO, "invalid netlink message from the kernel");
  } catch (...) {
    keep_exception(ex);
  }
  return NL_STOP;
}

}  // namespace

void GenlSocket::SockDeleter::operator()(nl_sock* sock) const noexcept { nl_socket_free(sock); }

GenlSocket::GenlSocket() : sock_(nl_socket_alloc()) {
  if (!sock_) {
    throw Error(ENOMEM, "cannot allocate a netlink socket");
  }
  if (const int r = genl_connect(sock_.get()); r < 0) {
    throw nl_failure("cannot open a generic netlink socket", r);
  }
  // 0: libnl's default receive buffer, as before.
  if (const int r = nl_socket_set_buffer_size(sock_.get(), 0, kSendBufferBytes); r < 0) {
    throw nl_failure("cannot size the netlink socket's buffers", r);
  }
  const int fd = nl_socket_get_fd(sock_.get());
  const int one = 1;
  // Best effort: kernels without them still work, without messages.
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  timeval tv{};
  tv.tv_sec = kReceiveTimeoutSeconds;
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  nl_socket_enable_msg_peek(sock_.get());
}

GenlSocket::~GenlSocket() = default;

int GenlSocket::resolve(const char* name) {
  // genl_ctrl_resolve() waits for an ACK only in libnl's auto-ACK mode, so
  // turn it on for the look-up and off again after.
  nl_socket_enable_auto_ack(sock_.get());
  const int id = genl_ctrl_resolve(sock_.get(), name);
  // Our requests carry exactly the flags the builders set.
  nl_socket_disable_auto_ack(sock_.get());
  if (id == -NLE_OBJ_NOTFOUND) {
    return -1;
  }
  if (id < 0) {
    throw nl_failure(std::string("cannot look up the generic netlink family ") + name, id);
  }
  return id;
}

void GenlSocket::transact(const NlMsgPtr& msg, std::uint8_t cmd, const ReplyHandler& on_reply) {
  errno = 0;
  if (const int r = nl_send_auto(sock_.get(), msg.get()); r < 0) {
    // libnl folds some errnos (EMSGSIZE among them) into "Unspecific
    // failure": say what sendmsg() said.
    if (const int e = errno; e != 0) {
      throw Error(e, std::string("cannot send to the sock_vs module: ") + std::strerror(e));
    }
    throw nl_failure("cannot send to the sock_vs module", r);
  }
  Exchange ex;
  ex.seq = nlmsg_hdr(msg.get())->nlmsg_seq;
  ex.family_id = family_id_;
  ex.on_reply = on_reply ? &on_reply : nullptr;

  const CbPtr cb(nl_cb_alloc(NL_CB_DEFAULT));
  if (!cb) {
    throw Error(ENOMEM, "cannot allocate netlink callbacks");
  }
  nl_cb_set(cb.get(), NL_CB_MSG_IN, NL_CB_CUSTOM, on_msg_in, &ex);
  nl_cb_set(cb.get(), NL_CB_SEQ_CHECK, NL_CB_CUSTOM, on_seq_check, &ex);
  nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_valid, &ex);
  nl_cb_set(cb.get(), NL_CB_FINISH, NL_CB_CUSTOM, on_finish, &ex);
  nl_cb_set(cb.get(), NL_CB_ACK, NL_CB_CUSTOM, on_ack, &ex);
  nl_cb_set(cb.get(), NL_CB_OVERRUN, NL_CB_CUSTOM, on_overrun, &ex);
  nl_cb_set(cb.get(), NL_CB_INVALID, NL_CB_CUSTOM, on_invalid, &ex);
  nl_cb_err(cb.get(), NL_CB_CUSTOM, on_error, &ex);

  while (!ex.done) {
    const unsigned before = ex.messages;
    const int r = nl_recvmsgs(sock_.get(), cb.get());
    ex.current = nullptr;
    if (ex.exception) {
      std::rethrow_exception(ex.exception);
    }
    if (ex.error != 0) {
      Error e = kernel_error(cmd, ex.error, ex.ext_ack);
      e.set_attr_offset(ex.attr_offset);
      throw e;
    }
    if (r < 0) {
      throw nl_failure("cannot receive from the sock_vs module", r);
    }
    if (!ex.done && ex.messages == before) {
      throw Error(ETIMEDOUT, "no answer from the sock_vs module");
    }
  }
}

}  // namespace sockvs
