#!/usr/bin/env python3
# tests/lab/servers.py SECONDS PORTS...: the lab's plain servers, run in
# the server namespace (a test tool, not part of VBS).  Each PORT is
# KIND:PORT with KIND one of
#   http   a threaded HTTP/1.1 server: GET /N answers N bytes
#   echo   a threaded TCP echo server (closes when the client does)
#   udp    a UDP echo server (answers every datagram with itself)
# Every server listens on :: with IPV6_V6ONLY off, so it serves IPv4 and
# IPv6 on one port.  Exits after SECONDS at the latest.
import http.server, os, socket, socketserver, sys, threading, time

limit = float(sys.argv[1])


class V6:
    address_family = socket.AF_INET6
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    chunk = b"x" * 65536

    def do_GET(self):
        try:
            n = int(self.path.strip("/") or "0")
        except ValueError:
            n = 0
        n = max(0, min(n, 64 << 20))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.send_header("Connection", "close")
        self.end_headers()
        while n > 0:
            k = min(n, len(self.chunk))
            self.wfile.write(self.chunk[:k])
            n -= k
        self.close_connection = True

    def log_message(self, *a):
        pass


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(limit)
        while True:
            d = self.request.recv(65536)
            if not d:
                break
            self.request.sendall(d)


class HTTP(V6, http.server.ThreadingHTTPServer):
    pass


class TCPEcho(V6, socketserver.ThreadingTCPServer):
    pass


def udp_echo(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("::", port))
    while True:
        d, a = s.recvfrom(65536)
        s.sendto(d, a)


for spec in sys.argv[2:]:
    kind, port = spec.split(":")
    port = int(port)
    if kind == "http":
        srv = HTTP(("::", port), Handler)
        target = srv.serve_forever
    elif kind == "echo":
        srv = TCPEcho(("::", port), Echo)
        target = srv.serve_forever
    elif kind == "udp":
        target = (lambda p: lambda: udp_echo(p))(port)
    else:
        sys.exit("servers.py: unknown kind " + kind)
    threading.Thread(target=target, daemon=True).start()
print("ready", flush=True)
time.sleep(limit)
os._exit(0)
