// The netlink exchange code, live, against the kernel's own generic
// netlink controller ("nlctrl"): the sock_vs module cannot be loaded on the
// build host, but nlctrl is always there.
#include <gtest/gtest.h>

#include <linux/genetlink.h>
#include <linux/sock_vs.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sockvs/client.h"
#include "sockvs/error.h"
#include "sockvs/genl_socket.h"
#include "sockvs/messages.h"

namespace sockvs {
namespace {

class GenlSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      sock_ = std::make_unique<GenlSocket>();
    } catch (const Error& e) {
      GTEST_SKIP() << "no generic netlink here: " << e.what();
    }
    sock_->set_family(GENL_ID_CTRL);
  }

  static NlMsgPtr getfamily(int flags, const char* name = nullptr) {
    NlMsgPtr msg(nlmsg_alloc());
    genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, GENL_ID_CTRL, 0, flags, CTRL_CMD_GETFAMILY,
                1);
    if (name != nullptr) {
      nla_put_string(msg.get(), CTRL_ATTR_FAMILY_NAME, name);
    }
    return msg;
  }

  static std::string family_name(const nlmsghdr* nlh) {
    std::array<nlattr*, CTRL_ATTR_MAX + 1> tb{};
    genlmsg_parse(const_cast<nlmsghdr*>(nlh), 0, tb.data(), CTRL_ATTR_MAX, nullptr);
    return tb[CTRL_ATTR_FAMILY_NAME] != nullptr ? nla_get_string(tb[CTRL_ATTR_FAMILY_NAME]) : "";
  }

  std::unique_ptr<GenlSocket> sock_;
};

TEST_F(GenlSocketTest, ResolvesFamilies) {
  EXPECT_EQ(sock_->resolve("nlctrl"), GENL_ID_CTRL);
  EXPECT_EQ(sock_->resolve("SOCK_VS_NO_SUCH_FAMILY"), -1);
}

TEST_F(GenlSocketTest, DumpReadsToTheEnd) {
  std::vector<std::string> names;
  sock_->transact(getfamily(NLM_F_DUMP), CTRL_CMD_GETFAMILY,
                  [&](const nlmsghdr* nlh) { names.push_back(family_name(nlh)); });
  EXPECT_NE(std::find(names.begin(), names.end(), "nlctrl"), names.end());
}

TEST_F(GenlSocketTest, DoitReplyThenAck) {
  std::vector<std::string> names;
  sock_->transact(getfamily(NLM_F_ACK, "nlctrl"), CTRL_CMD_GETFAMILY,
                  [&](const nlmsghdr* nlh) { names.push_back(family_name(nlh)); });
  EXPECT_EQ(names, std::vector<std::string>{"nlctrl"});
}

TEST_F(GenlSocketTest, KernelErrorBecomesError) {
  try {
    sock_->transact(getfamily(NLM_F_ACK, "NO_SUCH_FAMILY"), CTRL_CMD_GETFAMILY);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ENOENT);
    EXPECT_NE(std::string(e.what()), "");
  }
  // A name longer than the policy allows (GENL_NAMSIZ - 1): rejected by
  // the kernel's attribute validation, with an extended ACK message
  // ("Attribute failed policy validation"), which must reach the Error.
  try {
    sock_->transact(getfamily(NLM_F_ACK, "A_FAMILY_NAME_FAR_TOO_LONG"), CTRL_CMD_GETFAMILY);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), EINVAL);
    EXPECT_FALSE(e.ext_ack().empty());
    EXPECT_EQ(std::string(e.what()), e.ext_ack());
  }
  // The socket is still usable.
  sock_->transact(getfamily(NLM_F_ACK, "nlctrl"), CTRL_CMD_GETFAMILY);
}

TEST_F(GenlSocketTest, SendsRequestsAboveLibnlsDefaultBuffer) {
  // libnl's default send buffer (32 KiB, doubled by the kernel) refuses a
  // request above 64 KiB - 32 bytes with EMSGSIZE before the kernel sees
  // it; a transaction's entry alone may be 64 KiB.  The kernel must get
  // this one and answer it (nlctrl: the family, or an attribute error).
  NlMsgPtr msg(nlmsg_alloc_size(96 * 1024));
  ASSERT_TRUE(msg);
  genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, GENL_ID_CTRL, 0, NLM_F_ACK, CTRL_CMD_GETFAMILY,
              1);
  nla_put_string(msg.get(), CTRL_ATTR_FAMILY_NAME, "nlctrl");
  const std::vector<char> pad(40000, 'x');
  ASSERT_EQ(nla_put(msg.get(), CTRL_ATTR_OPS, static_cast<int>(pad.size()), pad.data()), 0);
  ASSERT_EQ(nla_put(msg.get(), CTRL_ATTR_MCAST_GROUPS, static_cast<int>(pad.size()), pad.data()),
            0);
  ASSERT_GT(nlmsg_hdr(msg.get())->nlmsg_len, 64u * 1024);
  try {
    sock_->transact(msg, CTRL_CMD_GETFAMILY);
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("cannot send"), std::string::npos) << e.what();
    EXPECT_NE(e.code(), EMSGSIZE) << e.what();
  }
  // and the socket still works
  sock_->transact(getfamily(NLM_F_ACK, "nlctrl"), CTRL_CMD_GETFAMILY);
}

TEST_F(GenlSocketTest, HandlerExceptionPropagatesAndLeftoversAreSkipped) {
  EXPECT_THROW(sock_->transact(getfamily(NLM_F_DUMP), CTRL_CMD_GETFAMILY,
                               [](const nlmsghdr*) { throw std::runtime_error("stop"); }),
               std::runtime_error);
  // The rest of that dump may still be queued: it must not be taken as the
  // answer to the next request.
  std::vector<std::string> names;
  sock_->transact(getfamily(NLM_F_ACK, "nlctrl"), CTRL_CMD_GETFAMILY,
                  [&](const nlmsghdr* nlh) { names.push_back(family_name(nlh)); });
  EXPECT_EQ(names, std::vector<std::string>{"nlctrl"});
}

TEST_F(GenlSocketTest, ClientWithoutModuleSaysNotLoaded) {
  // On this host sock_vs is not loaded (if it ever is, there is nothing to check).
  if (sock_->resolve(SOCK_VS_GENL_NAME) >= 0) {
    GTEST_SKIP() << "sock_vs is loaded";
  }
  try {
    const Client client;
    FAIL() << "no error";
  } catch (const ModuleNotLoadedError& e) {
    EXPECT_STREQ(e.what(), "the sock_vs module is not loaded (try: modprobe sock_vs)");
  }
}

}  // namespace
}  // namespace sockvs
