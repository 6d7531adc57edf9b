// libsockvs: everything.
#ifndef SOCKVS_SOCKVS_H_
#define SOCKVS_SOCKVS_H_

#include "sockvs/address.h"      // IWYU pragma: export
#include "sockvs/client.h"       // IWYU pragma: export
#include "sockvs/error.h"        // IWYU pragma: export
#include "sockvs/genl_socket.h"  // IWYU pragma: export
#include "sockvs/messages.h"     // IWYU pragma: export
#include "sockvs/types.h"        // IWYU pragma: export

#endif  // SOCKVS_SOCKVS_H_
