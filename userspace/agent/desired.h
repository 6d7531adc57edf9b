// The desired table from the keys under a cell's prefix (keys.h): each key's
// value parsed once when it arrives, the table built from all of them.
//
// Values (JSON, nlohmann-json):
//   svc/NAME   one service in the schema of `sockvsadm -S --json`
//              (userspace/README.md "JSON"): {"protocol": "tcp", "address":
//              "10.0.0.1", "port": 80, "scheduler": "rr", ..., "dests": [...]};
//              "dests" is optional (static real servers given inline)
//   rs/NAME/A  a real server's settings: {"weight": 2, "upper": 0, "lower":
//   ep/NAME/A  0, "shards": 1}, every key optional (weight 1); an empty
//              value is {}.  The address and port are the key's.
//   marker     anything
//
// A real server named more than once: the ep key wins over the rs key,
// which wins over the service value's "dests".
//
// A malformed value is skipped, named with its key in `problems`, and the
// key's last good value (if it had one) stays in force; a service whose
// value was never good keeps what was last applied under its name (the
// `fallback`), so a bad edit never deletes a service.
#ifndef SOCKVS_AGENT_DESIRED_H_
#define SOCKVS_AGENT_DESIRED_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "format.h"
#include "keys.h"
#include "sockvs/types.h"

namespace agent {

// Services by name, each with its real servers (in key order).
using Table = std::map<std::string, sockvsadm::ServiceEntry>;

struct Desired {
  bool marker = false;  // the marker key exists: the prefix is managed
  Table services;
  // Keys that were skipped (or are held at an older value), and why.
  std::map<std::string, std::string> problems;
};

// A service value: exactly one service object.  Throws std::invalid_argument
// with a message that names the field ("port: 0 out of range 1-65535").
sockvsadm::ServiceEntry parse_service_value(std::string_view value);

// A real server value for `addr`:`port` (the key's).  Throws
// std::invalid_argument.
sockvs::RealServer parse_dest_value(std::string_view value, const sockvs::Address& addr,
                                    std::uint16_t port);

class DesiredBuilder {
 public:
  explicit DesiredBuilder(Layout layout) : layout_(std::move(layout)) {}

  // A key was put with `value` (or appeared in a listing).  Returns the
  // problem with it ("" if none).
  std::string put(const std::string& key, std::string_view value);
  void erase(const std::string& key);
  void clear() { values_.clear(); }

  // The table the keys describe.  `fallback`: what was last applied, by
  // service name (for services whose value was never good).
  [[nodiscard]] Desired build(const Table& fallback) const;

  [[nodiscard]] std::size_t size() const noexcept { return values_.size(); }
  [[nodiscard]] const Layout& layout() const noexcept { return layout_; }

 private:
  struct Value {
    std::optional<ParsedKey> key;                    // nullopt: not a key of the layout
    std::optional<sockvsadm::ServiceEntry> service;  // a good svc value
    std::optional<sockvs::RealServer> dest;          // a good rs/ep value
    std::string problem;                             // why the key or its latest value is not used
  };

  Layout layout_;
  std::map<std::string, Value> values_;
};

}  // namespace agent

#endif  // SOCKVS_AGENT_DESIRED_H_
