#include "etcd.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

namespace agent::etcd {

namespace {

using Json = nlohmann::json;

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// gRPC status codes the agent acts on.
constexpr int kGrpcDeadlineExceeded = 4;
constexpr int kGrpcUnavailable = 14;
// A watch response of 5,000 changes is a few MiB; more than this on one
// line is not the gateway.
constexpr std::size_t kMaxLine = 256UL * 1024 * 1024;

[[noreturn]] void protocol(const std::string& what) {
  throw StoreError(StoreError::Kind::kProtocol, 0, what);
}

Json parse(std::string_view text) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    std::string shown(text.substr(0, 200));
    protocol(std::string("unreadable answer (") + e.what() + "): " + shown);
  }
}

// {"error": "etcdserver: ...", "code": 11} (unary calls), or in a stream
// {"error": {"grpc_code": 14, "http_code": 503, "message": "..."}}.
void throw_if_error(const Json& j) {
  if (!j.is_object()) {
    protocol("answer is not a JSON object: " + j.dump().substr(0, 200));
  }
  const auto it = j.find("error");
  if (it == j.end()) {
    return;
  }
  int code = 0;
  std::string message;
  if (it->is_string()) {
    message = it->get<std::string>();
    if (const auto c = j.find("code"); c != j.end() && c->is_number_integer()) {
      code = c->get<int>();
    }
  } else if (it->is_object()) {
    message = it->value("message", std::string("error"));
    code = it->value("grpc_code", 0);
  } else {
    message = it->dump();
  }
  throw StoreError(StoreError::Kind::kServer, code, message);
}

// A 64-bit integer as the gateway writes it: a string, or a number.
std::int64_t i64(const Json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return 0;
  }
  if (it->is_number_integer()) {
    return it->get<std::int64_t>();
  }
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    std::int64_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) {
      return v;
    }
  }
  protocol(std::string("field '") + key + "' is not an integer: " + it->dump());
}

std::uint64_t u64(const Json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return 0;
  }
  if (it->is_number_unsigned()) {
    return it->get<std::uint64_t>();
  }
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    std::uint64_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) {
      return v;
    }
  }
  return static_cast<std::uint64_t>(i64(j, key));
}

Header header_of(const Json& j) {
  Header h;
  const auto it = j.find("header");
  if (it == j.end() || !it->is_object()) {
    return h;
  }
  h.revision = i64(*it, "revision");
  h.member_id = u64(*it, "member_id");
  h.raft_term = u64(*it, "raft_term");
  return h;
}

std::string b64_field(const Json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return {};
  }
  if (!it->is_string()) {
    protocol(std::string("field '") + key + "' is not a string");
  }
  return b64decode(it->get_ref<const std::string&>());
}

KeyValue kv_of(const Json& j) {
  if (!j.is_object()) {
    protocol("a key-value is not an object");
  }
  KeyValue kv;
  kv.key = b64_field(j, "key");
  kv.value = b64_field(j, "value");
  kv.create_revision = i64(j, "create_revision");
  kv.mod_revision = i64(j, "mod_revision");
  kv.version = i64(j, "version");
  kv.lease = i64(j, "lease");
  return kv;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { (void)curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Deleters for libcurl's handles.
struct EasyDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct MultiDeleter {
  void operator()(CURLM* h) const noexcept { (void)curl_multi_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;
using Multi = std::unique_ptr<CURLM, MultiDeleter>;
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

Slist json_headers() {
  curl_slist* l = curl_slist_append(nullptr, "Content-Type: application/json");
  // No "Expect: 100-continue" round trip for larger bodies.
  l = curl_slist_append(l, "Expect:");
  return Slist(l);
}

}  // namespace

std::string b64encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const auto n = (static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16U) |
                   (static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8U) |
                   static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 2]));
    out += kB64[(n >> 18U) & 63U];
    out += kB64[(n >> 12U) & 63U];
    out += kB64[(n >> 6U) & 63U];
    out += kB64[n & 63U];
  }
  if (i + 1 == data.size()) {
    const auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16U;
    out += kB64[(n >> 18U) & 63U];
    out += kB64[(n >> 12U) & 63U];
    out += "==";
  } else if (i + 2 == data.size()) {
    const auto n = (static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16U) |
                   (static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8U);
    out += kB64[(n >> 18U) & 63U];
    out += kB64[(n >> 12U) & 63U];
    out += kB64[(n >> 6U) & 63U];
    out += '=';
  }
  return out;
}

std::string b64decode(std::string_view text) {
  std::array<int, 256> rev{};
  rev.fill(-1);
  for (std::size_t i = 0; i < kB64.size(); ++i) {
    rev[static_cast<unsigned char>(kB64[i])] = static_cast<int>(i);
  }
  // The URL-safe alphabet too (grpc-gateway reads both).
  rev['-'] = 62;
  rev['_'] = 63;
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t pad = 0;
  for (const char c : text) {
    if (c == '=') {
      ++pad;
      continue;
    }
    const int v = rev[static_cast<unsigned char>(c)];
    if (v < 0 || pad > 0) {
      protocol("malformed base64");
    }
    acc = (acc << 6U) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> static_cast<unsigned>(bits)) & 0xffU);
    }
  }
  if (pad > 2 || bits >= 6) {
    protocol("malformed base64");
  }
  return out;
}

StoreError::StoreError(Kind kind, int code, const std::string& message)
    : std::runtime_error(message), kind_(kind), code_(code) {}

bool StoreError::compacted() const noexcept {
  return std::string_view(what()).find("compacted") != std::string_view::npos;
}

bool StoreError::retry_elsewhere() const noexcept {
  if (kind_ != Kind::kServer) {
    return true;
  }
  const std::string_view msg(what());
  return code_ == kGrpcUnavailable || code_ == kGrpcDeadlineExceeded ||
         msg.find("no leader") != std::string_view::npos ||
         msg.find("timed out") != std::string_view::npos ||
         msg.find("not capable") != std::string_view::npos;
}

std::string range_body(const RangeRequest& req) {
  Json j;
  j["key"] = b64encode(req.key);
  if (!req.range_end.empty()) {
    j["range_end"] = b64encode(req.range_end);
  }
  if (req.limit > 0) {
    j["limit"] = std::to_string(req.limit);
  }
  if (req.revision > 0) {
    j["revision"] = std::to_string(req.revision);
  }
  if (req.serializable) {
    j["serializable"] = true;
  }
  if (req.keys_only) {
    j["keys_only"] = true;
  }
  if (req.count_only) {
    j["count_only"] = true;
  }
  return j.dump();
}

std::string put_body(std::string_view key, std::string_view value, std::int64_t lease) {
  Json j;
  j["key"] = b64encode(key);
  j["value"] = b64encode(value);
  if (lease != 0) {
    j["lease"] = std::to_string(lease);
  }
  return j.dump();
}

std::string watch_body(std::string_view key, std::string_view range_end,
                       std::int64_t start_revision, bool progress_notify) {
  Json c;
  c["key"] = b64encode(key);
  if (!range_end.empty()) {
    c["range_end"] = b64encode(range_end);
  }
  if (start_revision > 0) {
    c["start_revision"] = std::to_string(start_revision);
  }
  if (progress_notify) {
    c["progress_notify"] = true;
  }
  Json j;
  j["create_request"] = std::move(c);
  return j.dump();
}

std::string lease_grant_body(std::int64_t ttl) {
  Json j;
  j["TTL"] = std::to_string(ttl);
  return j.dump();
}

std::string lease_id_body(std::int64_t id) {
  Json j;
  j["ID"] = std::to_string(id);
  return j.dump();
}

RangeResponse parse_range(std::string_view body) {
  const Json j = parse(body);
  throw_if_error(j);
  RangeResponse r;
  r.header = header_of(j);
  if (const auto it = j.find("kvs"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) {
      protocol("'kvs' is not an array");
    }
    r.kvs.reserve(it->size());
    for (const auto& kv : *it) {
      r.kvs.push_back(kv_of(kv));
    }
  }
  r.more = j.value("more", false);
  r.count = i64(j, "count");
  return r;
}

Header parse_put(std::string_view body) {
  const Json j = parse(body);
  throw_if_error(j);
  return header_of(j);
}

WatchResponse parse_watch_line(std::string_view line) {
  const Json j = parse(line);
  throw_if_error(j);
  const auto res = j.find("result");
  if (res == j.end() || !res->is_object()) {
    protocol("a watch line without 'result': " + std::string(line.substr(0, 200)));
  }
  WatchResponse w;
  w.header = header_of(*res);
  w.watch_id = i64(*res, "watch_id");
  w.created = res->value("created", false);
  w.canceled = res->value("canceled", false);
  w.compact_revision = i64(*res, "compact_revision");
  w.cancel_reason = res->value("cancel_reason", std::string());
  if (const auto ev = res->find("events"); ev != res->end() && !ev->is_null()) {
    if (!ev->is_array()) {
      protocol("'events' is not an array");
    }
    for (const auto& e : *ev) {
      Event out;
      // PUT is the enum's 0, which the gateway leaves out.
      const auto type = e.find("type");
      if (type != e.end() && type->is_string()) {
        const auto& t = type->get_ref<const std::string&>();
        if (t == "DELETE") {
          out.is_delete = true;
        } else if (t != "PUT") {
          protocol("unknown event type '" + t + "'");
        }
      } else if (type != e.end() && type->is_number_integer()) {
        out.is_delete = type->get<int>() == 1;
      }
      const auto kv = e.find("kv");
      if (kv == e.end()) {
        protocol("an event without 'kv'");
      }
      out.kv = kv_of(*kv);
      w.events.push_back(std::move(out));
    }
  }
  return w;
}

Lease parse_lease_grant(std::string_view body) {
  const Json j = parse(body);
  throw_if_error(j);
  if (const auto e = j.find("error"); e != j.end()) {
    protocol("lease grant failed");
  }
  Lease l;
  l.id = i64(j, "ID");
  l.ttl = i64(j, "TTL");
  if (l.id == 0) {
    protocol("lease grant without an ID: " + std::string(body.substr(0, 200)));
  }
  return l;
}

Lease parse_keepalive(std::string_view body) {
  // The first line is the answer; the stream ends when our request does.
  const auto nl = body.find('\n');
  const Json j = parse(body.substr(0, nl));
  throw_if_error(j);
  const auto res = j.find("result");
  if (res == j.end() || !res->is_object()) {
    protocol("a keepalive answer without 'result': " + std::string(body.substr(0, 200)));
  }
  Lease l;
  l.id = i64(*res, "ID");
  l.ttl = i64(*res, "TTL");
  return l;
}

void parse_revoke(std::string_view body) { throw_if_error(parse(body)); }

// --- HttpClient ---------------------------------------------------------------------

struct HttpClient::Impl {
  Easy easy;
  Slist headers = json_headers();
};

namespace {

std::size_t append_cb(char* data, std::size_t size, std::size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * n > kMaxLine) {
    return 0;  // aborts the transfer
  }
  out->append(data, size * n);
  return size * n;
}

}  // namespace

HttpClient::HttpClient() : impl_(std::make_unique<Impl>()) {
  global_init();
  impl_->easy.reset(curl_easy_init());
  if (!impl_->easy) {
    throw StoreError(StoreError::Kind::kTransport, 0, "curl_easy_init failed");
  }
}

HttpClient::~HttpClient() = default;

std::string HttpClient::post(const std::string& url, const std::string& body, milliseconds timeout,
                             milliseconds connect_timeout) {
  CURL* h = impl_->easy.get();
  std::string out;
  std::array<char, CURL_ERROR_SIZE> err{};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, impl_->headers.get());
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_cb);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err.data());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  const CURLcode rc = curl_easy_perform(h);
  // Nothing of this call's stack stays in the handle.
  curl_easy_setopt(h, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, nullptr);
  if (rc != CURLE_OK) {
    const std::string detail = err[0] != '\0' ? std::string(err.data()) : curl_easy_strerror(rc);
    throw StoreError(StoreError::Kind::kTransport, 0, url + ": " + detail);
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 300 && (out.empty() || out.front() != '{')) {
    throw StoreError(StoreError::Kind::kProtocol, 0,
                     url + ": HTTP " + std::to_string(status) + ": " + out.substr(0, 200));
  }
  return out;
}

// --- WatchStream --------------------------------------------------------------------

struct WatchStream::Impl {
  Multi multi;
  Easy easy;
  Slist headers = json_headers();
  std::string buf;
  std::array<char, CURL_ERROR_SIZE> err{};
  Data data;
  bool attached = false;

  static std::size_t write_cb(char* p, std::size_t size, std::size_t n, void* user) {
    auto* self = static_cast<Impl*>(user);
    self->buf.append(p, size * n);
    std::size_t start = 0;
    for (;;) {
      const auto nl = self->buf.find('\n', start);
      if (nl == std::string::npos) {
        break;
      }
      if (nl > start) {
        self->data.lines.emplace_back(self->buf, start, nl - start);
      }
      start = nl + 1;
    }
    self->buf.erase(0, start);
    if (self->buf.size() > kMaxLine) {
      return 0;
    }
    return size * n;
  }

  void detach() {
    if (attached) {
      (void)curl_multi_remove_handle(multi.get(), easy.get());
      attached = false;
    }
    easy.reset();
    buf.clear();
  }

  void collect() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi.get(), &left)) {
      if (m->msg != CURLMSG_DONE) {
        continue;
      }
      long status = 0;
      curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      data.ended = true;
      if (m->data.result != CURLE_OK) {
        data.error = err[0] != '\0' ? std::string(err.data()) : curl_easy_strerror(m->data.result);
      } else {
        data.error = "the member closed the stream (HTTP " + std::to_string(status) + ")";
      }
      if (!buf.empty()) {
        data.lines.push_back(std::move(buf));
        buf.clear();
      }
      detach();
      break;
    }
  }
};

WatchStream::WatchStream() : impl_(std::make_unique<Impl>()) {
  global_init();
  impl_->multi.reset(curl_multi_init());
  if (!impl_->multi) {
    throw StoreError(StoreError::Kind::kTransport, 0, "curl_multi_init failed");
  }
}

WatchStream::~WatchStream() { impl_->detach(); }

void WatchStream::open(const std::string& url, const std::string& body,
                       milliseconds connect_timeout) {
  close();
  impl_->data = Data{};
  impl_->err.fill('\0');
  impl_->easy.reset(curl_easy_init());
  CURL* h = impl_->easy.get();
  if (h == nullptr) {
    throw StoreError(StoreError::Kind::kTransport, 0, "curl_easy_init failed");
  }
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, impl_->headers.get());
  curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Impl::write_cb);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, impl_.get());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, impl_->err.data());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  // A dead peer (host gone, no RST) is noticed by TCP keepalive; a stalled
  // member by the agent's watchdog.
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
  if (curl_multi_add_handle(impl_->multi.get(), h) != CURLM_OK) {
    impl_->easy.reset();
    throw StoreError(StoreError::Kind::kTransport, 0, "curl_multi_add_handle failed");
  }
  impl_->attached = true;
  int running = 0;
  (void)curl_multi_perform(impl_->multi.get(), &running);
  impl_->collect();
}

void WatchStream::close() { impl_->detach(); }

bool WatchStream::active() const noexcept { return impl_->attached; }

bool WatchStream::wait(milliseconds timeout, int extra_fd) {
  curl_waitfd extra{};
  extra.fd = extra_fd;
  extra.events = CURL_WAIT_POLLIN;
  int numfds = 0;
  const int ms = static_cast<int>(std::max<std::int64_t>(0, timeout.count()));
  (void)curl_multi_poll(impl_->multi.get(), extra_fd >= 0 ? &extra : nullptr,
                        extra_fd >= 0 ? 1U : 0U, ms, &numfds);
  if (impl_->attached) {
    int running = 0;
    (void)curl_multi_perform(impl_->multi.get(), &running);
    impl_->collect();
  }
  return extra_fd >= 0 && (extra.revents & CURL_WAIT_POLLIN) != 0;
}

WatchStream::Data WatchStream::take() { return std::exchange(impl_->data, Data{}); }

}  // namespace agent::etcd
