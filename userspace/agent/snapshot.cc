#include "snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fd.h"
#include "json.h"

namespace agent {

namespace {

using Json = nlohmann::json;
constexpr int kSnapshotVersion = 1;

std::runtime_error sys_error(const std::string& what, int err) {
  return std::runtime_error(what + ": " + std::strerror(err));
}

}  // namespace

std::string format_snapshot(const Snapshot& snap) {
  std::vector<sockvsadm::ServiceEntry> entries;
  Json names = Json::array();
  for (const auto& [name, entry] : snap.services) {
    names.push_back(name);
    entries.push_back(entry);
  }
  Json head;
  head["version"] = kSnapshotVersion;
  head["cell"] = snap.cell;
  head["revision"] = snap.revision;
  head["names"] = std::move(names);
  // The table as -S --json writes it, spliced in as text: parsing it back
  // into a Json and dumping it again was most of the agent's CPU per change
  // at 1,000 services (bench/results/6.1.0-57-amd64-agent-perf-latency.txt).
  std::string out = head.dump(1);  // "{\n \"cell\": ...\n}"
  out.pop_back();
  out += ",\n \"table\": ";
  out += sockvsadm::format_json(entries, sockvsadm::JsonView{});
  out += "}\n";
  return out;
}

Snapshot parse_snapshot(std::string_view text) {
  Json root;
  try {
    root = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    throw SnapshotError(std::string("not JSON: ") + e.what());
  }
  try {
    if (!root.is_object() || root.value("version", 0) != kSnapshotVersion) {
      throw SnapshotError("not a version " + std::to_string(kSnapshotVersion) + " snapshot");
    }
    Snapshot snap;
    snap.cell = root.at("cell").get<std::string>();
    snap.revision = root.at("revision").get<std::int64_t>();
    const auto names = root.at("names").get<std::vector<std::string>>();
    auto entries = sockvsadm::parse_json(root.at("table").dump());
    if (names.size() != entries.size()) {
      throw SnapshotError("names and table disagree: " + std::to_string(names.size()) + " names, " +
                          std::to_string(entries.size()) + " services");
    }
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!snap.services.emplace(names[i], std::move(entries[i])).second) {
        throw SnapshotError("service '" + names[i] + "' is given twice");
      }
    }
    return snap;
  } catch (const Json::exception& e) {
    throw SnapshotError(e.what());
  } catch (const sockvsadm::JsonError& e) {
    throw SnapshotError(e.what());
  }
}

void write_file_atomic(const std::string& path, std::string_view text, bool durable) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  if (slash != std::string::npos && slash > 0 && ::mkdir(dir.c_str(), 0755) != 0 &&
      errno != EEXIST) {
    throw sys_error("cannot create " + dir, errno);
  }
  const std::string tmp = path + ".tmp";
  {
    healthd::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
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
    if ((durable && ::fsync(fd.get()) != 0) || fd.close() != 0) {
      throw sys_error("cannot write " + tmp, errno);
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    throw sys_error("cannot rename " + tmp + " to " + path, errno);
  }
  if (durable) {
    // The rename itself reaches the disk with the directory.
    const healthd::Fd dfd(
        ::open(slash == 0 ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd.get() >= 0) {
      (void)::fsync(dfd.get());
    }
  }
}

std::optional<Snapshot> load_snapshot(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw SnapshotError("cannot read " + path + ": " + std::strerror(errno));
  }
  std::ifstream in(path);
  if (!in) {
    throw SnapshotError("cannot read " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return parse_snapshot(text.str());
  } catch (const SnapshotError& e) {
    throw SnapshotError(path + ": " + e.what());
  }
}

void save_snapshot(const std::string& path, const Snapshot& snap) {
  write_file_atomic(path, format_snapshot(snap));
}

}  // namespace agent
