// sockvsadm -R input: parsed completely before anything is applied.
#ifndef SOCKVSADM_RESTORE_H_
#define SOCKVSADM_RESTORE_H_

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "cli.h"
#include "sockvs/client.h"

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

// Applies -R input all-or-nothing in one kernel transaction: the lines run
// against a copy of the table read from the module (sockvs::TableModel: the
// errors of the single commands, "line N: no such service"), and the table
// they make is committed at once (every connect and every other
// configuring program sees the old table or the new one; services and real
// servers that stay keep their counters and sockets); a refusal of the
// module names its line.  After -C the transaction replaces the table,
// else it replaces the services the lines touch.  The commit happens only
// if the table is still what was read (its generation); if not, it starts
// over, a few times.  -Z lines zero the counters after the commit.  A
// module that predates transactions: a warning on `err`, then restore()
// (line by line, rolled back on failure; not atomic).  Throws
// sockvs::Error: "line N: <message> (nothing was applied)".
void restore_atomic(sockvs::Api& api, const std::vector<RestoreLine>& lines, std::ostream& err);

}  // namespace sockvsadm

#endif  // SOCKVSADM_RESTORE_H_
