# tests/integration/shipd_odd.py: a server on loopback that does one
# thing wrong, in place of ingestd, for the shipd tests (through
# shipd_odd.inc).  HTTP/1.1 over TLS; it logs each request to LOG as
# "PUT PATH", or "EXPECT PATH" for an Expect: 100-continue answered
# before the body.  MODE:
#   silent	reads the body, never answers
#   twice	answers the first PUT twice in one write (201 and 201)
#   417		417 to everything, before the body when Expect is sent
#   expect417	417 to Expect: 100-continue; 201 to the request without
#   (else)	503 to every PUT
import http.server, os, ssl, sys

crt, key, portfile, log, mode = sys.argv[1:6]
puts = 0

def note(what):
    with open(log, "a") as f:
        f.write(what + "\n")

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_expect_100(self):
        if mode in ("417", "expect417"):
            note("EXPECT %s" % self.path)
            self.send_response_only(417)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return False
        return super().handle_expect_100()

    def do_PUT(self):
        global puts
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        puts += 1
        note("PUT %s" % self.path)
        if mode == "silent":
            # Never answers: waits for the client to go.
            self.rfile.read(1)
            self.close_connection = True
        elif mode == "twice" and puts == 1:
            # Two answers in one write: the second answers nothing.
            r = b"HTTP/1.1 201 Created\r\nContent-Length: 6\r\n\r\nstored"
            self.wfile.write(r + r)
        else:
            code = {"417": 417, "expect417": 201}.get(mode, 503)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(crt, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
