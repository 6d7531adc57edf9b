#include "config.h"

#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace healthd {

namespace {

// Splits a line into words; a '#' at the start of a word starts a comment.
std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  std::string word;
  while (in >> word) {
    if (word.front() == '#') {
      break;
    }
    words.push_back(word);
  }
  return words;
}

std::optional<unsigned> parse_uint(std::string_view text, unsigned lo, unsigned hi) noexcept {
  unsigned value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < lo || value > hi) {
    return std::nullopt;
  }
  return value;
}

class Parser {
 public:
  explicit Parser(std::string name) : name_(std::move(name)) {}

  Config run(std::istream& in) {
    std::string line;
    while (std::getline(in, line)) {
      ++lineno_;
      const auto words = split_words(line);
      if (!words.empty()) {
        line_ = line;
        statement(words);
      }
    }
    if (in.bad()) {
      throw ConfigError(name_ + ": read error");
    }
    if (cfg_.services.empty()) {
      throw ConfigError(name_ + ": no service to check (add a `service -t ADDR:PORT` line)");
    }
    for (const auto& svc : cfg_.services) {
      if ((svc.check.tls_verify || !svc.check.tls_sni.empty() || !svc.check.tls_ca.empty()) &&
          svc.check.type != CheckType::kTls && !svc.check.tls) {
        throw ConfigError(name_ + ":" + std::to_string(svc.line) +
                          ": tls-sni, tls-verify and tls-ca are for `check tls` and `check "
                          "https`, and this service's check is " +
                          describe(svc.check));
      }
      if (!svc.check.redis_password.empty() && svc.check.type != CheckType::kRedis) {
        throw ConfigError(name_ + ":" + std::to_string(svc.line) +
                          ": `auth` is for `check redis` only, and this service's check is " +
                          describe(svc.check));
      }
      if (svc.key.protocol == IPPROTO_UDP && !svc.check.port) {
        throw ConfigError(name_ + ":" + std::to_string(svc.line) +
                          ": UDP service needs `connect-port N`: every check is made over TCP");
      }
    }
    return std::move(cfg_);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw ConfigError(name_ + ":" + std::to_string(lineno_) + ": " + message);
  }

  void want_args(const std::vector<std::string>& w, std::size_t lo, std::size_t hi,
                 const char* usage) const {
    if (w.size() - 1 < lo || w.size() - 1 > hi) {
      fail("usage: " + std::string(usage));
    }
  }

  // The settings a line changes: the current service's, or the defaults
  // before the first service.
  ServiceConfig& target() { return cfg_.services.empty() ? defaults_ : cfg_.services.back(); }

  void statement(const std::vector<std::string>& w) {
    const std::string& kw = w[0];
    if (kw == "service") {
      service(w);
    } else if (kw == "state-file") {
      want_args(w, 1, 1, "state-file PATH");
      if (!cfg_.services.empty()) {
        fail("state-file must come before the first service");
      }
      if (w[1].front() != '/') {
        fail("state-file needs an absolute path, got '" + w[1] + "'");
      }
      cfg_.state_file = w[1];
    } else if (kw == "metrics-listen") {
      want_args(w, 1, 1, "metrics-listen ADDR:PORT");
      if (!cfg_.services.empty()) {
        fail("metrics-listen must come before the first service");
      }
      sockvs::Endpoint ep;
      try {
        ep = sockvs::parse_endpoint(w[1]);
      } catch (const std::invalid_argument& e) {
        fail(e.what());
      }
      if (!ep.port) {
        fail("metrics-listen address '" + w[1] + "' needs a port");
      }
      cfg_.metrics_listen = RealSpec{ep.addr, *ep.port};
    } else if (kw == "check") {
      check(w);
    } else if (kw == "interval" || kw == "timeout") {
      want_args(w, 1, 1, kw == "interval" ? "interval DURATION" : "timeout DURATION");
      auto d = parse_duration(w[1]);
      if (!d) {
        fail("bad " + kw + " '" + w[1] + "': want seconds (1, 0.5, 2s) or milliseconds (500ms), " +
             "more than 0 and at most 3600s");
      }
      (kw == "interval" ? target().interval : target().timeout) = *d;
    } else if (kw == "rise" || kw == "fall") {
      want_args(w, 1, 1, kw == "rise" ? "rise N" : "fall N");
      auto n = parse_uint(w[1], 1, kMaxCount);
      if (!n) {
        fail("bad " + kw + " '" + w[1] + "': want a number from 1 to " + std::to_string(kMaxCount));
      }
      (kw == "rise" ? target().rise : target().fall) = *n;
    } else if (kw == "connect-port") {
      want_args(w, 1, 1, "connect-port PORT");
      try {
        target().check.port = sockvs::parse_port(w[1]);
      } catch (const std::invalid_argument& e) {
        fail(e.what());
      }
    } else if (kw == "terminate-on-down") {
      want_args(w, 1, 1, "terminate-on-down yes|no");
      if (w[1] != "yes" && w[1] != "no") {
        fail("bad terminate-on-down '" + w[1] + "': want yes or no");
      }
      target().terminate_on_down = w[1] == "yes";
    } else if (kw == "min-up") {
      want_args(w, 1, 1, "min-up N");
      auto n = parse_uint(w[1], 0, kMaxCount);
      if (!n) {
        fail("bad min-up '" + w[1] + "': want a number from 0 to " + std::to_string(kMaxCount));
      }
      target().min_up = *n;
    } else if (kw == "auth") {
      want_args(w, 1, 2, "auth [USER] PASSWORD");
      target().check.redis_user = w.size() == 3 ? w[1] : "";
      target().check.redis_password = w.back();
    } else if (kw == "delay-before-retry") {
      want_args(w, 1, 1, "delay-before-retry DURATION");
      auto d = parse_duration(w[1]);
      if (!d) {
        fail("bad delay-before-retry '" + w[1] + "': want seconds (1, 0.5, 2s) or milliseconds " +
             "(500ms), more than 0 and at most 3600s");
      }
      target().delay_before_retry = *d;
    } else if (kw == "jitter") {
      want_args(w, 1, 1, "jitter DURATION|0");
      if (w[1] == "0") {
        target().jitter = Millis(0);
      } else if (auto d = parse_duration(w[1])) {
        target().jitter = *d;
      } else {
        fail("bad jitter '" + w[1] + "': want 0, seconds (1, 0.5, 2s) or milliseconds (500ms), " +
             "at most 3600s");
      }
    } else if (kw == "tls-sni") {
      want_args(w, 1, 1, "tls-sni NAME");
      target().check.tls_sni = w[1];
    } else if (kw == "tls-verify") {
      want_args(w, 1, 1, "tls-verify yes|no");
      if (w[1] != "yes" && w[1] != "no") {
        fail("bad tls-verify '" + w[1] + "': want yes or no");
      }
      target().check.tls_verify = w[1] == "yes";
    } else if (kw == "tls-ca") {
      want_args(w, 1, 1, "tls-ca FILE");
      if (w[1].front() != '/') {
        fail("tls-ca needs an absolute path, got '" + w[1] + "'");
      }
      target().check.tls_ca = w[1];
    } else if (kw == "real") {
      real(w);
    } else {
      fail("unknown keyword '" + kw +
           "' (known: state-file, service, real, check, interval, timeout, rise, fall, "
           "connect-port, terminate-on-down, min-up, auth, delay-before-retry, jitter, tls-sni, "
           "tls-verify, tls-ca, metrics-listen)");
    }
  }

  void service(const std::vector<std::string>& w) {
    want_args(w, 2, 2, "service -t|-u ADDR:PORT");
    ServiceConfig svc = defaults_;
    svc.line = lineno_;
    if (w[1] == "-t" || w[1] == "--tcp-service") {
      svc.key.protocol = IPPROTO_TCP;
    } else if (w[1] == "-u" || w[1] == "--udp-service") {
      svc.key.protocol = IPPROTO_UDP;
    } else {
      fail("usage: service -t|-u ADDR:PORT (got '" + w[1] + "')");
    }
    sockvs::Endpoint ep;
    try {
      ep = sockvs::parse_endpoint(w[2]);
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
    if (!ep.port) {
      fail("service address '" + w[2] + "' needs a port");
    }
    svc.key.addr = ep.addr;
    svc.key.port = *ep.port;
    for (const auto& other : cfg_.services) {
      if (other.key == svc.key) {
        fail("service " + service_name(svc.key) + " already defined at line " +
             std::to_string(other.line));
      }
    }
    cfg_.services.push_back(std::move(svc));
  }

  void real(const std::vector<std::string>& w) {
    want_args(w, 1, 1, "real ADDR:PORT");
    if (cfg_.services.empty()) {
      fail("`real` belongs to a service: put it after a `service` line");
    }
    ServiceConfig& svc = cfg_.services.back();
    sockvs::Endpoint ep;
    try {
      ep = sockvs::parse_endpoint(w[1]);
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
    if (!ep.port) {
      fail("real server address '" + w[1] + "' needs a port");
    }
    if (ep.addr.family() != svc.key.af()) {
      fail("real server " + w[1] + " is " + std::string(sockvs::family_name(ep.addr.family())) +
           " but service " + service_name(svc.key) + " is " +
           std::string(sockvs::family_name(svc.key.af())));
    }
    RealSpec r{ep.addr, *ep.port};
    if (std::find(svc.reals.begin(), svc.reals.end(), r) != svc.reals.end()) {
      fail("real server " + w[1] + " listed twice");
    }
    svc.reals.push_back(r);
  }

  void check(const std::vector<std::string>& w) {
    CheckSpec& c = target().check;
    const std::string& type = w.size() > 1 ? w[1] : std::string();
    if (type == "exec") {
      // The rest of the line as written, '#' included: a shell command.
      const auto at = line_.find("exec");
      std::string cmd = line_.substr(at + 4);
      const auto b = cmd.find_first_not_of(" \t");
      const auto e = cmd.find_last_not_of(" \t\r");
      cmd = b == std::string::npos ? "" : cmd.substr(b, e - b + 1);
      if (cmd.empty()) {
        fail("usage: check exec COMMAND");
      }
      c.type = CheckType::kExec;
      c.command = cmd;
      c.tls = false;
      return;
    }
    want_args(w, 1, 3,
              "check tcp | check redis | check tls | check http|https [PATH [STATUS]] | "
              "check exec COMMAND");
    if (type == "tcp" || type == "redis" || type == "tls") {
      if (w.size() > 2) {
        fail("check " + type + " takes no arguments");
      }
      c.type = type == "tcp"   ? CheckType::kTcp
               : type == "tls" ? CheckType::kTls
                               : CheckType::kRedis;
      c.tls = false;
      return;
    }
    if (type != "http" && type != "https") {
      fail("unknown check type '" + type + "' (known: tcp, redis, http, https, tls, exec)");
    }
    c.type = CheckType::kHttp;
    c.tls = type == "https";
    c.http_path = "/";
    c.http_status = 200;
    if (w.size() > 2) {
      if (w[2].front() != '/') {
        fail("HTTP path must start with '/', got '" + w[2] + "'");
      }
      c.http_path = w[2];
    }
    if (w.size() > 3) {
      auto st = parse_uint(w[3], 100, 599);
      if (!st) {
        fail("bad HTTP status '" + w[3] + "': want 100-599");
      }
      c.http_status = *st;
    }
  }

  std::string name_;
  std::string line_;  // the current line as written
  int lineno_ = 0;
  Config cfg_;
  ServiceConfig defaults_;
};

}  // namespace

std::optional<Millis> parse_duration(std::string_view text) noexcept {
  std::uint64_t scale = 1000;  // milliseconds per unit
  if (text.ends_with("ms")) {
    scale = 1;
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  }
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (whole.empty() || (dot != std::string_view::npos && frac.empty())) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), value);
  if (ec != std::errc() || p != whole.data() + whole.size() || value > 3600ULL * 1000) {
    return std::nullopt;
  }
  std::uint64_t ms = value * scale;
  // Fractions: only of seconds, to the millisecond.
  if (!frac.empty()) {
    if (scale != 1000 || frac.size() > 3) {
      return std::nullopt;
    }
    std::uint64_t f = 0;
    auto [q, ec2] = std::from_chars(frac.data(), frac.data() + frac.size(), f);
    if (ec2 != std::errc() || q != frac.data() + frac.size()) {
      return std::nullopt;
    }
    for (std::size_t i = frac.size(); i < 3; ++i) {
      f *= 10;
    }
    ms += f;
  }
  if (ms == 0 || ms > static_cast<std::uint64_t>(kMaxDuration.count())) {
    return std::nullopt;
  }
  return Millis(ms);
}

std::string format_duration(Millis d) {
  const auto ms = d.count();
  if (ms % 1000 == 0) {
    return std::to_string(ms / 1000) + "s";
  }
  return std::to_string(ms) + "ms";
}

std::string describe(const CheckSpec& check) {
  std::string out;
  switch (check.type) {
    case CheckType::kTcp:
      out = "tcp";
      break;
    case CheckType::kRedis:
      out = check.redis_password.empty() ? "redis PING" : "redis AUTH+PING";
      break;
    case CheckType::kHttp:
      out = std::string(check.tls ? "https" : "http") + " GET " + check.http_path + " -> " +
            std::to_string(check.http_status);
      break;
    case CheckType::kTls:
      out = "tls";
      break;
    case CheckType::kExec:
      out = "exec '" + check.command + "'";
      break;
  }
  if (check.type == CheckType::kTls || check.tls) {
    if (!check.tls_sni.empty()) {
      out += " sni " + check.tls_sni;
    }
    if (check.tls_verify) {
      out += " verified";
    }
  }
  if (check.port) {
    out += " on port " + std::to_string(*check.port);
  }
  return out;
}

std::string service_name(const sockvs::ServiceKey& key) {
  return sockvs::protocol_name(key.protocol) + " " + sockvs::format_endpoint(key.addr, key.port);
}

Config parse_config(std::istream& in, const std::string& name) { return Parser(name).run(in); }

Config load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw ConfigError(path + ": cannot open: " + std::strerror(errno));
  }
  return parse_config(in, path);
}

}  // namespace healthd
