// libFuzzer target: the netlink reply parsers of userspace/lib/messages.cc,
// fed fuzzed attribute streams.  Input: byte 0 picks the parser (service,
// real server, info, NLMSG_ERROR, NLMSG_DONE, template), bytes 1-2
// the nlmsg_flags (NLM_F_ACK_TLVS, NLM_F_CAPPED matter), the rest is the
// message after struct nlmsghdr (genlmsghdr and attributes, or nlmsgerr and
// TLVs).  nlmsg_len is the true length, as libnl guarantees for a received
// message.  Property: only sockvs::Error is thrown.
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "sockvs/error.h"
#include "sockvs/messages.h"

namespace {

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

// The extended ACK text comes from inside the message, or is made up from
// NLMSGERR_ATTR_MISS_TYPE ("missing attribute 4280614911" can be longer
// than a short message: an earlier version of this check said otherwise).
void check_ext_ack(const sockvs::NetlinkStatus& st, std::size_t msg_len) {
  check(st.ext_ack.size() < msg_len || st.ext_ack.starts_with("missing attribute "));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3 || size > 65536) {
    return 0;
  }
  const std::uint8_t which = data[0] % 6;
  std::uint16_t flags = 0;
  std::memcpy(&flags, data + 1, sizeof flags);
  const std::size_t payload = size - 3;

  // A fresh heap buffer of exactly nlmsg_len bytes, so that ASan sees any
  // read past the message.
  std::vector<std::uint8_t> buf(NLMSG_HDRLEN + payload);
  nlmsghdr hdr{};
  hdr.nlmsg_len = static_cast<std::uint32_t>(buf.size());
  hdr.nlmsg_type = which == 3 ? NLMSG_ERROR : which == 4 ? NLMSG_DONE : 0x1d;
  hdr.nlmsg_flags = flags;
  std::memcpy(buf.data(), &hdr, sizeof hdr);
  if (payload != 0) {
    std::memcpy(buf.data() + NLMSG_HDRLEN, data + 3, payload);
  }
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());

  try {
    switch (which) {
      case 0: {
        const sockvs::Service svc = sockvs::parse_service_reply(nlh);
        check(svc.addr.is_v4() || svc.addr.is_v6());
        break;
      }
      case 1: {
        const sockvs::RealServer dest = sockvs::parse_dest_reply(nlh);
        check(dest.addr.is_v4() || dest.addr.is_v6());
        check(!dest.shards || dest.shard_conns.empty() || dest.shard_conns.size() == *dest.shards);
        break;
      }
      case 2:
        (void)sockvs::parse_info_reply(nlh);
        break;
      case 3:
        check_ext_ack(sockvs::parse_error_message(nlh), buf.size());
        break;
      case 4:
        check_ext_ack(sockvs::parse_done_message(nlh), buf.size());
        break;
      default: {
        const sockvs::Template t = sockvs::parse_template_reply(nlh);
        check((t.vaddr.is_v4() || t.vaddr.is_v6()) && t.daddr.family() == t.vaddr.family());
        break;
      }
    }
  } catch (const sockvs::Error& e) {
    check(e.code() > 0);
  }
  return 0;
}
