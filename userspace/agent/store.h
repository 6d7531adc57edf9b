// What the agent needs of the store, per member: a range read, a watch
// stream, a wait.  EtcdStore is etcd's JSON gateway (etcd.h); the unit
// tests have an in-memory one.
#ifndef SOCKVS_AGENT_STORE_H_
#define SOCKVS_AGENT_STORE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "etcd.h"

namespace agent {

struct StoreTimeouts {
  std::chrono::milliseconds request{5000};
  std::chrono::milliseconds connect{2000};
};

struct WatchPoll {
  std::vector<etcd::WatchResponse> responses;  // in order
  bool ended = false;                          // the stream is over
  std::string error;                           // why (ended, or a line was unreadable)
  bool fd_ready = false;                       // the caller's descriptor is readable
};

class Store {
 public:
  Store() = default;
  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  Store(Store&&) = delete;
  Store& operator=(Store&&) = delete;

  [[nodiscard]] virtual std::size_t size() const = 0;
  [[nodiscard]] virtual std::string endpoint(std::size_t member) const = 0;

  // Throws etcd::StoreError.
  virtual etcd::RangeResponse range(std::size_t member, const etcd::RangeRequest& req) = 0;

  // Starts the watch of [key, range_end) from `start_revision` on
  // `member`, with progress notifications; a running one is stopped.
  virtual void watch(std::size_t member, const std::string& key, const std::string& range_end,
                     std::int64_t start_revision) = 0;
  virtual void stop_watch() = 0;
  [[nodiscard]] virtual bool watching() const = 0;

  // Waits up to `timeout` for the watch (or `fd`, -1: none) and returns
  // what arrived.
  virtual WatchPoll poll(std::chrono::milliseconds timeout, int fd) = 0;
};

class EtcdStore final : public Store {
 public:
  // `endpoints`: "http://10.0.0.1:2379", ...  Throws std::invalid_argument
  // if there is none.
  EtcdStore(std::vector<std::string> endpoints, StoreTimeouts timeouts);

  [[nodiscard]] std::size_t size() const override { return endpoints_.size(); }
  [[nodiscard]] std::string endpoint(std::size_t member) const override {
    return endpoints_.at(member);
  }
  etcd::RangeResponse range(std::size_t member, const etcd::RangeRequest& req) override;
  void watch(std::size_t member, const std::string& key, const std::string& range_end,
             std::int64_t start_revision) override;
  void stop_watch() override { stream_.close(); }
  [[nodiscard]] bool watching() const override { return stream_.active(); }
  WatchPoll poll(std::chrono::milliseconds timeout, int fd) override;

  // Unary calls for the registrar: on `member`, throwing etcd::StoreError.
  std::string call(std::size_t member, const std::string& path, const std::string& body);

 private:
  std::vector<std::string> endpoints_;
  StoreTimeouts timeouts_;
  etcd::HttpClient http_;
  etcd::WatchStream stream_;
};

// "a,b,c" -> {"http://a", ...}: an endpoint without a scheme gets http://,
// trailing slashes go.  Throws std::invalid_argument for an empty list or
// an https:// endpoint (not supported).
std::vector<std::string> parse_endpoints(const std::string& list);

}  // namespace agent

#endif  // SOCKVS_AGENT_STORE_H_
