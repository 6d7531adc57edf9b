#!/usr/bin/env python3
"""Many EchoServers in one process (oneshot TCP: the server closes first).

    echo_servers.py tcp:127.0.0.1:9610 udp:[::1]:9610 ...   prints READY
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svs  # noqa: E402


def main():
    servers = []
    for spec in sys.argv[1:]:
        proto, rest = spec.split(":", 1)
        host, port = svs.split_addr(rest)
        servers.append(svs.EchoServer(proto, host, port, oneshot=(proto == "tcp"), backlog=1024))
    print("READY", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
