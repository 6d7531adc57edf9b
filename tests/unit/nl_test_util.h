// Helpers to build and take apart netlink messages in tests.
#ifndef SOCKVS_TESTS_UNIT_NL_TEST_UTIL_H_
#define SOCKVS_TESTS_UNIT_NL_TEST_UTIL_H_

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/sock_vs.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "sockvs/messages.h"

namespace sockvs::testing {

inline constexpr int kFamily = 0x1d;  // any generic netlink family id

// A reply as the module would send it, built attribute by attribute.
class ReplyBuilder {
 public:
  // `size`: room for the message (0: libnl's default, one page).
  explicit ReplyBuilder(std::uint8_t cmd, int flags = 0, std::size_t size = 0)
      : msg_(size == 0 ? nlmsg_alloc() : nlmsg_alloc_size(size)) {
    genlmsg_put(msg_.get(), 1234, 42, kFamily, 0, flags, cmd, SOCK_VS_GENL_VERSION);
  }
  ReplyBuilder& nest(int type) {
    nlattr* a = nla_nest_start(msg_.get(), type);
    a->nla_type |= NLA_F_NESTED;
    open_.push_back(a);
    return *this;
  }
  ReplyBuilder& end() {
    nla_nest_end(msg_.get(), open_.back());
    open_.pop_back();
    return *this;
  }
  ReplyBuilder& u8(int type, std::uint8_t v) {
    nla_put_u8(msg_.get(), type, v);
    return *this;
  }
  ReplyBuilder& u16(int type, std::uint16_t v) {
    nla_put_u16(msg_.get(), type, v);
    return *this;
  }
  ReplyBuilder& u32(int type, std::uint32_t v) {
    nla_put_u32(msg_.get(), type, v);
    return *this;
  }
  ReplyBuilder& u64(int type, std::uint64_t v) {
    nla_put_u64(msg_.get(), type, v);
    return *this;
  }
  ReplyBuilder& str(int type, const std::string& v) {
    nla_put_string(msg_.get(), type, v.c_str());
    return *this;
  }
  ReplyBuilder& raw(int type, const void* data, int len) {
    nla_put(msg_.get(), type, len, data);
    return *this;
  }
  [[nodiscard]] const nlmsghdr* hdr() const { return nlmsg_hdr(msg_.get()); }

 private:
  NlMsgPtr msg_;
  std::vector<nlattr*> open_;
};

// The attributes of a built request, taken apart.
struct Parsed {
  const nlmsghdr* nlh = nullptr;
  const genlmsghdr* genl = nullptr;
  std::array<nlattr*, SOCK_VS_ATTR_MAX + 1> top{};
  std::array<nlattr*, SOCK_VS_SVC_ATTR_MAX + 1> svc{};
  std::array<nlattr*, SOCK_VS_DEST_ATTR_MAX + 1> dest{};
  int top_count = 0;  // number of top-level attributes
};

inline int count_attrs(nlattr* head, int len) {
  int n = 0;
  nlattr* pos = nullptr;
  int rem = 0;
  nla_for_each_attr(pos, head, len, rem) { ++n; }
  return n;
}

inline Parsed parse_request(const NlMsgPtr& msg) {
  Parsed p;
  p.nlh = nlmsg_hdr(msg.get());
  p.genl = static_cast<const genlmsghdr*>(nlmsg_data(p.nlh));
  auto* nlh = const_cast<nlmsghdr*>(p.nlh);
  genlmsg_parse(nlh, 0, p.top.data(), SOCK_VS_ATTR_MAX, nullptr);
  p.top_count = count_attrs(genlmsg_attrdata(static_cast<genlmsghdr*>(nlmsg_data(nlh)), 0),
                            genlmsg_attrlen(static_cast<genlmsghdr*>(nlmsg_data(nlh)), 0));
  if (p.top[SOCK_VS_ATTR_SERVICE] != nullptr) {
    nla_parse_nested(p.svc.data(), SOCK_VS_SVC_ATTR_MAX, p.top[SOCK_VS_ATTR_SERVICE], nullptr);
  }
  if (p.top[SOCK_VS_ATTR_DEST] != nullptr) {
    nla_parse_nested(p.dest.data(), SOCK_VS_DEST_ATTR_MAX, p.top[SOCK_VS_ATTR_DEST], nullptr);
  }
  return p;
}

// The Parsed points into the message: it must outlive the Parsed.
Parsed parse_request(NlMsgPtr&& msg) = delete;

inline std::vector<std::uint8_t> attr_bytes(const nlattr* a) {
  const auto* d = static_cast<const std::uint8_t*>(nla_data(a));
  return {d, d + nla_len(a)};
}

inline std::string attr_string(const nlattr* a) { return {static_cast<const char*>(nla_data(a))}; }

// A raw netlink message in 4-byte aligned storage.
class RawMsg {
 public:
  void put(const void* data, std::size_t len) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + len);
  }
  void pad() {
    while (bytes_.size() % 4 != 0) {
      bytes_.push_back(0);
    }
  }
  void attr(std::uint16_t type, const void* data, std::size_t len) {
    nlattr a{};
    a.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + len);
    a.nla_type = type;
    put(&a, sizeof a);
    put(data, len);
    pad();
  }
  void attr_string(std::uint16_t type, const std::string& s) {
    attr(type, s.c_str(), s.size() + 1);
  }
  // Fixes nlmsg_len and returns the header (storage stays owned here).
  const nlmsghdr* finish() {
    words_.assign((bytes_.size() + 3) / 4, 0);
    auto len = static_cast<std::uint32_t>(bytes_.size());
    std::memcpy(bytes_.data(), &len, sizeof len);
    std::memcpy(words_.data(), bytes_.data(), bytes_.size());
    return reinterpret_cast<const nlmsghdr*>(words_.data());
  }
  [[nodiscard]] std::size_t size() const { return bytes_.size(); }
  std::vector<std::uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
  std::vector<std::uint32_t> words_;
};

}  // namespace sockvs::testing

#endif  // SOCKVS_TESTS_UNIT_NL_TEST_UTIL_H_
