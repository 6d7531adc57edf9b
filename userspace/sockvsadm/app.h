// sockvsadm's main program, with its I/O and the module connection passed
// in so that unit tests can run it against an in-memory fake.
#ifndef SOCKVSADM_APP_H_
#define SOCKVSADM_APP_H_

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "cli.h"
#include "restore.h"
#include "sockvs/client.h"

namespace sockvsadm {

// Exit statuses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Opens a connection to the module (sockvs::Client in the real program).
// May throw sockvs::Error (e.g. sockvs::ModuleNotLoadedError).
using ApiFactory = std::function<std::unique_ptr<sockvs::Api>()>;

// The userspace version (the CMake project version).
std::string userspace_version();

// Applies one state-changing command (is_change(cmd.op)).  Returns the
// balanced sockets the module terminated (-d, -D, -C; 0 for the others).
std::uint32_t apply(sockvs::Api& api, const Command& cmd);

// The commands that undo `cmd`, worked out from the module's current state
// (so call it right before applying `cmd`).  Empty if `cmd` cannot be
// undone (-Z) or would fail anyway (e.g. editing a service that does not
// exist).  A deleted service or real server comes back with zero counters.
std::vector<Command> inverse_of(sockvs::Api& api, const Command& cmd);

// Applies -R input all-or-nothing: line by line, and if the module rejects
// one, undoes the lines applied before it (in reverse order).  Throws
// sockvs::Error with "line N: <message> (...)" saying what happened.
void restore(sockvs::Api& api, const std::vector<RestoreLine>& lines);

// Runs sockvsadm with `args` (without argv[0]): reads -R input from `in`,
// writes results to `out` and "sockvsadm: <message>" lines to `err`.
// Connects (through `connect`) only once the arguments are valid (host and
// service names of the arguments, and of every -R line, resolved through
// `names`), and only if the command needs the module.  -L and -S without
// -n print names through `names`; -L -c and --json are always numeric.
// Returns the exit status.
int run(std::span<const std::string> args, std::istream& in, std::ostream& out, std::ostream& err,
        const ApiFactory& connect, const Resolver& names);

// The same with no_names(): numbers only, in and out.
int run(std::span<const std::string> args, std::istream& in, std::ostream& out, std::ostream& err,
        const ApiFactory& connect);

}  // namespace sockvsadm

#endif  // SOCKVSADM_APP_H_
