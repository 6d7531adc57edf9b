// libFuzzer target: sockvsadm -R rule files (userspace/sockvsadm/
// restore.cc).  Properties: only UsageError (RestoreError, naming a line
// >= 1) is thrown; accepted lines are state-changing commands, in input
// order.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "restore.h"

namespace {

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::istringstream in(text);
  std::vector<sockvsadm::RestoreLine> lines;
  try {
    lines = sockvsadm::parse_restore(in);
  } catch (const sockvsadm::RestoreError& e) {
    check(e.line_no() >= 1);
    return 0;
  } catch (const sockvsadm::UsageError&) {
    return 0;
  }
  int prev = 0;
  for (const auto& line : lines) {
    check(line.line_no > prev);
    prev = line.line_no;
    check(sockvsadm::is_change(line.command.op));
  }
  return 0;
}
