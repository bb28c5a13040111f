# SPDX-License-Identifier: BSD-3-Clause
# backends.py: HTTP backends on 127.0.0.x that stop and start at random, for the soak run.
"""Usage: backends.py PORT SECONDS ADDR...

Each address gets its own server thread that serves GET / with 200 for 2-5 s, then closes its
listening socket (probes see "Connection refused") for 1-4 s, and so on until SECONDS have
passed. Prints one line per address at the end: ADDR UPS DOWNS.
"""

import http.server
import random
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # a probe that timed out closes first; the broken pipe is expected, not news
        pass


def flap(addr, port, end, counts):
    rnd = random.Random(addr)
    ups = downs = 0
    while time.monotonic() < end:
        try:
            srv = Server((addr, port), Handler)
        except OSError:
            # the port is still in TIME_WAIT's grip or taken; count it as down time
            time.sleep(0.5)
            continue
        ups += 1
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                             daemon=True)
        t.start()
        time.sleep(min(rnd.uniform(2, 5), max(0, end - time.monotonic())))
        srv.shutdown()
        srv.server_close()
        t.join()
        downs += 1
        time.sleep(min(rnd.uniform(1, 4), max(0, end - time.monotonic())))
    counts[addr] = (ups, downs)


def main():
    port, seconds, addrs = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
    end = time.monotonic() + seconds
    counts = {}
    threads = [threading.Thread(target=flap, args=(a, port, end, counts)) for a in addrs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a in addrs:
        print(a, *counts.get(a, (0, 0)))


if __name__ == "__main__":
    main()
