// Errors thrown by libsockvs.
#ifndef SOCKVS_ERROR_H_
#define SOCKVS_ERROR_H_

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sockvs {

inline constexpr std::string_view kModuleNotLoadedMessage =
    "the sock_vs module is not loaded (try: modprobe sock_vs)";
inline constexpr std::string_view kPermissionDeniedMessage =
    "permission denied: changing sock_vs needs CAP_NET_ADMIN";

// Any failure of a libsockvs operation.  what() is a complete message for a
// human (it already includes the kernel's extended-ACK message, if any).
class Error : public std::runtime_error {
 public:
  // `code` is a positive errno value (EINVAL, EEXIST, ...).
  Error(int code, const std::string& message, std::string ext_ack = {});

  // Positive errno value.
  [[nodiscard]] int code() const noexcept { return code_; }
  // The kernel's extended ACK message (NLMSGERR_ATTR_MSG), or "".
  [[nodiscard]] const std::string& ext_ack() const noexcept { return ext_ack_; }
  // The extended ACK's NLMSGERR_ATTR_OFFS: where in the request the kernel
  // found fault (bytes from its nlmsghdr), if it said.
  [[nodiscard]] std::optional<std::uint32_t> attr_offset() const noexcept { return attr_offset_; }
  void set_attr_offset(std::optional<std::uint32_t> offset) noexcept { attr_offset_ = offset; }

 private:
  int code_;
  std::string ext_ack_;
  std::optional<std::uint32_t> attr_offset_;
};

// Thrown when the generic netlink family SOCK_VS does not exist.
// what() == kModuleNotLoadedMessage, code() == ENOENT.
class ModuleNotLoadedError : public Error {
 public:
  ModuleNotLoadedError();
};

// The message for a negative reply of the kernel to command `cmd`
// (SOCK_VS_CMD_*), with errno `code` (positive) and the extended-ACK
// message `ext_ack` (may be empty).  Errnos with a fixed meaning get a fixed
// message ("service already exists", "no such service", "no such real
// server" (ENOENT on the real-server commands and KILL), "unknown
// scheduler 'NAME'" (ENOENT on NEW/SET_SERVICE without an ext_ack or with
// one that mentions the scheduler, NAME from `sched_name`; with another
// ext_ack, e.g. "no such cgroup (v2)" for an exemption, that message), the
// CAP_NET_ADMIN message for EPERM), with the ext_ack
// appended unless it only repeats it; ENOSPC gives "limit reached: ...";
// other errnos give the ext_ack, or strerror() without one.
std::string describe_kernel_error(std::uint8_t cmd, int code, std::string_view ext_ack,
                                  std::string_view sched_name = {});

// Error(code, describe_kernel_error(cmd, code, ext_ack, sched_name), ext_ack).
Error kernel_error(std::uint8_t cmd, int code, std::string ext_ack,
                   std::string_view sched_name = {});

}  // namespace sockvs

#endif  // SOCKVS_ERROR_H_
