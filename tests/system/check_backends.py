# SPDX-License-Identifier: BSD-3-Clause
# check_backends.py: real backends for the check types' tests: certificates, HTTP(S), gRPC.
"""Backends on 127.0.0.x for the check tests (and tests/bench/health.py).

- TcpBackend: accepts (and closes) TCP connections on addr:port; stop() closes
  the port (connections refused), start() opens the same port again.
- make_certs(folder): a CA and certificates made with the `openssl` command:
  good (api.internal and 127.0.0.1, by the CA), expired, wrongname
  (other.internal only), selfsigned (api.internal, its own issuer).
- HttpBackend: a threaded HTTP/1.1 server, plain or TLS (Python's ssl), that
  records every request (method, path, headers) and answers with a status and
  body that the test switches (optionally chunked, or the match placed past
  4 KiB).
- GrpcHealth: a gRPC server (Debian's python3-grpcio, which lacks
  grpc_health) with a generic handler for /grpc.health.v1.Health/Check
  that answers the two-byte HealthCheckResponse: 08 01 SERVING, 08 02
  NOT_SERVING; services it does not know get NOT_FOUND.
"""

import http.server
import os
import socket
import ssl
import subprocess
import threading

CA_CNF = """[ca]
default_ca = test
[test]
dir = {d}
database = {d}/index.txt
serial = {d}/serial
new_certs_dir = {d}
certificate = {d}/ca.pem
private_key = {d}/ca.key
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
"""


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def _key(name, cwd):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
             name + ".key", cwd=cwd)


def _csr(name, cn, san, cwd):
    _key(name, cwd)
    _openssl("req", "-new", "-key", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn,
             "-addext", "subjectAltName=" + san, cwd=cwd)


def make_certs(folder, ips=("127.0.0.1",)):
    """Writes the CA and the certificates into folder; returns {name: (cert, key)} paths
    and "ca" -> the CA's PEM. good is for api.internal and the addresses ips."""
    d = str(folder)
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write(CA_CNF.format(d=d))
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")
    _key("ca", d)
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-out", "ca.pem", "-days", "3650",
             "-subj", "/CN=srvd test CA", cwd=d)

    def sign(name, cn, san, start=None, end=None, days="3650"):
        _csr(name, cn, san, d)
        args = ["ca", "-batch", "-config", "ca.cnf", "-in", name + ".csr", "-out", name + ".pem",
                "-notext"]
        args += ["-startdate", start, "-enddate", end] if start else ["-days", days]
        _openssl(*args, cwd=d)

    sign("good", "api.internal", ",".join(["DNS:api.internal"] + ["IP:" + ip for ip in ips]))
    sign("expired", "api.internal", "DNS:api.internal,IP:127.0.0.1",
         start="20200101000000Z", end="20200102000000Z")
    sign("wrongname", "other.internal", "DNS:other.internal")
    _key("selfsigned", d)
    _openssl("req", "-x509", "-new", "-key", "selfsigned.key", "-out", "selfsigned.pem", "-days",
             "3650", "-subj", "/CN=api.internal", "-addext", "subjectAltName=DNS:api.internal",
             cwd=d)
    out = {n: (os.path.join(d, n + ".pem"), os.path.join(d, n + ".key"))
           for n in ("good", "expired", "wrongname", "selfsigned")}
    out["ca"] = os.path.join(d, "ca.pem")
    return out


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        srv = self.server
        srv.requests.append({"method": self.command, "path": self.path,
                             "headers": {k.lower(): v for k, v in self.headers.items()}})
        body = srv.body if isinstance(srv.body, bytes) else srv.body.encode()
        self.send_response(srv.status)
        if srv.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if srv.chunked:
            for i in range(0, len(body), 7):  # small chunks, to cross chunk boundaries
                part = body[i:i + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _answer

    def log_message(self, fmt, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, tls_context):
        super().__init__(addr, _Handler)
        self.tls_context = tls_context

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls_context is not None:
            # the handshake in the handler's thread, not the accept loop
            sock = self.tls_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request, client_address):
        if self.tls_context is not None:
            try:
                request.settimeout(5)
                request.do_handshake()
            except (ssl.SSLError, OSError):
                return  # the probe refused our certificate: nothing to answer
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass


class HttpBackend:
    """HTTP(S) on addr (port 0: any). cert: (cert, key) paths for TLS, None for plain.
    Attributes to switch: status, body, chunked. requests: what came in."""

    def __init__(self, addr="127.0.0.1", cert=None, status=200, body="ok", port=0):
        ctx = None
        self.sni = []  # the server name of each TLS handshake (None: no SNI sent)
        if cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*cert)
            ctx.sni_callback = lambda sock, name, c: self.sni.append(name)
        self.srv = _Server((addr, port), ctx)
        self.srv.status, self.srv.body, self.srv.chunked = status, body, False
        self.srv.requests = []
        self.addr, self.port = addr, self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def set(self, status=None, body=None, chunked=None):
        if status is not None:
            self.srv.status = status
        if body is not None:
            self.srv.body = body
        if chunked is not None:
            self.srv.chunked = chunked

    @property
    def requests(self):
        return list(self.srv.requests)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class GrpcHealth:
    """A gRPC health server on addr; serving (True/False) is switched by the test.
    cert: (cert, key) for TLS, None for plaintext (h2c)."""

    PATH = "/grpc.health.v1.Health/Check"

    def __init__(self, addr="127.0.0.1", cert=None, services=("",), port=0):
        import grpc  # Debian python3-grpcio
        from concurrent import futures

        self.serving = True
        self.services = set(services)
        self.requests = []
        outer = self

        class Handler(grpc.GenericRpcHandler):
            def service(self, details):
                if details.method != GrpcHealth.PATH:
                    return None  # UNIMPLEMENTED
                return grpc.unary_unary_rpc_method_handler(outer._check)

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                                  handlers=[Handler()])
        if cert:
            with open(cert[0], "rb") as c, open(cert[1], "rb") as k:
                creds = grpc.ssl_server_credentials([(k.read(), c.read())])
            self.port = self.server.add_secure_port("%s:%d" % (addr, port), creds)
        else:
            self.port = self.server.add_insecure_port("%s:%d" % (addr, port))
        self.addr = addr
        self.server.start()

    @staticmethod
    def service_of(request):
        """The service field of a raw HealthCheckRequest ("" when absent)."""
        if not request:
            return ""
        assert request[0] == 0x0A, request
        n, i = request[1], 2
        if n & 0x80:
            n, i = (n & 0x7F) | request[2] << 7, 3
        return request[i:i + n].decode()

    def _check(self, request, context):
        import grpc

        service = self.service_of(request)
        self.requests.append(service)
        if service not in self.services:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return b"\x08\x01" if self.serving else b"\x08\x02"

    def close(self):
        self.server.stop(0)


class TcpBackend:
    """Accepts connections on addr:port and closes them; stop() closes the port
    (connections are then refused), start() opens the same port again."""

    def __init__(self, addr="127.0.0.1", port=0):
        self.addr, self.port = addr, port
        self.sock = None
        self.thread = None
        self.running = False

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.addr, self.port))
        s.listen(64)
        s.settimeout(0.05)
        self.sock, self.port, self.running = s, s.getsockname()[1], True
        self.thread = threading.Thread(target=self._serve, args=(s,), daemon=True)
        self.thread.start()
        return self

    def _serve(self, s):
        while self.running:
            try:
                c, _ = s.accept()
                c.close()
            except socket.timeout:
                continue
            except OSError:
                break

    def stop(self):
        if self.sock is None:
            return
        self.running = False
        self.thread.join(2)
        self.sock.close()
        self.sock = None
