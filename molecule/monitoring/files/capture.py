# SPDX-License-Identifier: GPL-3.0-or-later
"""A webhook receiver for tests: appends each POSTed body as one line to a file.

Usage: capture.py PORT FILE   (listens on 127.0.0.1 only)
"""

import http.server
import sys

PORT, OUT = int(sys.argv[1]), sys.argv[2]


class Capture(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(OUT, "ab") as fh:
            fh.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Capture).serve_forever()
