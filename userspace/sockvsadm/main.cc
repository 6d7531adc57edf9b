// sockvsadm: administer sock_vs with ipvsadm's syntax.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "app.h"
#include "resolver.h"
#include "sockvs/client.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const sockvsadm::SystemResolver names;  // getaddrinfo, getnameinfo, /etc/services
  const int status = sockvsadm::run(
      args, std::cin, std::cout, std::cerr, [] { return std::make_unique<sockvs::Client>(); },
      names);
  std::cout.flush();
  return std::cout.good() ? status : sockvsadm::kExitFailure;
}
