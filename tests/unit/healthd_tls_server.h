// A TLS server for the sockvs-healthd unit tests: a fresh EC key and a
// self-signed certificate (names test.example and 127.0.0.1), one
// connection at a time, optionally answering one HTTP request.
#ifndef SOCKVS_TESTS_UNIT_HEALTHD_TLS_SERVER_H_
#define SOCKVS_TESTS_UNIT_HEALTHD_TLS_SERVER_H_

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "fd.h"

namespace healthd::testing {

struct EvpKeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const noexcept { SSL_free(s); }
};

class TlsServer {
 public:
  // `http_reply`: sent after a request ending in "\r\n\r\n" (empty: none,
  // the connection is closed after the handshake).  The certificate is
  // written to `cert_path` (PEM), to be given as tls-ca.
  TlsServer(std::string http_reply, std::string cert_path)
      : reply_(std::move(http_reply)), cert_path_(std::move(cert_path)) {
    key_.reset(EVP_EC_gen("P-256"));
    EXPECT_TRUE(key_);
    cert_.reset(X509_new());
    X509_set_version(cert_.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert_.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert_.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert_.get()), 3600L * 24);
    X509_set_pubkey(cert_.get(), key_.get());
    X509_NAME* name = X509_get_subject_name(cert_.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("test.example"),  // NOLINT
                               -1, -1, 0);
    X509_set_issuer_name(cert_.get(), name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert_.get(), cert_.get(), nullptr, nullptr, 0);
    X509_EXTENSION* san =
        X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:test.example,IP:127.0.0.1");
    X509_add_ext(cert_.get(), san, -1);
    X509_EXTENSION_free(san);
    X509_EXTENSION* bc = X509V3_EXT_conf_nid(nullptr, &v3, NID_basic_constraints, "CA:TRUE");
    X509_add_ext(cert_.get(), bc, -1);
    X509_EXTENSION_free(bc);
    EXPECT_GT(X509_sign(cert_.get(), key_.get(), EVP_sha256()), 0);
    FILE* f = std::fopen(cert_path_.c_str(), "w");
    EXPECT_NE(f, nullptr);
    PEM_write_X509(f, cert_.get());
    std::fclose(f);

    ctx_.reset(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_use_certificate(ctx_.get(), cert_.get());
    SSL_CTX_use_PrivateKey(ctx_.get(), key_.get());

    sock_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    auto* sa = reinterpret_cast<sockaddr*>(&a);
    EXPECT_EQ(::bind(sock_.get(), sa, len), 0);
    EXPECT_EQ(::listen(sock_.get(), 16), 0);
    EXPECT_EQ(::getsockname(sock_.get(), sa, &len), 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::jthread([this](const std::stop_token& st) { loop(st); });
  }

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  // The SNI name of the last handshake, once the server has finished one.
  std::string sni() {
    for (int i = 0; i < 500 && handshakes_.load() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const std::lock_guard<std::mutex> lock(mu_);
    return sni_;
  }
  std::string request() {
    const std::lock_guard<std::mutex> lock(mu_);
    return request_;
  }

 private:
  void loop(const std::stop_token& st) {
    while (!st.stop_requested()) {
      pollfd p{sock_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        continue;
      }
      const Fd conn(::accept4(sock_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.get() < 0) {
        continue;
      }
      timeval tv{5, 0};
      (void)::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx_.get()));
      SSL_set_fd(ssl.get(), conn.get());
      if (SSL_accept(ssl.get()) != 1) {
        continue;
      }
      {
        const char* n = SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name);
        const std::lock_guard<std::mutex> lock(mu_);
        sni_ = n == nullptr ? "" : n;
      }
      ++handshakes_;
      if (!reply_.empty()) {
        std::string req;
        char buf[512];
        while (req.find("\r\n\r\n") == std::string::npos) {
          const int n = SSL_read(ssl.get(), buf, sizeof(buf));
          if (n <= 0) {
            break;
          }
          req.append(buf, static_cast<std::size_t>(n));
        }
        {
          const std::lock_guard<std::mutex> lock(mu_);
          request_ = req;
        }
        SSL_write(ssl.get(), reply_.data(), static_cast<int>(reply_.size()));
      }
      SSL_shutdown(ssl.get());
    }
  }

  std::string reply_;
  std::string cert_path_;
  std::unique_ptr<EVP_PKEY, EvpKeyFree> key_;
  std::unique_ptr<X509, X509Free> cert_;
  std::unique_ptr<SSL_CTX, CtxFree> ctx_;
  Fd sock_;
  std::uint16_t port_ = 0;
  std::mutex mu_;
  std::string sni_;
  std::string request_;
  std::atomic<int> handshakes_{0};
  std::jthread thread_;  // last: stopped and joined first
};

}  // namespace healthd::testing

#endif  // SOCKVS_TESTS_UNIT_HEALTHD_TLS_SERVER_H_
