// The weights sockvs-healthd has to give back: one line per real server it
// set to weight 0, so that a restart of the daemon restores them too.
//
//   # sockvs-healthd: real servers it quiesced and the weight each had
//   quiesced -t 10.255.0.1:6379 -r 127.0.0.1:7001 -w 3
#ifndef SOCKVS_HEALTHD_STATE_FILE_H_
#define SOCKVS_HEALTHD_STATE_FILE_H_

#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include "sockvs/address.h"
#include "sockvs/types.h"

namespace healthd {

// A real server of a service.
struct DestId {
  sockvs::ServiceKey svc;
  sockvs::Address addr;
  std::uint16_t port = 0;

  // "TCP 10.255.0.1:6379 -> 127.0.0.1:7001": also the map key below.
  [[nodiscard]] std::string name() const;

  friend bool operator==(const DestId&, const DestId&) = default;
};

struct Remembered {
  DestId id;
  std::uint32_t weight = 0;  // what to restore

  friend bool operator==(const Remembered&, const Remembered&) = default;
};

// Keyed by DestId::name().
using StateMap = std::map<std::string, Remembered>;

// Parses the file's text.  Lines it cannot read are skipped and described
// in `warnings` ("NAME:LINE: ...").
StateMap parse_state(std::istream& in, const std::string& name, std::vector<std::string>& warnings);

// The file's text for `state`.
std::string format_state(const StateMap& state);

// Reads `path`; a missing file is an empty state.  Throws std::runtime_error
// if the file exists but cannot be read.
StateMap load_state(const std::string& path, std::vector<std::string>& warnings);

// Writes `path` atomically (a temporary file in the same directory, fsync,
// rename); creates the directory (one level) if needed.  Throws
// std::runtime_error.
void save_state(const std::string& path, const StateMap& state);

}  // namespace healthd

#endif  // SOCKVS_HEALTHD_STATE_FILE_H_
