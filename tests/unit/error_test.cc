// Messages for the module's errors.
#include <gtest/gtest.h>

#include <linux/sock_vs.h>

#include <cerrno>

#include "sockvs/error.h"

namespace sockvs {
namespace {

TEST(KernelError, FixedMessages) {
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_NEW_SERVICE, EEXIST, ""), "service already exists");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_NEW_DEST, EEXIST, ""), "real server already exists");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_DEL_SERVICE, ESRCH, ""), "no such service");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_NEW_DEST, ESRCH, ""), "no such service");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_DEL_DEST, ENOENT, ""), "no such real server");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_SET_DEST, ENOENT, ""), "no such real server");
  // KILL: ENOENT is its real server, ESRCH its service, as for DEL_DEST.
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_KILL, ENOENT, ""), "no such real server");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_KILL, ENOENT, "no such real server"),
            "no such real server");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_KILL, ESRCH, "no such service"), "no such service");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_KILL, EINVAL, "policy none terminates nothing"),
            "policy none terminates nothing");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_NEW_SERVICE, ENOENT, "", "foo"),
            "unknown scheduler 'foo'");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_SET_SERVICE, ENOENT, ""), "unknown scheduler");
}

TEST(KernelError, ExemptionErrorsShowTheKernelsMessage) {
  // ENOENT on NEW/SET_SERVICE is an unknown scheduler unless the kernel
  // says otherwise: a cgroup of an exemption that does not exist.
  for (const std::uint8_t cmd : {SOCK_VS_CMD_NEW_SERVICE, SOCK_VS_CMD_SET_SERVICE}) {
    EXPECT_EQ(describe_kernel_error(cmd, ENOENT, "no such cgroup (v2)", "rr"),
              "no such cgroup (v2)");
    EXPECT_EQ(describe_kernel_error(cmd, ENOENT, "no such cgroup (v2)"), "no such cgroup (v2)");
    EXPECT_EQ(describe_kernel_error(cmd, ENOENT, "unknown scheduler", "foo"),
              "unknown scheduler 'foo'");
    EXPECT_EQ(describe_kernel_error(cmd, ENOENT, "", "foo"), "unknown scheduler 'foo'");
    EXPECT_EQ(describe_kernel_error(cmd, ENOTDIR, "no such cgroup (v2)", "rr"),
              "no such cgroup (v2)");
    EXPECT_EQ(describe_kernel_error(cmd, E2BIG, "too many exemptions (at most 8)"),
              "too many exemptions (at most 8)");
    EXPECT_EQ(describe_kernel_error(cmd, EINVAL, "uid not mapped in the user namespace"),
              "uid not mapped in the user namespace");
    EXPECT_EQ(describe_kernel_error(cmd, EINVAL, "cgroup path must start with /"),
              "cgroup path must start with /");
  }
  const Error e = kernel_error(SOCK_VS_CMD_NEW_SERVICE, ENOENT, "no such cgroup (v2)", "wrr");
  EXPECT_EQ(e.code(), ENOENT);
  EXPECT_STREQ(e.what(), "no such cgroup (v2)");
}

TEST(KernelError, PermissionDenied) {
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_FLUSH, EPERM, ""),
            "permission denied: changing sock_vs needs CAP_NET_ADMIN");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_NEW_SERVICE, EPERM, ""), kPermissionDeniedMessage);
}

TEST(KernelError, ExtAckIsNotRepeated) {
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_NEW_SERVICE, EEXIST, "service already exists"),
            "service already exists");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_NEW_SERVICE, ENOENT, "unknown scheduler", "foo"),
            "unknown scheduler 'foo'");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_DEL_SERVICE, ESRCH, "No such service"),
            "no such service");
}

TEST(KernelError, ExtAckAddsDetail) {
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_DEL_SERVICE, ESRCH, "no such service 10.0.0.1:80"),
            "no such service 10.0.0.1:80");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_NEW_DEST, EEXIST, "duplicate"),
            "real server already exists: duplicate");
}

TEST(KernelError, LimitReached) {
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_NEW_SERVICE, ENOSPC, ""),
            "limit reached: too many services");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_NEW_DEST, ENOSPC, ""),
            "limit reached: too many real servers for this service");
  EXPECT_EQ(
      describe_kernel_error(SOCK_VS_CMD_NEW_SERVICE, ENOSPC, "too many services (max_services)"),
      "limit reached: too many services (max_services)");
}

TEST(KernelError, OtherErrnosUseExtAckOrStrerror) {
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_NEW_SERVICE, EINVAL,
                                  "virtual address must be a unicast address"),
            "virtual address must be a unicast address");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_NEW_SERVICE, EINVAL, ""), "Invalid argument");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_NEW_DEST, EAFNOSUPPORT, ""),
            "address family of the real server does not match the service");
}

// netlink_dump_start() answers EPROTONOSUPPORT, with no extended ACK, when
// it cannot take a reference on the family's module: rmmod has begun (seen
// with an unload blocked in an RCU-tasks grace period on PREEMPT_RT).  The
// module's own EPROTONOSUPPORT (a protocol other than TCP or UDP) has one.
TEST(KernelError, DumpOfAModuleBeingUnloaded) {
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_GET_DEST, EPROTONOSUPPORT, ""),
            "the sock_vs module is being unloaded (rmmod in progress)");
  EXPECT_EQ(describe_kernel_error(SOCK_VS_CMD_GET_SERVICE, EPROTONOSUPPORT,
                                  "protocol must be TCP or UDP"),
            "protocol must be TCP or UDP");
}

TEST(KernelError, ErrorCarriesCodeAndExtAck) {
  const Error e = kernel_error(SOCK_VS_CMD_NEW_SERVICE, EEXIST, "service already exists");
  EXPECT_EQ(e.code(), EEXIST);
  EXPECT_EQ(e.ext_ack(), "service already exists");
  EXPECT_STREQ(e.what(), "service already exists");
}

TEST(KernelError, ModuleNotLoadedMessageIsExact) {
  const ModuleNotLoadedError e;
  EXPECT_STREQ(e.what(), "the sock_vs module is not loaded (try: modprobe sock_vs)");
  EXPECT_EQ(e.code(), ENOENT);
}

}  // namespace
}  // namespace sockvs
