#include "sockvs/error.h"

#include <linux/sock_vs.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

namespace sockvs {

namespace {

bool is_dest_cmd(std::uint8_t cmd) {
  return cmd == SOCK_VS_CMD_NEW_DEST || cmd == SOCK_VS_CMD_SET_DEST ||
         cmd == SOCK_VS_CMD_DEL_DEST || cmd == SOCK_VS_CMD_GET_DEST;
}

bool is_sched_cmd(std::uint8_t cmd) {
  return cmd == SOCK_VS_CMD_NEW_SERVICE || cmd == SOCK_VS_CMD_SET_SERVICE;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The fixed part of a message, for errnos with a well-known meaning; ""
// for the others.
std::string known_message(std::uint8_t cmd, int code, std::string_view ext_ack,
                          std::string_view sched_name) {
  switch (code) {
    case EPERM:
    case EACCES:
      return std::string(kPermissionDeniedMessage);
    case EEXIST:
      return is_dest_cmd(cmd) ? "real server already exists" : "service already exists";
    case ESRCH:
      return "no such service";
    case ENOENT:
      // KILL's only ENOENT is for its DEST (a missing service is ESRCH).
      if (is_dest_cmd(cmd) || cmd == SOCK_VS_CMD_KILL) {
        return "no such real server";
      }
      // NEW/SET_SERVICE: an unknown scheduler, unless the kernel says it is
      // something else (an exemption's cgroup that does not exist).
      if (is_sched_cmd(cmd) &&
          (ext_ack.empty() || lower(ext_ack).find("scheduler") != std::string::npos)) {
        return sched_name.empty() ? std::string("unknown scheduler")
                                  : "unknown scheduler '" + std::string(sched_name) + "'";
      }
      return {};
    default:
      return {};
  }
}

}  // namespace

Error::Error(int code, const std::string& message, std::string ext_ack)
    : std::runtime_error(message), code_(code), ext_ack_(std::move(ext_ack)) {}

ModuleNotLoadedError::ModuleNotLoadedError()
    : Error(ENOENT, std::string(kModuleNotLoadedMessage)) {}

std::string describe_kernel_error(std::uint8_t cmd, int code, std::string_view ext_ack,
                                  std::string_view sched_name) {
  std::string known = known_message(cmd, code, ext_ack, sched_name);
  if (!known.empty()) {
    if (ext_ack.empty()) {
      return known;
    }
    const std::string lknown = lower(known);
    const std::string lack = lower(ext_ack);
    if (lknown.find(lack) != std::string::npos) {
      return known;  // the kernel says nothing more
    }
    if (lack.find(lknown) != std::string::npos) {
      return std::string(ext_ack);  // the kernel says it, and more
    }
    return known + ": " + std::string(ext_ack);
  }
  if (code == ENOSPC) {
    if (!ext_ack.empty()) {
      return "limit reached: " + std::string(ext_ack);
    }
    if (cmd == SOCK_VS_CMD_NEW_SERVICE) {
      return "limit reached: too many services";
    }
    if (cmd == SOCK_VS_CMD_NEW_DEST) {
      return "limit reached: too many real servers for this service";
    }
    return "limit reached";
  }
  if (!ext_ack.empty()) {
    return std::string(ext_ack);  // the kernel's words are the most precise
  }
  if (code == EAFNOSUPPORT) {
    return "address family of the real server does not match the service";
  }
  if (code == EPROTONOSUPPORT) {
    // Not the module's (it always says which protocol): netlink_dump_start()
    // could not pin a module that rmmod is unloading.
    return "the sock_vs module is being unloaded (rmmod in progress)";
  }
  return std::strerror(code);
}

Error kernel_error(std::uint8_t cmd, int code, std::string ext_ack, std::string_view sched_name) {
  std::string msg = describe_kernel_error(cmd, code, ext_ack, sched_name);
  return {code, msg, std::move(ext_ack)};
}

}  // namespace sockvs
