// Transactions: a namespace's table, or a set of its services, replaced in
// one step by the module (SOCK_VS_CMD_TXN_*): every connect sees the table
// as it was or as it becomes, never a mix; services and real servers that
// stay (same key) keep their counters, sockets, templates, ejection state;
// a failure changes nothing.
//
// Api::commit() runs one (Client: TXN_BEGIN, TXN_STAGE messages, TXN_COMMIT
// on its socket).  TableModel is an Api over an in-memory copy of a table:
// the single commands applied to it give the transaction that has their
// combined effect (what sockvsadm -R commits).  The message builders and
// parsers are pure functions, like messages.h's.
#ifndef SOCKVS_TXN_H_
#define SOCKVS_TXN_H_

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sockvs/client.h"
#include "sockvs/error.h"
#include "sockvs/messages.h"
#include "sockvs/types.h"

namespace sockvs {

// One staged service: its whole definition, as NEW_SERVICE takes it (what
// is not set is the module's default, not "unchanged"), and its real
// servers, in order, as NEW_DEST takes them.  remove: the service is to be
// deleted (only its key counts; not in a replacing transaction).
struct TxnService {
  Service service;
  std::vector<RealServer> dests;
  bool remove = false;

  friend bool operator==(const TxnService&, const TxnService&) = default;
};

struct Transaction {
  // The services are the whole table: every other one is deleted.
  bool replace = false;
  // Commit only if the table is still at this generation (Api::generation()).
  std::optional<std::uint64_t> generation;
  std::vector<TxnService> services;

  friend bool operator==(const Transaction&, const Transaction&) = default;
};

// What a commit did (SOCK_VS_CMD_TXN_COMMIT's answer).
struct TxnResult {
  std::uint32_t added = 0;
  std::uint32_t changed = 0;
  std::uint32_t deleted = 0;
  std::uint32_t unchanged = 0;  // staged as they already were
  std::uint32_t killed = 0;     // sockets terminated by policy
  std::optional<std::uint64_t> generation;

  friend bool operator==(const TxnResult&, const TxnResult&) = default;
};

// The module refused one staged service: services[entry()] (its real
// server dest() when the refusal is about one), at attribute attr() of the
// SERVICE or DEST nest (0: the entry or nest as a whole).  reason() is the
// refusal as the single command NEW_SERVICE / NEW_DEST would have been
// refused; what() is "service TCP 10.0.0.1:80: <reason>" ("service TCP
// 10.0.0.1:80, real server 192.168.1.5:80: <reason>").  Nothing was
// applied; the transaction was aborted.
class TxnError : public Error {
 public:
  TxnError(int code, std::size_t entry, std::optional<std::size_t> dest, std::uint16_t attr,
           const std::string& where, std::string reason, std::string ext_ack);
  [[nodiscard]] std::size_t entry() const noexcept { return entry_; }
  [[nodiscard]] std::optional<std::size_t> dest() const noexcept { return dest_; }
  [[nodiscard]] std::uint16_t attr() const noexcept { return attr_; }
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

 private:
  std::size_t entry_;
  std::optional<std::size_t> dest_;
  std::uint16_t attr_;
  std::string reason_;
};

// "service TCP 10.0.0.1:80", "service UDP [fd00::1]:53": how the module's
// messages name a service (kmod/txn.c), and TxnError's.
std::string txn_service_label(const ServiceKey& key);

// --- Requests --------------------------------------------------------------------

// TXN_BEGIN: TXN{FLAGS, [GENERATION]}.
NlMsgPtr build_txn_begin(int family_id, bool replace, std::optional<std::uint64_t> generation);
// TXN_COMMIT / TXN_ABORT: no attributes.
NlMsgPtr build_txn_commit(int family_id);
NlMsgPtr build_txn_abort(int family_id);

// A SOCK_VS_ATTR_TXN_SVC attribute for `svc` (header and padding included):
// TXN_SVC{SERVICE{the NEW_SERVICE nest}, DEST{the NEW_DEST nest}..., [DELETE]}.
// Throws what build_new_service / build_new_dest throw for invalid input.
// `layout`, if given, gets where the SERVICE nest and each DEST nest are
// (offsets from the entry's start).
struct TxnEntryLayout {
  std::size_t service_offset = 0;
  std::vector<std::size_t> dest_offsets;
};
std::vector<std::uint8_t> encode_txn_entry(const TxnService& svc, TxnEntryLayout* layout = nullptr);

// TXN_STAGE: the encoded entries [first, first + count) of `entries`, as
// many as fit in max_bytes of payload (at least one).  Returns the message
// and sets `count`; offsets[i] is entry first + i's offset from the
// message's nlmsghdr (what an extended ACK's NLMSGERR_ATTR_OFFS counts).
struct StageMessage {
  NlMsgPtr msg;
  std::size_t count = 0;
  std::vector<std::size_t> offsets;
};
StageMessage build_txn_stage(int family_id, const std::vector<std::vector<std::uint8_t>>& entries,
                             std::size_t first, std::size_t max_bytes);

// Where `offset` (from the message's start) falls among the entries placed
// at `offsets` with `layouts`: the entry, its real server (if in a DEST
// nest), and the attribute type within that nest (0 if none).
struct TxnPlace {
  std::size_t entry = 0;
  std::optional<std::size_t> dest;
  std::uint16_t attr = 0;
};
std::optional<TxnPlace> locate_txn_offset(const std::vector<std::vector<std::uint8_t>>& entries,
                                          const std::vector<TxnEntryLayout>& layouts,
                                          std::size_t first, const std::vector<std::size_t>& offsets,
                                          std::size_t offset);

// --- Replies ---------------------------------------------------------------------

// TXN_COMMIT's answer: SOCK_VS_ATTR_TXN{counts, GENERATION} and KILLED.
// Throws Error(EPROTO) if malformed.
TxnResult parse_txn_reply(const nlmsghdr* nlh);
// GET_INFO's SOCK_VS_INFO_ATTR_GENERATION, nullopt from a module without.
std::optional<std::uint64_t> parse_info_generation(const nlmsghdr* nlh);
// NLMSGERR_ATTR_OFFS of an NLMSG_ERROR message with extended ACK TLVs.
std::optional<std::uint32_t> error_attr_offset(const nlmsghdr* nlh);
// The extended ACK without the "service PROTO ADDR:PORT: " prefix newer
// kernels give a staged entry's refusal.
std::string strip_service_label(const std::string& ext_ack, const ServiceKey& key);

// --- A table in memory -----------------------------------------------------------

// The single commands (the Api's add/edit/del of services and real
// servers, flush, zero) on a copy of a table, with the module's rules for
// what exists (EEXIST, ESRCH, ENOENT, a real server's shards that cannot
// change) and the client's checks of input; what only the module knows
// (schedulers, addresses it refuses, limits) it leaves to the commit.  An
// edit changes what SET_SERVICE / SET_DEST would (the requests' attributes
// over the current ones), whatever the fields.  transaction() is what
// makes the copy the table: the changed services (whole) and the deleted
// ones, or after a flush all of them, replacing.  Each service and real
// server remembers the line (set_line()) that last set each attribute.
class TableModel final : public Api {
 public:
  struct Entry {
    Service service;
    std::vector<RealServer> dests;
  };
  explicit TableModel(std::vector<Entry> table);

  void set_line(int line) noexcept { line_ = line; }

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

  // The transaction that makes the table what the commands made of it.
  [[nodiscard]] Transaction transaction() const;
  // The -Z commands, in order (nullopt: every service), for after the commit.
  [[nodiscard]] const std::vector<std::optional<ServiceKey>>& zeros() const noexcept {
    return zeros_;
  }
  // The line to blame for a refusal of transaction().services[entry] (at
  // the real server and attribute a TxnError says); 0 if none.
  [[nodiscard]] int line_of(std::size_t entry, std::optional<std::size_t> dest,
                            std::uint16_t attr) const;

 private:
  struct Lines {
    int line = 0;                      // created (or last deleted and created)
    std::map<std::uint16_t, int> attr;  // attribute type -> the line that set it
  };
  struct ModelDest {
    RealServer dest;
    Lines lines;
  };
  struct ModelService {
    Service service;
    std::vector<ModelDest> dests;
    Lines lines;
    bool touched = false;
  };
  static std::string index_key(const ServiceKey& key);
  void insert(ModelService s);
  ModelService* find(const ServiceKey& key);
  ModelService& must_find(std::uint8_t cmd, const ServiceKey& key);
  static std::vector<ModelDest>::iterator find_dest(ModelService& s, const RealServer& dest);
  void mark(Lines& lines, const std::vector<std::uint16_t>& types) const;

  // The services in table order, and by key (index_key()): a restore of N
  // services looks each one up, so the look-up must not scan the table.
  std::list<ModelService> table_;
  std::unordered_map<std::string, std::list<ModelService>::iterator> index_;
  std::vector<ServiceKey> deleted_;  // of the original table, not there any more
  std::vector<std::optional<ServiceKey>> zeros_;
  bool flushed_ = false;
  int flush_line_ = 0;
  int line_ = 0;
  // transaction()'s entries -> the model's services (for line_of), deleted ones last.
  mutable std::vector<const ModelService*> order_;
};

// SET_SERVICE's attributes of `edit` over `prev`'s (NEW_SERVICE's), as
// the module merges them; the types `edit` sets go to `types` if given.
Service merge_service_edit(const Service& prev, const Service& edit,
                           std::vector<std::uint16_t>* types = nullptr);
// SET_DEST's attributes of `edit` over `prev`'s (NEW_DEST's).
RealServer merge_dest_edit(const ServiceKey& key, const RealServer& prev, const RealServer& edit,
                           std::vector<std::uint16_t>* types = nullptr);

}  // namespace sockvs

#endif  // SOCKVS_TXN_H_
