#include "sockvs/txn.h"

#include <linux/genetlink.h>
#include <linux/sock_vs.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <span>
#include <string>
#include <utility>

#include "sockvs/address.h"
#include "sockvs/genl_socket.h"

namespace sockvs {

namespace {

// Payload of one TXN_STAGE message: well under the socket's send buffer
// (GenlSocket's, and libnl's default of 64 KiB - 32 bytes, which a 64 KiB
// payload exceeded: -R of 3,000 services failed with EMSGSIZE).  A single
// larger entry still goes alone.
constexpr std::size_t kStageBytes = std::size_t{32} * 1024;

using Bytes = std::vector<std::uint8_t>;

[[noreturn]] void malformed(const std::string& what) {
  throw Error(EPROTO, "malformed reply from the sock_vs module: " + what);
}

NlMsgPtr txn_request(int family_id, std::uint8_t cmd, std::size_t size = 0) {
  NlMsgPtr msg(size != 0 ? nlmsg_alloc_size(size) : nlmsg_alloc());
  if (!msg) {
    throw Error(ENOMEM, "cannot allocate a netlink message");
  }
  if (genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family_id, 0, NLM_F_ACK, cmd,
                  SOCK_VS_GENL_VERSION) == nullptr) {
    throw Error(EMSGSIZE, "netlink request too large");
  }
  return msg;
}

// The attributes after a generic netlink message's header.
std::span<const std::uint8_t> genl_payload(const nlmsghdr* nlh) {
  if (nlh == nullptr || nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN) {
    malformed("message too short");
  }
  const auto* base = reinterpret_cast<const std::uint8_t*>(nlh);
  return {base + NLMSG_HDRLEN + GENL_HDRLEN, nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN};
}

// One attribute of a run: its type (flags off) and its bytes (header and
// payload, without padding).
struct Attr {
  std::uint16_t type = 0;
  std::span<const std::uint8_t> whole;
  [[nodiscard]] std::span<const std::uint8_t> payload() const { return whole.subspan(NLA_HDRLEN); }
};

std::vector<Attr> attrs_of(std::span<const std::uint8_t> run) {
  std::vector<Attr> out;
  std::size_t off = 0;
  while (run.size() - off >= NLA_HDRLEN) {
    nlattr hdr{};
    std::memcpy(&hdr, run.data() + off, sizeof hdr);
    if (hdr.nla_len < NLA_HDRLEN || hdr.nla_len > run.size() - off) {
      break;
    }
    out.push_back(Attr{static_cast<std::uint16_t>(hdr.nla_type & NLA_TYPE_MASK),
                       run.subspan(off, hdr.nla_len)});
    off += NLA_ALIGN(hdr.nla_len);
  }
  return out;
}

// The attributes inside the top-level nest `type` of a built request.
std::vector<Attr> nest_attrs(const NlMsgPtr& msg, int type) {
  for (const Attr& a : attrs_of(genl_payload(nlmsg_hdr(msg.get())))) {
    if (a.type == type) {
      return attrs_of(a.payload());
    }
  }
  return {};
}

void append_attr(Bytes& out, std::uint16_t type, std::span<const std::uint8_t> payload) {
  const std::size_t len = NLA_HDRLEN + payload.size();
  if (len > 0xffff) {
    throw Error(EMSGSIZE, "netlink attribute too large");
  }
  nlattr hdr{};
  hdr.nla_len = static_cast<std::uint16_t>(len);
  hdr.nla_type = type;
  const auto* h = reinterpret_cast<const std::uint8_t*>(&hdr);
  out.insert(out.end(), h, h + NLA_HDRLEN);
  out.insert(out.end(), payload.begin(), payload.end());
  out.resize(NLA_ALIGN(out.size()), 0);
}

// A nest of the attributes `inner` (whole attributes, each padded).
Bytes nest_of(const std::vector<Attr>& inner) {
  Bytes payload;
  for (const Attr& a : inner) {
    payload.insert(payload.end(), a.whole.begin(), a.whole.end());
    payload.resize(NLA_ALIGN(payload.size()), 0);
  }
  return payload;
}

// A real server as NEW_DEST would send it, its default settings left out
// (the module's defaults are the same), which keeps big services small.
RealServer lean(RealServer d) {
  if (d.u_threshold == 0U) {
    d.u_threshold.reset();
  }
  if (d.l_threshold == 0U) {
    d.l_threshold.reset();
  }
  if (d.shards == 1U) {
    d.shards.reset();
  }
  return d;
}

// `attrs` over `base` by type (the SET commands' merge), in type order.
std::vector<Attr> overlay(const std::vector<Attr>& base, const std::vector<Attr>& over,
                          std::vector<std::uint16_t>* types) {
  std::map<std::uint16_t, Attr> merged;
  for (const Attr& a : base) {
    merged[a.type] = a;
  }
  for (const Attr& a : over) {
    merged[a.type] = a;
    if (types != nullptr) {
      types->push_back(a.type);
    }
  }
  std::vector<Attr> out;
  out.reserve(merged.size());
  for (const auto& [type, a] : merged) {
    out.push_back(a);
  }
  return out;
}

// A reply-shaped message with the top-level nest `type` holding `inner`,
// for the reply parsers.
NlMsgPtr reply_of(std::uint8_t cmd, int type, const std::vector<Attr>& inner) {
  const Bytes payload = nest_of(inner);
  NlMsgPtr msg = txn_request(0, cmd, NLMSG_HDRLEN + GENL_HDRLEN + NLA_HDRLEN + payload.size() + 64);
  if (nla_put(msg.get(), type | NLA_F_NESTED, static_cast<int>(payload.size()), payload.data()) <
      0) {
    throw Error(EMSGSIZE, "netlink request too large");
  }
  return msg;
}

template <std::size_t N>
std::array<nlattr*, N> parse_run(nlattr* nest, std::array<nla_policy, N>& policy, const char* what) {
  std::array<nlattr*, N> tb{};
  if (nla_parse_nested(tb.data(), static_cast<int>(N - 1), nest, policy.data()) < 0) {
    malformed(std::string("bad ") + what + " attributes");
  }
  return tb;
}

nla_policy typed(std::uint16_t type) {
  nla_policy p{};
  p.type = type;
  return p;
}

std::array<nlattr*, SOCK_VS_ATTR_MAX + 1> top_attrs(const nlmsghdr* nlh) {
  genl_payload(nlh);  // long enough
  std::array<nla_policy, SOCK_VS_ATTR_MAX + 1> policy{};
  policy[SOCK_VS_ATTR_INFO] = typed(NLA_NESTED);
  policy[SOCK_VS_ATTR_KILLED] = typed(NLA_U32);
  policy[SOCK_VS_ATTR_TXN] = typed(NLA_NESTED);
  std::array<nlattr*, SOCK_VS_ATTR_MAX + 1> tb{};
  if (genlmsg_parse(const_cast<nlmsghdr*>(nlh), 0, tb.data(), SOCK_VS_ATTR_MAX, policy.data()) <
      0) {
    malformed("bad attributes");
  }
  return tb;
}

}  // namespace

// --- errors and names --------------------------------------------------------------

TxnError::TxnError(int code, std::size_t entry, std::optional<std::size_t> dest,
                   std::uint16_t attr, const std::string& where, std::string reason,
                   std::string ext_ack)
    : Error(code, where + ": " + reason, std::move(ext_ack)),
      entry_(entry),
      dest_(dest),
      attr_(attr),
      reason_(std::move(reason)) {}

std::string txn_service_label(const ServiceKey& key) {
  return "service " + protocol_name(key.protocol) + " " + format_endpoint(key.addr, key.port);
}

std::string strip_service_label(const std::string& ext_ack, const ServiceKey& key) {
  const std::string prefix = txn_service_label(key) + ": ";
  return ext_ack.starts_with(prefix) ? ext_ack.substr(prefix.size()) : ext_ack;
}

// --- requests ----------------------------------------------------------------------

NlMsgPtr build_txn_begin(int family_id, bool replace, std::optional<std::uint64_t> generation) {
  NlMsgPtr msg = txn_request(family_id, SOCK_VS_CMD_TXN_BEGIN);
  nlattr* nest = nla_nest_start(msg.get(), SOCK_VS_ATTR_TXN);
  if (nest == nullptr) {
    throw Error(EMSGSIZE, "netlink request too large");
  }
  nest->nla_type |= NLA_F_NESTED;
  if (nla_put_u32(msg.get(), SOCK_VS_TXN_ATTR_FLAGS, replace ? SOCK_VS_TXN_F_REPLACE : 0U) < 0 ||
      (generation && nla_put_u64(msg.get(), SOCK_VS_TXN_ATTR_GENERATION, *generation) < 0) ||
      nla_nest_end(msg.get(), nest) < 0) {
    throw Error(EMSGSIZE, "netlink request too large");
  }
  return msg;
}

NlMsgPtr build_txn_commit(int family_id) { return txn_request(family_id, SOCK_VS_CMD_TXN_COMMIT); }

NlMsgPtr build_txn_abort(int family_id) { return txn_request(family_id, SOCK_VS_CMD_TXN_ABORT); }

Bytes encode_txn_entry(const TxnService& svc, TxnEntryLayout* layout) {
  const ServiceKey key = svc.service.key();
  // The nests NEW_SERVICE and NEW_DEST would send (their checks included).
  const NlMsgPtr svc_msg =
      svc.remove ? build_del_service(0, key) : build_new_service(0, svc.service);
  Bytes inner;
  if (layout != nullptr) {
    layout->service_offset = NLA_HDRLEN;
    layout->dest_offsets.clear();
  }
  append_attr(inner, SOCK_VS_TXN_SVC_ATTR_SERVICE | NLA_F_NESTED,
              nest_of(nest_attrs(svc_msg, SOCK_VS_ATTR_SERVICE)));
  if (svc.remove && !svc.dests.empty()) {
    throw Error(EINVAL, txn_service_label(key) + ": a service to delete has no real servers");
  }
  for (const RealServer& d : svc.dests) {
    const NlMsgPtr dest_msg = build_new_dest(0, key, lean(d));
    if (layout != nullptr) {
      layout->dest_offsets.push_back(NLA_HDRLEN + inner.size());
    }
    append_attr(inner, SOCK_VS_TXN_SVC_ATTR_DEST | NLA_F_NESTED,
                nest_of(nest_attrs(dest_msg, SOCK_VS_ATTR_DEST)));
  }
  if (svc.remove) {
    append_attr(inner, SOCK_VS_TXN_SVC_ATTR_DELETE, {});
  }
  Bytes out;
  try {
    append_attr(out, SOCK_VS_ATTR_TXN_SVC | NLA_F_NESTED, inner);
  } catch (const Error&) {
    throw Error(EMSGSIZE, txn_service_label(key) + ": too many real servers (with their settings) "
                          "for one transaction entry of 64 KiB");
  }
  return out;
}

StageMessage build_txn_stage(int family_id, const std::vector<Bytes>& entries, std::size_t first,
                             std::size_t max_bytes) {
  StageMessage out;
  std::size_t bytes = 0;
  std::size_t last = first;
  while (last < entries.size() && (last == first || bytes + entries[last].size() <= max_bytes)) {
    bytes += entries[last].size();
    ++last;
  }
  out.msg = txn_request(family_id, SOCK_VS_CMD_TXN_STAGE, NLMSG_HDRLEN + GENL_HDRLEN + bytes + 64);
  std::size_t off = NLMSG_HDRLEN + GENL_HDRLEN;
  for (std::size_t i = first; i < last; ++i) {
    out.offsets.push_back(off);
    if (nlmsg_append(out.msg.get(), const_cast<std::uint8_t*>(entries[i].data()), entries[i].size(),
                     NLMSG_ALIGNTO) < 0) {
      throw Error(EMSGSIZE, "netlink request too large");
    }
    off += entries[i].size();
  }
  out.count = last - first;
  return out;
}

std::optional<TxnPlace> locate_txn_offset(const std::vector<Bytes>& entries,
                                          const std::vector<TxnEntryLayout>& layouts,
                                          std::size_t first, const std::vector<std::size_t>& offsets,
                                          std::size_t offset) {
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    const Bytes& e = entries[first + i];
    if (offset < offsets[i] || offset >= offsets[i] + e.size()) {
      continue;
    }
    TxnPlace place;
    place.entry = first + i;
    const std::size_t rel = offset - offsets[i];
    const TxnEntryLayout& lay = layouts[first + i];
    // The nest the offset is in: the service's, or a real server's.
    std::size_t start = lay.service_offset;
    for (std::size_t j = 0; j < lay.dest_offsets.size(); ++j) {
      if (rel >= lay.dest_offsets[j]) {
        place.dest = j;
        start = lay.dest_offsets[j];
      }
    }
    const auto nest = attrs_of(std::span(e).subspan(start));
    if (nest.empty() || rel < start + NLA_HDRLEN) {
      return place;  // the nest itself
    }
    std::size_t pos = start + NLA_HDRLEN;
    for (const Attr& a : attrs_of(nest.front().payload())) {
      if (rel >= pos && rel < pos + a.whole.size()) {
        place.attr = a.type;
        break;
      }
      pos += NLA_ALIGN(a.whole.size());
    }
    return place;
  }
  return std::nullopt;
}

// --- replies -----------------------------------------------------------------------

TxnResult parse_txn_reply(const nlmsghdr* nlh) {
  auto tb = top_attrs(nlh);
  TxnResult out;
  if (tb[SOCK_VS_ATTR_KILLED] != nullptr) {
    out.killed = nla_get_u32(tb[SOCK_VS_ATTR_KILLED]);
  }
  if (tb[SOCK_VS_ATTR_TXN] == nullptr) {
    malformed("no transaction attribute");
  }
  std::array<nla_policy, SOCK_VS_TXN_ATTR_MAX + 1> policy{};
  for (int t : {SOCK_VS_TXN_ATTR_ADDED, SOCK_VS_TXN_ATTR_CHANGED, SOCK_VS_TXN_ATTR_DELETED,
                SOCK_VS_TXN_ATTR_UNCHANGED}) {
    policy[static_cast<std::size_t>(t)] = typed(NLA_U32);
  }
  policy[SOCK_VS_TXN_ATTR_GENERATION] = typed(NLA_U64);
  auto t = parse_run(tb[SOCK_VS_ATTR_TXN], policy, "transaction");
  const auto u32 = [&t](int type) {
    return t[static_cast<std::size_t>(type)] != nullptr
               ? nla_get_u32(t[static_cast<std::size_t>(type)])
               : 0U;
  };
  out.added = u32(SOCK_VS_TXN_ATTR_ADDED);
  out.changed = u32(SOCK_VS_TXN_ATTR_CHANGED);
  out.deleted = u32(SOCK_VS_TXN_ATTR_DELETED);
  out.unchanged = u32(SOCK_VS_TXN_ATTR_UNCHANGED);
  if (t[SOCK_VS_TXN_ATTR_GENERATION] != nullptr) {
    out.generation = nla_get_u64(t[SOCK_VS_TXN_ATTR_GENERATION]);
  }
  return out;
}

std::optional<std::uint64_t> parse_info_generation(const nlmsghdr* nlh) {
  auto tb = top_attrs(nlh);
  if (tb[SOCK_VS_ATTR_INFO] == nullptr) {
    malformed("no info attribute");
  }
  std::array<nla_policy, SOCK_VS_INFO_ATTR_MAX + 1> policy{};
  policy[SOCK_VS_INFO_ATTR_GENERATION] = typed(NLA_U64);
  auto t = parse_run(tb[SOCK_VS_ATTR_INFO], policy, "info");
  if (t[SOCK_VS_INFO_ATTR_GENERATION] == nullptr) {
    return std::nullopt;
  }
  return nla_get_u64(t[SOCK_VS_INFO_ATTR_GENERATION]);
}

std::optional<std::uint32_t> error_attr_offset(const nlmsghdr* nlh) {
  if (nlh == nullptr || nlh->nlmsg_type != NLMSG_ERROR ||
      nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(nlmsgerr) || (nlh->nlmsg_flags & NLM_F_ACK_TLVS) == 0) {
    return std::nullopt;
  }
  const auto* base = reinterpret_cast<const std::uint8_t*>(nlh);
  nlmsgerr err{};
  std::memcpy(&err, base + NLMSG_HDRLEN, sizeof err);
  std::size_t offset = sizeof(nlmsgerr);
  if ((nlh->nlmsg_flags & NLM_F_CAPPED) == 0) {
    if (err.msg.nlmsg_len < NLMSG_HDRLEN) {
      return std::nullopt;
    }
    offset += err.msg.nlmsg_len - NLMSG_HDRLEN;
  }
  offset = NLMSG_HDRLEN + NLMSG_ALIGN(offset);
  if (offset >= nlh->nlmsg_len) {
    return std::nullopt;
  }
  for (const Attr& a : attrs_of(std::span(base + offset, nlh->nlmsg_len - offset))) {
    if (a.type == NLMSGERR_ATTR_OFFS && a.payload().size() >= sizeof(std::uint32_t)) {
      std::uint32_t v = 0;
      std::memcpy(&v, a.payload().data(), sizeof v);
      return v;
    }
  }
  return std::nullopt;
}

// --- merging edits -----------------------------------------------------------------

// (The requests own the bytes the attributes point into: they live here.)
Service merge_service_edit(const Service& prev, const Service& edit,
                           std::vector<std::uint16_t>* types) {
  const NlMsgPtr base = build_new_service(0, prev);
  const NlMsgPtr over = build_set_service(0, edit);
  const auto merged =
      overlay(nest_attrs(base, SOCK_VS_ATTR_SERVICE), nest_attrs(over, SOCK_VS_ATTR_SERVICE), types);
  const NlMsgPtr reply = reply_of(SOCK_VS_CMD_GET_SERVICE, SOCK_VS_ATTR_SERVICE, merged);
  return parse_service_reply(nlmsg_hdr(reply.get()));
}

RealServer merge_dest_edit(const ServiceKey& key, const RealServer& prev, const RealServer& edit,
                           std::vector<std::uint16_t>* types) {
  const NlMsgPtr base = build_new_dest(0, key, prev);
  const NlMsgPtr over = build_set_dest(0, key, edit);
  const auto merged =
      overlay(nest_attrs(base, SOCK_VS_ATTR_DEST), nest_attrs(over, SOCK_VS_ATTR_DEST), types);
  const NlMsgPtr reply = reply_of(SOCK_VS_CMD_GET_DEST, SOCK_VS_ATTR_DEST, merged);
  return parse_dest_reply(nlmsg_hdr(reply.get()));
}

// --- the client ----------------------------------------------------------------------

TxnResult Api::commit(const Transaction& /*txn*/) {
  throw Error(EOPNOTSUPP, "transactions are not supported here");
}

std::optional<std::uint64_t> Api::generation() { return std::nullopt; }

std::optional<std::uint64_t> Client::generation() {
  std::optional<std::uint64_t> gen;
  sock_->transact(build_get_info(family_id()), SOCK_VS_CMD_GET_INFO,
                  [&gen](const nlmsghdr* nlh) { gen = parse_info_generation(nlh); });
  return gen;
}

TxnResult Client::commit(const Transaction& txn) {
  std::vector<Bytes> entries;
  std::vector<TxnEntryLayout> layouts(txn.services.size());
  entries.reserve(txn.services.size());
  for (std::size_t i = 0; i < txn.services.size(); ++i) {
    entries.push_back(encode_txn_entry(txn.services[i], &layouts[i]));
  }
  try {
    sock_->transact(build_txn_begin(family_id(), txn.replace, txn.generation),
                    SOCK_VS_CMD_TXN_BEGIN);
  } catch (const Error& e) {
    if (e.code() == EOPNOTSUPP) {
      throw Error(EOPNOTSUPP, "the sock_vs module does not support transactions (it predates them)",
                  e.ext_ack());
    }
    throw;
  }
  // From here on an error aborts the transaction (closing the socket would too).
  const auto abort = [this]() {
    try {
      sock_->transact(build_txn_abort(family_id()), SOCK_VS_CMD_TXN_ABORT);
    } catch (const Error&) {  // NOLINT(bugprone-empty-catch): the commit's error is the one to say
    }
  };
  for (std::size_t first = 0; first < entries.size();) {
    StageMessage stage = build_txn_stage(family_id(), entries, first, kStageBytes);
    try {
      sock_->transact(stage.msg, SOCK_VS_CMD_TXN_STAGE);
    } catch (const Error& e) {
      // NLMSGERR_ATTR_OFFS counts from the message's header, which libnl
      // wrote at the start of its buffer.
      const auto place = e.attr_offset()
                             ? locate_txn_offset(entries, layouts, first, stage.offsets,
                                                 *e.attr_offset())
                             : std::nullopt;
      abort();
      if (!place) {
        throw;
      }
      const TxnService& s = txn.services[place->entry];
      const ServiceKey key = s.service.key();
      const std::string ack = strip_service_label(e.ext_ack(), key);
      std::string where = txn_service_label(key);
      std::string reason;
      if (place->dest) {
        const RealServer& d = s.dests[*place->dest];
        where += ", real server " + format_endpoint(d.addr, d.port);
        reason = describe_kernel_error(SOCK_VS_CMD_NEW_DEST, e.code(), ack);
      } else {
        reason = describe_kernel_error(SOCK_VS_CMD_NEW_SERVICE, e.code(), ack, s.service.sched_name);
      }
      throw TxnError(e.code(), place->entry, place->dest, place->attr, where, reason, e.ext_ack());
    }
    first += stage.count;
  }
  std::optional<TxnResult> result;
  sock_->transact(build_txn_commit(family_id()), SOCK_VS_CMD_TXN_COMMIT,
                  [&result](const nlmsghdr* nlh) { result = parse_txn_reply(nlh); });
  return result.value_or(TxnResult{});
}

// --- the table in memory -------------------------------------------------------------

TableModel::TableModel(std::vector<Entry> table) {
  for (auto& e : table) {
    ModelService s;
    s.service = std::move(e.service);
    for (auto& d : e.dests) {
      s.dests.push_back(ModelDest{std::move(d), {}});
    }
    insert(std::move(s));
  }
}

// Protocol, port, family and address bytes: equal exactly when the keys are.
std::string TableModel::index_key(const ServiceKey& key) {
  std::string k;
  const auto bytes = key.addr.bytes();
  k.reserve(5 + bytes.size());
  k.push_back(static_cast<char>(key.protocol & 0xff));
  k.push_back(static_cast<char>(key.protocol >> 8));
  k.push_back(static_cast<char>(key.port & 0xff));
  k.push_back(static_cast<char>(key.port >> 8));
  k.push_back(static_cast<char>(key.af()));
  k.append(bytes.begin(), bytes.end());
  return k;
}

void TableModel::insert(ModelService s) {
  std::string k = index_key(s.service.key());
  table_.push_back(std::move(s));
  index_.insert_or_assign(std::move(k), std::prev(table_.end()));
}

TableModel::ModelService* TableModel::find(const ServiceKey& key) {
  const auto it = index_.find(index_key(key));
  return it == index_.end() ? nullptr : &*it->second;
}

TableModel::ModelService& TableModel::must_find(std::uint8_t cmd, const ServiceKey& key) {
  ModelService* s = find(key);
  if (s == nullptr) {
    throw kernel_error(cmd, ESRCH, "no such service");
  }
  return *s;
}

std::vector<TableModel::ModelDest>::iterator TableModel::find_dest(ModelService& s,
                                                                  const RealServer& dest) {
  return std::find_if(s.dests.begin(), s.dests.end(), [&dest](const ModelDest& d) {
    return d.dest.addr == dest.addr && d.dest.port == dest.port;
  });
}

void TableModel::mark(Lines& lines, const std::vector<std::uint16_t>& types) const {
  for (const std::uint16_t t : types) {
    lines.attr[t] = line_;
  }
}

void TableModel::add_service(const Service& svc) {
  (void)build_new_service(0, svc);  // the client's checks, as Client::add_service
  if (find(svc.key()) != nullptr) {
    throw kernel_error(SOCK_VS_CMD_NEW_SERVICE, EEXIST, "service already exists");
  }
  ModelService s;
  s.service = svc;
  s.lines.line = line_;
  s.touched = true;
  insert(std::move(s));
  // Deleted by an earlier line and back: the same service, changed.
  std::erase(deleted_, svc.key());
}

void TableModel::edit_service(const Service& svc) {
  (void)build_set_service(0, svc);
  ModelService& s = must_find(SOCK_VS_CMD_SET_SERVICE, svc.key());
  std::vector<std::uint16_t> types;
  s.service = merge_service_edit(s.service, svc, &types);
  mark(s.lines, types);
  if (s.lines.line == 0) {
    s.lines.line = line_;
  }
  s.touched = true;
}

std::uint32_t TableModel::del_service(const ServiceKey& key) {
  must_find(SOCK_VS_CMD_DEL_SERVICE, key);
  const auto it = index_.find(index_key(key));
  table_.erase(it->second);
  index_.erase(it);
  if (!flushed_) {
    deleted_.push_back(key);
  }
  return 0;
}

Service TableModel::get_service(const ServiceKey& key) {
  ModelService& s = must_find(SOCK_VS_CMD_GET_SERVICE, key);
  Service out = s.service;
  out.num_dests = static_cast<std::uint32_t>(s.dests.size());
  return out;
}

std::vector<Service> TableModel::list_services() {
  std::vector<Service> out;
  for (const auto& s : table_) {
    out.push_back(s.service);
    out.back().num_dests = static_cast<std::uint32_t>(s.dests.size());
  }
  return out;
}

void TableModel::add_dest(const ServiceKey& key, const RealServer& dest) {
  (void)build_new_dest(0, key, dest);
  ModelService& s = must_find(SOCK_VS_CMD_NEW_DEST, key);
  if (find_dest(s, dest) != s.dests.end()) {
    throw kernel_error(SOCK_VS_CMD_NEW_DEST, EEXIST, "real server already exists");
  }
  ModelDest d{dest, {}};
  d.lines.line = line_;
  s.dests.push_back(std::move(d));
  s.touched = true;
}

void TableModel::edit_dest(const ServiceKey& key, const RealServer& dest) {
  (void)build_set_dest(0, key, dest);
  ModelService& s = must_find(SOCK_VS_CMD_SET_DEST, key);
  const auto it = find_dest(s, dest);
  if (it == s.dests.end()) {
    throw kernel_error(SOCK_VS_CMD_SET_DEST, ENOENT, "no such real server");
  }
  if (dest.shards && *dest.shards != it->dest.shards.value_or(1)) {
    throw kernel_error(SOCK_VS_CMD_SET_DEST, EINVAL,
                       "shards of a real server cannot change (delete, add)");
  }
  std::vector<std::uint16_t> types;
  it->dest = merge_dest_edit(key, it->dest, dest, &types);
  mark(it->lines, types);
  if (it->lines.line == 0) {
    it->lines.line = line_;
  }
  s.touched = true;
}

std::uint32_t TableModel::del_dest(const ServiceKey& key, const RealServer& dest) {
  ModelService& s = must_find(SOCK_VS_CMD_DEL_DEST, key);
  const auto it = find_dest(s, dest);
  if (it == s.dests.end()) {
    throw kernel_error(SOCK_VS_CMD_DEL_DEST, ENOENT, "no such real server");
  }
  s.dests.erase(it);
  s.touched = true;
  return 0;
}

std::vector<RealServer> TableModel::list_dests(const ServiceKey& key) {
  std::vector<RealServer> out;
  for (const auto& d : must_find(SOCK_VS_CMD_GET_DEST, key).dests) {
    out.push_back(d.dest);
  }
  return out;
}

std::uint32_t TableModel::flush() {
  table_.clear();
  index_.clear();
  deleted_.clear();
  flushed_ = true;
  flush_line_ = line_;
  return 0;
}

std::uint32_t TableModel::kill(const ServiceKey& /*key*/, const std::optional<RealServer>& /*dest*/,
                               std::optional<Terminate> /*policy*/) {
  throw Error(EINVAL, "-K cannot be part of a transaction");
}

void TableModel::zero(const std::optional<ServiceKey>& key) {
  if (key) {
    must_find(SOCK_VS_CMD_ZERO, *key);
  }
  zeros_.push_back(key);
}

Info TableModel::info() { return Info{}; }

Transaction TableModel::transaction() const {
  Transaction txn;
  txn.replace = flushed_;
  order_.clear();
  for (const auto& s : table_) {
    if (!flushed_ && !s.touched) {
      continue;  // as it is
    }
    TxnService ts;
    ts.service = s.service;
    for (const auto& d : s.dests) {
      ts.dests.push_back(d.dest);
    }
    txn.services.push_back(std::move(ts));
    order_.push_back(&s);
  }
  for (const auto& key : deleted_) {
    TxnService ts;
    ts.service = Service::from_key(key);
    ts.remove = true;
    txn.services.push_back(std::move(ts));
    order_.push_back(nullptr);
  }
  return txn;
}

int TableModel::line_of(std::size_t entry, std::optional<std::size_t> dest,
                        std::uint16_t attr) const {
  if (entry >= order_.size() || order_[entry] == nullptr) {
    return 0;
  }
  const ModelService& s = *order_[entry];
  const Lines* lines = &s.lines;
  if (dest && *dest < s.dests.size()) {
    lines = &s.dests[*dest].lines;
  }
  if (attr != 0) {
    if (const auto it = lines->attr.find(attr); it != lines->attr.end()) {
      return it->second;
    }
  }
  if (lines->line != 0) {
    return lines->line;
  }
  return dest ? s.lines.line : 0;
}

}  // namespace sockvs
