// libFuzzer target: sockvsadm command line parsing (userspace/sockvsadm/
// cli.cc).  The input is split into arguments at NUL bytes (so that an
// argument can hold blanks, as argv can).  Properties: only UsageError is
// thrown; a parsed command has what its op needs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli.h"

namespace {

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args;
  std::string cur;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == '\0') {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(data[i]);
    }
  }
  if (!cur.empty()) {
    args.push_back(cur);
  }
  try {
    const sockvsadm::Command cmd = sockvsadm::parse_command(args);
    switch (cmd.op) {
      case sockvsadm::Op::kAddDest:
      case sockvsadm::Op::kEditDest:
      case sockvsadm::Op::kDelDest:
        check(cmd.service && cmd.dest && cmd.dest->af() == cmd.service->af());
        check(cmd.dest->port != 0 && cmd.dest->weight <= 65535);
        break;
      case sockvsadm::Op::kAddService:
        check(cmd.service && !cmd.scheduler.empty());
        break;
      case sockvsadm::Op::kEditService:
      case sockvsadm::Op::kDelService:
        check(cmd.service.has_value());
        break;
      default:
        break;
    }
    if (cmd.service) {
      check(cmd.service->port != 0);
    }
  } catch (const sockvsadm::UsageError&) {
  }
  // The -R word splitter on the same bytes, as one line.
  const std::string line(reinterpret_cast<const char*>(data), size);
  for (const auto& w : sockvsadm::split_words(line)) {
    check(!w.empty());
  }
  return 0;
}
