#include "sockvs/client.h"

#include <linux/sock_vs.h>

#include <cerrno>
#include <optional>
#include <string>

#include "sockvs/error.h"
#include "sockvs/genl_socket.h"
#include "sockvs/messages.h"

namespace sockvs {

namespace {

// ENOENT on NEW/SET_SERVICE means an unknown scheduler: name it.
[[noreturn]] void rethrow_naming_sched(std::uint8_t cmd, const Service& svc) {
  try {
    throw;
  } catch (const Error& e) {
    if (e.code() == ENOENT && !svc.sched_name.empty()) {
      throw kernel_error(cmd, e.code(), e.ext_ack(), svc.sched_name);
    }
    throw;
  }
}

// A command the module answers with a SOCK_VS_ATTR_KILLED message before
// its ACK: the sockets it terminated (0 if no such message came, from a
// module that predates it).
std::uint32_t transact_killing(GenlSocket& sock, const NlMsgPtr& msg, std::uint8_t cmd) {
  std::uint32_t killed = 0;
  sock.transact(msg, cmd, [&killed](const nlmsghdr* nlh) { killed = parse_killed_reply(nlh); });
  return killed;
}

}  // namespace

std::vector<Connection> Api::list_conns() {
  throw Error(EOPNOTSUPP, "listing connections is not supported here");
}

std::vector<Template> Api::list_templates() {
  throw Error(EOPNOTSUPP, "listing persistence templates is not supported here");
}

Client::Client() : sock_(std::make_unique<GenlSocket>()) {
  const int id = sock_->resolve(SOCK_VS_GENL_NAME);
  if (id < 0) {
    throw ModuleNotLoadedError();
  }
  sock_->set_family(id);
}

Client::~Client() = default;

int Client::family_id() const noexcept { return sock_->family(); }

void Client::add_service(const Service& svc) {
  const auto msg = build_new_service(family_id(), svc);
  try {
    sock_->transact(msg, SOCK_VS_CMD_NEW_SERVICE);
  } catch (const Error&) {
    rethrow_naming_sched(SOCK_VS_CMD_NEW_SERVICE, svc);
  }
}

void Client::edit_service(const Service& svc) {
  const auto msg = build_set_service(family_id(), svc);
  try {
    sock_->transact(msg, SOCK_VS_CMD_SET_SERVICE);
  } catch (const Error&) {
    rethrow_naming_sched(SOCK_VS_CMD_SET_SERVICE, svc);
  }
}

std::uint32_t Client::del_service(const ServiceKey& key) {
  return transact_killing(*sock_, build_del_service(family_id(), key), SOCK_VS_CMD_DEL_SERVICE);
}

Service Client::get_service(const ServiceKey& key) {
  std::optional<Service> found;
  sock_->transact(build_get_service(family_id(), key), SOCK_VS_CMD_GET_SERVICE,
                  [&found](const nlmsghdr* nlh) { found = parse_service_reply(nlh); });
  if (!found) {
    throw Error(EPROTO, "the sock_vs module did not return the service");
  }
  return *found;
}

std::vector<Service> Client::list_services() {
  std::vector<Service> out;
  sock_->transact(build_list_services(family_id()), SOCK_VS_CMD_GET_SERVICE,
                  [&out](const nlmsghdr* nlh) { out.push_back(parse_service_reply(nlh)); });
  return out;
}

void Client::add_dest(const ServiceKey& key, const RealServer& dest) {
  sock_->transact(build_new_dest(family_id(), key, dest), SOCK_VS_CMD_NEW_DEST);
}

void Client::edit_dest(const ServiceKey& key, const RealServer& dest) {
  sock_->transact(build_set_dest(family_id(), key, dest), SOCK_VS_CMD_SET_DEST);
}

std::uint32_t Client::del_dest(const ServiceKey& key, const RealServer& dest) {
  return transact_killing(*sock_, build_del_dest(family_id(), key, dest), SOCK_VS_CMD_DEL_DEST);
}

std::vector<RealServer> Client::list_dests(const ServiceKey& key) {
  std::vector<RealServer> out;
  sock_->transact(build_list_dests(family_id(), key), SOCK_VS_CMD_GET_DEST,
                  [&out](const nlmsghdr* nlh) { out.push_back(parse_dest_reply(nlh)); });
  return out;
}

std::uint32_t Client::flush() {
  return transact_killing(*sock_, build_flush(family_id()), SOCK_VS_CMD_FLUSH);
}

std::uint32_t Client::kill(const ServiceKey& key, const std::optional<RealServer>& dest,
                           std::optional<Terminate> policy) {
  return transact_killing(*sock_, build_kill(family_id(), key, dest, policy), SOCK_VS_CMD_KILL);
}

void Client::zero(const std::optional<ServiceKey>& key) {
  sock_->transact(build_zero(family_id(), key), SOCK_VS_CMD_ZERO);
}

std::vector<Connection> Client::list_conns() {
  std::vector<Connection> out;
  sock_->transact(build_list_conns(family_id()), SOCK_VS_CMD_GET_CONN,
                  [&out](const nlmsghdr* nlh) { out.push_back(parse_conn_reply(nlh)); });
  return out;
}

std::vector<Template> Client::list_templates() {
  std::vector<Template> out;
  sock_->transact(build_list_templates(family_id()), SOCK_VS_CMD_GET_TEMPLATE,
                  [&out](const nlmsghdr* nlh) { out.push_back(parse_template_reply(nlh)); });
  dedupe_templates(out);
  return out;
}

Info Client::info() {
  std::optional<Info> found;
  sock_->transact(build_get_info(family_id()), SOCK_VS_CMD_GET_INFO,
                  [&found](const nlmsghdr* nlh) { found = parse_info_reply(nlh); });
  if (!found) {
    throw Error(EPROTO, "the sock_vs module did not return its info");
  }
  return *found;
}

}  // namespace sockvs
