// etcd v3 through its JSON gateway (grpc-gateway, on the client port of
// every member since 3.3; Debian 12 has 3.4): POST /v3/kv/range,
// /v3/kv/put, /v3/watch (a stream of {"result": ...} lines),
// /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke.  Keys and values
// are base64, 64-bit integers strings.  No gRPC code generation: libcurl
// and nlohmann-json.
//
// The request builders and response parsers are pure functions (tested
// on the host); HttpClient and WatchStream do the I/O with libcurl.
#ifndef SOCKVS_AGENT_ETCD_H_
#define SOCKVS_AGENT_ETCD_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace agent::etcd {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string b64encode(std::string_view data);
// Throws StoreError (kProtocol) on malformed input.
std::string b64decode(std::string_view text);

// A failure to talk to the store.
class StoreError : public std::runtime_error {
 public:
  enum class Kind : std::uint8_t {
    kTransport,  // no answer: refused, reset, timed out, closed
    kServer,     // the member answered with an error (gRPC code, message)
    kProtocol,   // an answer that is not what the gateway sends
  };
  StoreError(Kind kind, int code, const std::string& message);

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  [[nodiscard]] int code() const noexcept { return code_; }  // gRPC code (kServer)
  // The revision asked for was compacted away: list again.
  [[nodiscard]] bool compacted() const noexcept;
  // Another member may do better: no answer, no leader, unavailable,
  // deadline exceeded, timed out.
  [[nodiscard]] bool retry_elsewhere() const noexcept;

 private:
  Kind kind_;
  int code_;
};

struct Header {
  std::int64_t revision = 0;
  std::uint64_t member_id = 0;
  std::uint64_t raft_term = 0;
};

struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0;
};

struct RangeRequest {
  std::string key;
  std::string range_end;      // empty: only `key`
  std::int64_t limit = 0;     // 0: no limit
  std::int64_t revision = 0;  // 0: the newest
  bool serializable = false;  // false: linearizable (through the leader's read index)
  bool keys_only = false;
  bool count_only = false;
};

struct RangeResponse {
  Header header;
  std::vector<KeyValue> kvs;
  bool more = false;
  std::int64_t count = 0;
};

struct Event {
  bool is_delete = false;
  KeyValue kv;
};

struct WatchResponse {
  Header header;
  std::int64_t watch_id = 0;
  bool created = false;
  bool canceled = false;
  std::int64_t compact_revision = 0;  // canceled: the watch's start was compacted
  std::string cancel_reason;
  std::vector<Event> events;

  // A progress notification: only a header (the watch has seen every
  // change up to header.revision).
  [[nodiscard]] bool progress() const noexcept {
    return !created && !canceled && events.empty() && compact_revision == 0;
  }
};

struct Lease {
  std::int64_t id = 0;
  std::int64_t ttl = 0;  // seconds; keepalive: <= 0 when the lease is gone
};

// Request bodies.
std::string range_body(const RangeRequest& req);
std::string put_body(std::string_view key, std::string_view value, std::int64_t lease = 0);
std::string watch_body(std::string_view key, std::string_view range_end,
                       std::int64_t start_revision, bool progress_notify);
std::string lease_grant_body(std::int64_t ttl);
std::string lease_id_body(std::int64_t id);

// Response parsers: each throws StoreError (kServer) for an error reply
// ({"error": "...", "code": N}, or in a stream {"error": {"grpc_code": N,
// "message": "..."}}) and StoreError (kProtocol) for anything unreadable.
RangeResponse parse_range(std::string_view body);
Header parse_put(std::string_view body);
// One line of the watch stream.
WatchResponse parse_watch_line(std::string_view line);
Lease parse_lease_grant(std::string_view body);
// The keepalive stream's first line: {"result": {"ID": ..., "TTL": ...}}.
Lease parse_keepalive(std::string_view body);
void parse_revoke(std::string_view body);

// Blocking POSTs with libcurl; one handle, its connections kept alive.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&&) = delete;
  HttpClient& operator=(HttpClient&&) = delete;

  // The body of the answer to a POST of `body` (JSON) to `url`.  Throws
  // StoreError (kTransport) when no complete answer came within `timeout`.
  std::string post(const std::string& url, const std::string& body, milliseconds timeout,
                   milliseconds connect_timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One streaming POST (the watch), read without blocking: wait() polls its
// socket (and one more descriptor of the caller's) with curl_multi_poll.
class WatchStream {
 public:
  WatchStream();
  ~WatchStream();
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;
  WatchStream(WatchStream&&) = delete;
  WatchStream& operator=(WatchStream&&) = delete;

  // Starts it (a running one is closed first).
  void open(const std::string& url, const std::string& body, milliseconds connect_timeout);
  void close();
  [[nodiscard]] bool active() const noexcept;

  // Waits up to `timeout` for data on the stream or for `extra_fd` (-1:
  // none) to be readable.  True if extra_fd is readable.
  bool wait(milliseconds timeout, int extra_fd);

  struct Data {
    std::vector<std::string> lines;  // complete lines received, in order
    bool ended = false;              // the stream is over (see error)
    std::string error;
  };
  // What arrived since the last call.
  Data take();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace agent::etcd

#endif  // SOCKVS_AGENT_ETCD_H_
