// sockvsadm -R input: parsed completely before anything is applied.
#ifndef SOCKVSADM_RESTORE_H_
#define SOCKVSADM_RESTORE_H_

#include <istream>
#include <string>
#include <vector>

#include "cli.h"

namespace sockvsadm {

struct RestoreLine {
  int line_no = 0;  // 1-based line number in the input
  Command command;

  friend bool operator==(const RestoreLine&, const RestoreLine&) = default;
};

// A malformed -R input line.  what() is "line N: <problem>".
class RestoreError : public UsageError {
 public:
  RestoreError(int line_no, const std::string& problem);
  [[nodiscard]] int line_no() const noexcept { return line_no_; }

 private:
  int line_no_;
};

// Parses all of `in`: one command per line in ipvsadm argument syntax (as
// -S prints), skipping blank lines and lines whose first non-blank
// character is '#'.  Only commands that change state are allowed (-A -E -D
// -a -e -d -C -Z).  Host and service names are resolved through `names`
// as on the command line (parse_command), all of them before anything is
// applied: a name that does not resolve is a bad line.  Throws RestoreError
// for the first bad line.
std::vector<RestoreLine> parse_restore(std::istream& in, const Resolver& names);

// The same with no_names(): numbers only.
std::vector<RestoreLine> parse_restore(std::istream& in);

}  // namespace sockvsadm

#endif  // SOCKVSADM_RESTORE_H_
