#include "restore.h"

#include <cerrno>
#include <string>
#include <utility>

#include "app.h"
#include "sockvs/error.h"
#include "sockvs/txn.h"

namespace sockvsadm {

namespace {

// Tries when the table changes between its reading and the commit.
constexpr int kAttempts = 5;

constexpr const char* kNothing = " (nothing was applied)";

constexpr const char* kNotAtomicWarning =
    "sockvsadm: warning: the sock_vs module predates transactions: applying the rules line by "
    "line (not atomic: connects and other programs may see them half applied)\n";

std::vector<sockvs::TableModel::Entry> read_table(sockvs::Api& api) {
  std::vector<sockvs::TableModel::Entry> table;
  for (auto& svc : api.list_services()) {
    sockvs::TableModel::Entry e{std::move(svc), {}};
    e.dests = api.list_dests(e.service.key());
    table.push_back(std::move(e));
  }
  return table;
}

[[noreturn]] void fail(const sockvs::Error& e, const std::string& msg) {
  throw sockvs::Error(e.code(), msg + kNothing, e.ext_ack());
}

}  // namespace

RestoreError::RestoreError(int line_no, const std::string& problem)
    : UsageError("line " + std::to_string(line_no) + ": " + problem), line_no_(line_no) {}

std::vector<RestoreLine> parse_restore(std::istream& in) { return parse_restore(in, no_names()); }

std::vector<RestoreLine> parse_restore(std::istream& in, const Resolver& names) {
  std::vector<RestoreLine> out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const auto words = split_words(line);
    if (words.empty() || words.front().starts_with('#')) {
      continue;
    }
    Command cmd;
    try {
      cmd = parse_command(words, names);
    } catch (const UsageError& e) {
      throw RestoreError(line_no, e.what());
    }
    if (!is_change(cmd.op)) {
      throw RestoreError(line_no, std::string(op_name(cmd.op)) + " is not allowed in -R input");
    }
    out.push_back(RestoreLine{line_no, std::move(cmd)});
  }
  if (in.bad()) {
    throw UsageError("cannot read the rules from standard input");
  }
  return out;
}


void restore_atomic(sockvs::Api& api, const std::vector<RestoreLine>& lines, std::ostream& err) {
  for (int attempt = 1;; ++attempt) {
    const std::optional<std::uint64_t> gen = api.generation();
    std::vector<sockvs::TableModel::Entry> table = read_table(api);
    if (gen && api.generation() != gen && attempt < kAttempts) {
      continue;  // changed while it was read
    }
    sockvs::TableModel model(std::move(table));
    for (const auto& line : lines) {
      model.set_line(line.line_no);
      try {
        apply(model, line.command);
      } catch (const sockvs::Error& e) {
        fail(e, "line " + std::to_string(line.line_no) + ": " + e.what());
      }
    }
    sockvs::Transaction txn = model.transaction();
    txn.generation = gen;
    try {
      api.commit(txn);
    } catch (const sockvs::TxnError& e) {
      const int line = model.line_of(e.entry(), e.dest(), e.attr());
      fail(e, line != 0 ? "line " + std::to_string(line) + ": " + e.reason() : e.what());
    } catch (const sockvs::Error& e) {
      if (e.code() == EAGAIN && gen) {
        if (attempt < kAttempts) {
          continue;
        }
        fail(e, "the table kept changing while the rules were applied (" +
                    std::to_string(kAttempts) + " tries)");
      }
      if (e.code() == EOPNOTSUPP) {
        err << kNotAtomicWarning;
        restore(api, lines);
        return;
      }
      fail(e, e.what());
    }
    for (const auto& key : model.zeros()) {
      try {
        api.zero(key);
      } catch (const sockvs::Error& e) {
        throw sockvs::Error(e.code(),
                            std::string("the rules are applied, but zeroing the counters failed: ") +
                                e.what(),
                            e.ext_ack());
      }
    }
    return;
  }
}

}  // namespace sockvsadm
