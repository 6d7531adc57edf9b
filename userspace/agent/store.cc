#include "store.h"

#include <stdexcept>
#include <utility>

namespace agent {

std::vector<std::string> parse_endpoints(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto comma = list.find(',', start);
    std::string ep =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? list.size() + 1 : comma + 1;
    while (!ep.empty() && (ep.back() == '/' || ep.back() == ' ')) {
      ep.pop_back();
    }
    while (!ep.empty() && ep.front() == ' ') {
      ep.erase(0, 1);
    }
    if (ep.empty()) {
      continue;
    }
    if (ep.starts_with("https://")) {
      throw std::invalid_argument("endpoint " + ep +
                                  ": https is not supported (use the members' http client URLs)");
    }
    if (!ep.starts_with("http://")) {
      if (ep.find("://") != std::string::npos) {
        throw std::invalid_argument("endpoint " + ep + ": only http:// URLs");
      }
      ep.insert(0, "http://");
    }
    out.push_back(std::move(ep));
  }
  if (out.empty()) {
    throw std::invalid_argument("no store endpoint given (--endpoints http://HOST:2379,...)");
  }
  return out;
}

EtcdStore::EtcdStore(std::vector<std::string> endpoints, StoreTimeouts timeouts)
    : endpoints_(std::move(endpoints)), timeouts_(timeouts) {
  if (endpoints_.empty()) {
    throw std::invalid_argument("no store endpoint");
  }
}

std::string EtcdStore::call(std::size_t member, const std::string& path, const std::string& body) {
  return http_.post(endpoints_.at(member) + path, body, timeouts_.request, timeouts_.connect);
}

etcd::RangeResponse EtcdStore::range(std::size_t member, const etcd::RangeRequest& req) {
  return etcd::parse_range(call(member, "/v3/kv/range", etcd::range_body(req)));
}

void EtcdStore::watch(std::size_t member, const std::string& key, const std::string& range_end,
                      std::int64_t start_revision) {
  stream_.open(endpoints_.at(member) + "/v3/watch",
               etcd::watch_body(key, range_end, start_revision, true), timeouts_.connect);
}

WatchPoll EtcdStore::poll(std::chrono::milliseconds timeout, int fd) {
  WatchPoll out;
  out.fd_ready = stream_.wait(timeout, fd);
  auto data = stream_.take();
  for (const auto& line : data.lines) {
    try {
      out.responses.push_back(etcd::parse_watch_line(line));
    } catch (const etcd::StoreError& e) {
      // An error line ends the stream (the gateway closes it after one).
      out.error = e.what();
      out.ended = true;
      stream_.close();
      return out;
    }
  }
  out.ended = data.ended;
  if (data.ended) {
    out.error = data.error;
  }
  return out;
}

}  // namespace agent
