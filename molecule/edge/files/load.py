# SPDX-License-Identifier: GPL-3.0-or-later
"""A bounded request loop against the edge on loopback, for the reload and failover tests.

GET https://<host>:<port>/ over a new TLS connection each time (chain verified with --ca, SNI
<host>, TCP to 127.0.0.1), paced at --rate per second, until --stop exists or --seconds pass
(at most --max requests). Prints {"ok", "failed", "statuses", "errors", "backends"} as JSON:
"backends" counts the answers by the "hostname" the sample app reports (its container, so the
replica that served it). A request fails on any error or a status other than 200.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import ssl
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--stop", required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--max", type=int, default=2000)
    args = parser.parse_args()
    ctx = ssl.create_default_context(cafile=args.ca)
    ok, failed, statuses, errors, backends = 0, 0, {}, [], {}
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline and ok + failed < args.max and not os.path.exists(args.stop):
        started = time.monotonic()
        try:
            sock = socket.create_connection(("127.0.0.1", args.port), timeout=5)
            conn = http.client.HTTPSConnection(args.host, args.port, context=ctx, timeout=5)
            conn.sock = ctx.wrap_socket(sock, server_hostname=args.host)
            conn.request("GET", "/")
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            backend = _backend(body)
            backends[backend] = backends.get(backend, 0) + 1
            statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
            if resp.status == 200:
                ok += 1
            else:
                failed += 1
        except (OSError, http.client.HTTPException) as exc:
            failed += 1
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(max(0.0, 1 / args.rate - (time.monotonic() - started)))
    print(json.dumps({"ok": ok, "failed": failed, "statuses": statuses, "errors": errors[:10], "backends": backends}))


def _backend(body: bytes) -> str:
    """The replica that answered: the sample app's "hostname" field, or "?" for another answer."""
    try:
        answer = json.loads(body)
    except ValueError:
        return "?"
    return str(answer.get("hostname", "?")) if isinstance(answer, dict) else "?"


if __name__ == "__main__":
    main()
