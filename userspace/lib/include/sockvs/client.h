// The libsockvs client: talks to the sock_vs module over generic netlink.
#ifndef SOCKVS_CLIENT_H_
#define SOCKVS_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "sockvs/types.h"

namespace sockvs {

class GenlSocket;
struct Transaction;  // sockvs/txn.h
struct TxnResult;

// Every operation of the module.  Client implements it over netlink; tests
// implement it in memory.  All methods throw sockvs::Error on failure.
class Api {
 public:
  Api() = default;
  virtual ~Api() = default;
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;
  Api(Api&&) = delete;
  Api& operator=(Api&&) = delete;

  // The commands that remove real servers (del_dest, del_service, flush)
  // and kill return how many balanced sockets the module terminated, by
  // each service's terminate policy (0 from a module that does not say).

  virtual void add_service(const Service& svc) = 0;
  // Changes the scheduler (unless svc.sched_name is empty) and flags, and
  // the hash key, shard policy and terminate policy that are set.
  virtual void edit_service(const Service& svc) = 0;
  virtual std::uint32_t del_service(const ServiceKey& key) = 0;
  virtual Service get_service(const ServiceKey& key) = 0;
  // In the module's order.
  virtual std::vector<Service> list_services() = 0;

  // Uses dest.addr, dest.port and dest.weight.
  virtual void add_dest(const ServiceKey& key, const RealServer& dest) = 0;
  virtual void edit_dest(const ServiceKey& key, const RealServer& dest) = 0;
  // Uses dest.addr and dest.port.
  virtual std::uint32_t del_dest(const ServiceKey& key, const RealServer& dest) = 0;
  // In the module's order.
  virtual std::vector<RealServer> list_dests(const ServiceKey& key) = 0;

  // Deletes every service of the network namespace.
  virtual std::uint32_t flush() = 0;
  // Terminates now the balanced sockets of the real server `dest` (its
  // addr and port), or of every real server of the service when `dest` is
  // empty, by `policy` (kUdp or kAll) or, when it is empty, by the
  // service's own terminate policy.  The real servers stay.
  virtual std::uint32_t kill(const ServiceKey& key, const std::optional<RealServer>& dest,
                             std::optional<Terminate> policy) = 0;
  // Zeroes the counters of one service, or of all when `key` is empty.
  virtual void zero(const std::optional<ServiceKey>& key) = 0;
  virtual Info info() = 0;

  // The open balanced sockets of the network namespace, in the module's
  // order.  The default throws Error(EOPNOTSUPP): an Api that does not
  // implement it cannot list connections.
  virtual std::vector<Connection> list_conns();
  // The persistence templates of the network namespace, in the module's
  // order, each once (dedupe_templates).  Needs CAP_NET_ADMIN, like
  // list_conns.  A module without persistence refuses the command
  // (Error EOPNOTSUPP, or EINVAL); so does the default implementation
  // (EOPNOTSUPP).
  virtual std::vector<Template> list_templates();

  // Transactions (sockvs/txn.h).  commit() applies `txn` in one step: all
  // of it, or (it throws) nothing; a refused service throws TxnError.  A
  // module that predates transactions refuses them with EOPNOTSUPP, and so
  // does the default implementation.
  virtual TxnResult commit(const Transaction& txn);
  // The table's generation (what Transaction::generation compares with),
  // nullopt from a module that does not report one (and by default).
  virtual std::optional<std::uint64_t> generation();
};

// A generic netlink connection to the sock_vs module of the caller's
// network namespace.  Not thread-safe; one request at a time.
class Client final : public Api {
 public:
  // Opens the socket and resolves the SOCK_VS family.  Throws
  // ModuleNotLoadedError if the module is not loaded, Error otherwise.
  Client();
  ~Client() override;

  void add_service(const Service& svc) override;
  void edit_service(const Service& svc) override;
  std::uint32_t del_service(const ServiceKey& key) override;
  Service get_service(const ServiceKey& key) override;
  std::vector<Service> list_services() override;
  void add_dest(const ServiceKey& key, const RealServer& dest) override;
  void edit_dest(const ServiceKey& key, const RealServer& dest) override;
  std::uint32_t del_dest(const ServiceKey& key, const RealServer& dest) override;
  std::vector<RealServer> list_dests(const ServiceKey& key) override;
  std::uint32_t flush() override;
  std::uint32_t kill(const ServiceKey& key, const std::optional<RealServer>& dest,
                     std::optional<Terminate> policy) override;
  void zero(const std::optional<ServiceKey>& key) override;
  Info info() override;
  std::vector<Connection> list_conns() override;
  std::vector<Template> list_templates() override;
  TxnResult commit(const Transaction& txn) override;  // lib/txn.cc
  std::optional<std::uint64_t> generation() override;

  // The generic netlink family id of SOCK_VS.
  [[nodiscard]] int family_id() const noexcept;

 private:
  std::unique_ptr<GenlSocket> sock_;
};

}  // namespace sockvs

#endif  // SOCKVS_CLIENT_H_
