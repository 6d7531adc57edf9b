// An in-memory Resolver for the unit tests: host and service names as a
// test sets them, no I/O.  Counts its lookups.
#ifndef SVS_TESTS_UNIT_FAKE_RESOLVER_H_
#define SVS_TESTS_UNIT_FAKE_RESOLVER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "resolver.h"

namespace sockvsadm::testing {

class FakeResolver final : public Resolver {
 public:
  // A host name with its addresses in order (numeric text), like a line of
  // /etc/hosts: each address whose reverse name is not set yet gets it.
  void add_host(const std::string& name, const std::vector<std::string>& addrs) {
    auto& list = hosts_[name];
    for (const auto& text : addrs) {
      const sockvs::Address addr = *sockvs::Address::parse(text);
      list.push_back(addr);
      reverse_.emplace(addr.to_string(), name);
    }
  }
  // The reverse name of an address (PTR), whatever its forward lookup says.
  void set_reverse(const std::string& addr, const std::string& name) {
    reverse_[sockvs::Address::parse(addr)->to_string()] = name;
  }
  // A service name of a protocol, both ways (as a line of /etc/services).
  void add_service(const std::string& name, std::uint16_t port, std::uint16_t protocol) {
    ports_[{name, protocol}] = port;
    services_.emplace(std::pair(port, protocol), name);
  }
  // Only getservbyport's side (a reverse name that does not read back).
  void set_service_name(std::uint16_t port, std::uint16_t protocol, const std::string& name) {
    services_[{port, protocol}] = name;
  }

  [[nodiscard]] HostLookup host_addresses(const std::string& host) const override {
    ++lookups;
    const auto it = hosts_.find(host);
    if (it == hosts_.end()) {
      return {{}, "Name or service not known"};
    }
    return {it->second, {}};
  }
  [[nodiscard]] std::optional<std::uint16_t> service_port(const std::string& name,
                                                          std::uint16_t protocol) const override {
    ++lookups;
    const auto it = ports_.find({name, protocol});
    return it == ports_.end() ? std::nullopt : std::optional(it->second);
  }
  [[nodiscard]] std::optional<std::string> host_name(const sockvs::Address& addr) const override {
    ++lookups;
    const auto it = reverse_.find(addr.to_string());
    return it == reverse_.end() ? std::nullopt : std::optional(it->second);
  }
  [[nodiscard]] std::optional<std::string> service_name(std::uint16_t port,
                                                        std::uint16_t protocol) const override {
    ++lookups;
    const auto it = services_.find({port, protocol});
    return it == services_.end() ? std::nullopt : std::optional(it->second);
  }

  mutable int lookups = 0;  // every call of the four

 private:
  std::map<std::string, std::vector<sockvs::Address>> hosts_;
  std::map<std::string, std::string> reverse_;  // by address text
  std::map<std::pair<std::string, std::uint16_t>, std::uint16_t> ports_;
  std::map<std::pair<std::uint16_t, std::uint16_t>, std::string> services_;
};

}  // namespace sockvsadm::testing

#endif  // SVS_TESTS_UNIT_FAKE_RESOLVER_H_
