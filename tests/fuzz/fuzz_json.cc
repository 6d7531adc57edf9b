// libFuzzer target: sockvsadm -R --json input (userspace/sockvsadm/json.cc).
// Properties: only JsonError is thrown; what parses prints (-S --json) to
// text that parses to the same table and prints identically; -L --json
// output of it reads back the same; json_rules makes one command per
// service and real server.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "json.h"

namespace {

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<sockvsadm::ServiceEntry> entries;
  try {
    entries = sockvsadm::parse_json(text);
  } catch (const sockvsadm::JsonError&) {
    return 0;
  }
  const std::string saved = sockvsadm::format_json(entries, sockvsadm::JsonView{});
  const auto again = sockvsadm::parse_json(saved);
  check(sockvsadm::format_json(again, sockvsadm::JsonView{}) == saved);
  const sockvs::Info info{"0.1.0", 1, "kprobe", "test", 1, 1};
  const std::string listed = sockvsadm::format_json(entries, sockvsadm::JsonView{true, true}, info);
  check(sockvsadm::parse_json(listed) == again);

  std::size_t commands = 0;
  for (const auto& e : entries) {
    commands += 1 + e.dests.size();
  }
  const sockvsadm::JsonRules rules = sockvsadm::json_rules(entries);
  check(rules.lines.size() == commands && rules.labels.size() == commands);
  return 0;
}
