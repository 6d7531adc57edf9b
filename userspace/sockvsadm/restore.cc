#include "restore.h"

namespace sockvsadm {

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

}  // namespace sockvsadm
