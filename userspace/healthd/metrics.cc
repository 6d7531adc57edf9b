#include "metrics.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>
#include <utility>

namespace healthd {

namespace {

std::string proto_label(std::uint16_t protocol) { return protocol == IPPROTO_UDP ? "udp" : "tcp"; }

struct Family {
  const char* type = nullptr;
  const char* help = nullptr;
  std::vector<std::string> samples;  // "{labels} value"
};

class Families {
 public:
  void add(const std::string& name, const char* type, const char* help, const std::string& labels,
           const std::string& value) {
    auto [it, fresh] = by_name_.try_emplace(name);
    if (fresh) {
      order_.push_back(name);
      it->second.type = type;
      it->second.help = help;
    }
    it->second.samples.push_back(labels + " " + value);
  }

  [[nodiscard]] std::string text() const {
    std::string out;
    for (const auto& name : order_) {
      const Family& f = by_name_.at(name);
      out += "# HELP " + name + " " + f.help + "\n";
      out += "# TYPE " + name + " " + f.type + "\n";
      for (const auto& s : f.samples) {
        out += name + s + "\n";
      }
    }
    return out;
  }

 private:
  std::vector<std::string> order_;
  std::map<std::string, Family> by_name_;
};

std::string svc_labels(const sockvs::ServiceKey& k) {
  return "proto=\"" + proto_label(k.protocol) + "\",local_address=\"" +
         label_escape(k.addr.to_string()) + "\",local_port=\"" + std::to_string(k.port) + "\"";
}

std::string dest_labels(const sockvs::ServiceKey& k, const sockvs::Address& a, std::uint16_t p) {
  return svc_labels(k) + ",remote_address=\"" + label_escape(a.to_string()) + "\",remote_port=\"" +
         std::to_string(p) + "\"";
}

std::string seconds(std::chrono::microseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6f", static_cast<double>(d.count()) / 1e6);
  return buf;
}

}  // namespace

std::string label_escape(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_metrics(const MetricsInput& in) {
  Families f;
  f.add("sockvs_module_up", "gauge", "Whether sockvs-healthd could read the sock_vs module.", "",
        in.module ? "1" : "0");
  if (in.module) {
    for (const auto& [svc, dests] : *in.module) {
      const std::string l = "{" + svc_labels(svc.key()) + "}";
      f.add("sockvs_service_connections_total", "counter",
            "Connects to the virtual service scheduled to a real server.", l,
            std::to_string(svc.stats.conns));
      f.add("sockvs_service_refused_total", "counter",
            "Connects to the virtual service refused: no usable real server.", l,
            std::to_string(svc.stats.refused));
      f.add("sockvs_service_untracked_total", "counter",
            "Balanced sockets the module could not record (missing from the active and "
            "inactive counts).",
            l, std::to_string(svc.stats.untracked));
      f.add("sockvs_service_killed_total", "counter",
            "Balanced sockets of the service terminated (--terminate, -K).", l,
            std::to_string(svc.stats.killed));
      f.add("sockvs_service_ejections_total", "counter",
            "Ejections of the virtual service's real servers by passive health (--eject).", l,
            std::to_string(svc.stats.ejected));
      f.add("sockvs_service_failed_connects_total", "counter",
            "Balanced TCP connects of the virtual service that failed before the handshake "
            "completed (counted while --eject is on).",
            l, std::to_string(svc.stats.failed));
      f.add("sockvs_service_real_servers", "gauge", "Real servers of the virtual service.", l,
            std::to_string(dests.size()));
      for (const auto& d : dests) {
        const std::string dl = "{" + dest_labels(svc.key(), d.addr, d.port) + "}";
        f.add("sockvs_real_server_connections_total", "counter",
              "Connects scheduled to the real server.", dl, std::to_string(d.stats.conns));
        f.add("sockvs_real_server_killed_total", "counter",
              "Balanced sockets of the real server terminated.", dl,
              std::to_string(d.stats.killed));
        f.add("sockvs_real_server_active_connections", "gauge",
              "Open balanced connections of the real server (ActiveConn).", dl,
              std::to_string(d.active_conns));
        f.add("sockvs_real_server_inactive_connections", "gauge",
              "Balanced sockets of the real server not established (InActConn).", dl,
              std::to_string(d.inact_conns));
        f.add("sockvs_real_server_weight", "gauge", "Weight of the real server (0: quiesced).", dl,
              std::to_string(d.weight));
        f.add("sockvs_real_server_overloaded", "gauge",
              "Whether the real server is over its upper connection threshold.", dl,
              d.overloaded ? "1" : "0");
        f.add("sockvs_real_server_ejections_total", "counter",
              "Ejections of the real server by passive health (--eject).", dl,
              std::to_string(d.stats.ejected));
        f.add("sockvs_real_server_failed_connects_total", "counter",
              "Balanced TCP connects to the real server that failed before the handshake "
              "completed (counted while --eject is on).",
              dl, std::to_string(d.stats.failed));
        f.add("sockvs_real_server_ejected", "gauge",
              "Whether passive health holds the real server out (ejected or probing).", dl,
              d.ejected == sockvs::EjectState::kNone ? "0" : "1");
        f.add("sockvs_real_server_ejection_remaining_seconds", "gauge",
              "Seconds until a probe may readmit the ejected real server.", dl,
              seconds(std::chrono::milliseconds(d.eject_left_ms)));
        f.add("sockvs_real_server_consecutive_failures", "gauge",
              "Failed connects to the real server in a row (passive health).", dl,
              std::to_string(d.fails));
      }
    }
  }
  for (const auto& t : in.targets) {
    const std::string labels = dest_labels(t.id.svc, t.id.addr, t.id.port);
    const std::string dl = "{" + labels + "}";
    f.add("sockvs_healthd_real_server_up", "gauge",
          "Health of the real server as sockvs-healthd sees it (1 up, 0 down).", dl,
          t.up ? "1" : "0");
    if (t.checked) {
      f.add("sockvs_healthd_check_duration_seconds", "gauge",
            "Duration of the last health check of the real server.", dl, seconds(t.last_duration));
      f.add("sockvs_healthd_check_success", "gauge",
            "Whether the last health check of the real server passed.", dl, t.last_ok ? "1" : "0");
    }
    f.add("sockvs_healthd_checks_total", "counter", "Health checks of the real server, by result.",
          "{" + labels + ",result=\"pass\"}", std::to_string(t.passed));
    f.add("sockvs_healthd_checks_total", "counter", "Health checks of the real server, by result.",
          "{" + labels + ",result=\"fail\"}", std::to_string(t.failed));
  }
  f.add("sockvs_healthd_lookup_failures_total", "counter",
        "Service lookups in the module that failed (no module, no such service, netlink).", "",
        std::to_string(in.lookup_failures));
  return f.text();
}

MetricsServer::MetricsServer(Loop& loop, const RealSpec& where, Render render, Logger& log)
    : loop_(loop), render_(std::move(render)), log_(log) {
  listener_.reset(::socket(where.addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (listener_.get() < 0) {
    throw std::runtime_error(std::string("metrics socket: ") + std::strerror(errno));
  }
  const int one = 1;
  (void)::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (where.addr.is_v4()) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(where.port);
    std::memcpy(&sin.sin_addr, where.addr.bytes().data(), 4);
    std::memcpy(&ss, &sin, sizeof(sin));
    len = sizeof(sin);
  } else {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(where.port);
    std::memcpy(&sin6.sin6_addr, where.addr.bytes().data(), 16);
    std::memcpy(&ss, &sin6, sizeof(sin6));
    len = sizeof(sin6);
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  if (::bind(listener_.get(), sa, len) != 0 || ::listen(listener_.get(), 16) != 0) {
    throw std::runtime_error("metrics-listen " + sockvs::format_endpoint(where.addr, where.port) +
                             ": " + std::strerror(errno));
  }
  (void)::getsockname(listener_.get(), sa, &len);
  port_ = ntohs(where.addr.is_v4() ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port      // NOLINT
                                   : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);  // NOLINT
  loop_.add(listener_.get(), EPOLLIN, [this](std::uint32_t) { accept_all(); });
}

MetricsServer::~MetricsServer() {
  for (auto& [fd, c] : conns_) {
    loop_.remove(fd);
  }
  loop_.remove(listener_.get());
}

void MetricsServer::accept_all() {
  for (int i = 0; i < 64; ++i) {
    const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      return;
    }
    if (conns_.size() >= 64) {
      ::close(fd);  // a scraper is not a crowd
      continue;
    }
    Conn c;
    c.fd.reset(fd);
    c.since = Clock::now();
    conns_.emplace(fd, std::move(c));
    try {
      loop_.add(fd, EPOLLIN, [this, fd](std::uint32_t ev) { on_conn(fd, ev); });
    } catch (const std::exception& e) {
      conns_.erase(fd);
      log_.log(Level::kError, std::string("/metrics: ") + e.what());
    }
  }
}

void MetricsServer::on_conn(int fd, std::uint32_t events) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) {
    return;
  }
  Conn& c = it->second;
  if (c.out.empty()) {
    char buf[2048];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0) {
        c.in.append(buf, static_cast<std::size_t>(n));
        if (c.in.size() > 16384) {
          close_conn(fd);
          return;
        }
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close_conn(fd);
        return;
      }
      break;
    }
    if (c.in.find("\r\n\r\n") == std::string::npos && c.in.find("\n\n") == std::string::npos) {
      return;  // the request is not complete yet
    }
    respond(c);
    loop_.modify(fd, EPOLLOUT);
  }
  (void)events;
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return;
    } else {
      break;
    }
  }
  close_conn(fd);
}

void MetricsServer::respond(Conn& c) {
  const auto eol = c.in.find_first_of("\r\n");
  const std::string line = c.in.substr(0, eol);
  std::string status = "200 OK";
  std::string type = "text/plain; version=0.0.4; charset=utf-8";
  std::string body;
  const bool head = line.starts_with("HEAD ");
  if (!line.starts_with("GET ") && !head) {
    status = "405 Method Not Allowed";
    type = "text/plain";
    body = "only GET\n";
  } else {
    std::string path = line.substr(head ? 5 : 4);
    path = path.substr(0, path.find(' '));
    path = path.substr(0, path.find('?'));
    if (path == "/metrics") {
      body = render_();
    } else if (path == "/") {
      type = "text/html";
      body = "<html><body><a href=\"/metrics\">/metrics</a></body></html>\n";
    } else {
      status = "404 Not Found";
      type = "text/plain";
      body = "not found: try /metrics\n";
    }
  }
  c.out = "HTTP/1.0 " + status + "\r\nContent-Type: " + type +
          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  if (!head) {
    c.out += body;
  }
}

void MetricsServer::close_conn(int fd) {
  loop_.remove(fd);
  conns_.erase(fd);
}

void MetricsServer::expire(Clock::time_point now) {
  std::vector<int> old;
  for (const auto& [fd, c] : conns_) {
    if (now - c.since > std::chrono::seconds(10)) {
      old.push_back(fd);
    }
  }
  for (const int fd : old) {
    close_conn(fd);
  }
}

}  // namespace healthd
