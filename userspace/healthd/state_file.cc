#include "state_file.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "fd.h"

namespace healthd {

namespace {

std::runtime_error sys_error(const std::string& what, int err) {
  return std::runtime_error(what + ": " + std::strerror(err));
}

}  // namespace

std::string DestId::name() const {
  return sockvs::protocol_name(svc.protocol) + " " + sockvs::format_endpoint(svc.addr, svc.port) +
         " -> " + sockvs::format_endpoint(addr, port);
}

StateMap parse_state(std::istream& in, const std::string& name,
                     std::vector<std::string>& warnings) {
  StateMap state;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::istringstream words(line);
    std::string kw;
    if (!(words >> kw) || kw.front() == '#') {
      continue;
    }
    std::string proto_opt;
    std::string vip;
    std::string r_opt;
    std::string rip;
    std::string w_opt;
    std::string weight;
    std::string extra;
    words >> proto_opt >> vip >> r_opt >> rip >> w_opt >> weight;
    const std::string where = name + ":" + std::to_string(lineno) + ": ";
    if (kw != "quiesced" || (proto_opt != "-t" && proto_opt != "-u") || r_opt != "-r" ||
        w_opt != "-w" || weight.empty() || (words >> extra)) {
      std::string w = where;
      w += "ignoring unreadable line '";
      w += line;
      w += "'";
      warnings.push_back(std::move(w));
      continue;
    }
    try {
      Remembered r;
      const sockvs::Endpoint v = sockvs::parse_endpoint(vip);
      const sockvs::Endpoint d = sockvs::parse_endpoint(rip);
      unsigned long w = 0;
      auto [p, ec] = std::from_chars(weight.data(), weight.data() + weight.size(), w);
      if (!v.port || !d.port || ec != std::errc() || p != weight.data() + weight.size() || w == 0 ||
          w > 65535 || v.addr.family() != d.addr.family()) {
        throw std::invalid_argument("bad address, port or weight");
      }
      r.id.svc = sockvs::ServiceKey{
          static_cast<std::uint16_t>(proto_opt == "-t" ? IPPROTO_TCP : IPPROTO_UDP), v.addr,
          *v.port};
      r.id.addr = d.addr;
      r.id.port = *d.port;
      r.weight = static_cast<std::uint32_t>(w);
      state[r.id.name()] = r;
    } catch (const std::invalid_argument& e) {
      std::string w = where;
      w += "ignoring line '";
      w += line;
      w += "': ";
      w += e.what();
      warnings.push_back(std::move(w));
    }
  }
  return state;
}

std::string format_state(const StateMap& state) {
  std::string out = "# sockvs-healthd: real servers it quiesced and the weight each had\n";
  for (const auto& [key, r] : state) {
    out += "quiesced ";
    out += r.id.svc.protocol == IPPROTO_UDP ? "-u " : "-t ";
    out += sockvs::format_endpoint(r.id.svc.addr, r.id.svc.port);
    out += " -r " + sockvs::format_endpoint(r.id.addr, r.id.port);
    out += " -w " + std::to_string(r.weight) + "\n";
  }
  return out;
}

StateMap load_state(const std::string& path, std::vector<std::string>& warnings) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return {};
    }
    throw sys_error("cannot read state file " + path, errno);
  }
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("cannot read state file " + path);
  }
  return parse_state(in, path, warnings);
}

void save_state(const std::string& path, const StateMap& state) {
  const auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      throw sys_error("cannot create " + dir, errno);
    }
  }
  const std::string tmp = path + ".tmp";
  const std::string text = format_state(state);
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
      throw sys_error("cannot write " + tmp, errno);
    }
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        throw sys_error("cannot write " + tmp, errno);
      }
      done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0 || fd.close() != 0) {
      throw sys_error("cannot write " + tmp, errno);
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    throw sys_error("cannot rename " + tmp + " to " + path, errno);
  }
}

}  // namespace healthd
