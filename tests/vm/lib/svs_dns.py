"""DNS for the guest cases: real dnsmasq servers and a minimal client that
keeps one connected UDP socket across queries (as nginx's resolver does)."""

import errno
import select
import socket
import struct

import svs

NAME = "test.svs"


def dnsmasq(port, answer, host="127.0.0.1"):
    """A dnsmasq on host:port (UDP and TCP) answering NAME with address `answer`."""
    p = svs.spawn(["dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                   "--port=%d" % port, "--listen-address=%s" % host, "--bind-interfaces",
                   "--address=/%s/%s" % (NAME, answer), "--user=root", "--group=root",
                   "--pid-file", "--log-facility=-"])
    svs.wait_for(lambda: DnsClient(host, port).query() == answer, 30, "dnsmasq on %s:%d" % (host, port))
    return p


def query_packet(qid, name=NAME):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", 1, 1)


def answer_of(reply):
    """The A record of a reply to one question (the last 4 bytes)."""
    if len(reply) < 16 or struct.unpack("!H", reply[6:8])[0] < 1:
        raise svs.Fail("DNS reply without an answer: %r" % reply)
    return socket.inet_ntoa(reply[-4:])


class DnsClient:
    """One connected UDP socket, kept across queries."""

    def __init__(self, host, port=53):
        self.addr = (host, port)
        self.qid = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        svs.defer(self.sock.close)
        self.sock.connect(self.addr)

    def reconnect(self):
        self.sock.connect(self.addr)

    def query(self):
        """The answer, or the errno of the failure. A send on a socket whose
        connection was terminated finds no destination (EDESTADDRREQ): then
        the pending error (SO_ERROR, ECONNABORTED) is what is returned."""
        self.qid += 1
        try:
            self.sock.send(query_packet(self.qid))
        except OSError as e:
            pending = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            svs.log("  (send: %s, SO_ERROR %s)" % (svs.errno_name(e.errno), svs.errno_name(pending)))
            return pending if e.errno == errno.EDESTADDRREQ and pending else e.errno
        r, _, _ = select.select([self.sock], [], [], svs.SOCK_TIMEOUT)
        if not r:
            raise svs.Fail("no DNS answer from %s within %ss" % (self.addr, svs.SOCK_TIMEOUT))
        try:
            return answer_of(self.sock.recv(512))
        except OSError as e:
            return e.errno
