"""A webhook receiver for Alertmanager that records what it gets (local stacks and tests only).

POST /hooks/<receiver>   Alertmanager's webhook payload; kept in memory (the last 1000)
GET  /notifications      every notification so far: [{"receiver", "received_at", "payload"}]
GET  /healthz            liveness
Standard library only, so it runs on the project's base image. Each notification is also
logged as one JSON line (`inv logs alert-receiver`).
"""

import json
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1_048_576
KEPT: deque[dict[str, Any]] = deque(maxlen=1000)
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server_version = "stackyard-alert-receiver"

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/healthz":
            self._answer(200, {"status": "ok"})
        elif self.path == "/notifications":
            with LOCK:
                self._answer(200, list(KEPT))
        else:
            self._answer(404, {"error": f"no route {self.path}"})

    def do_POST(self) -> None:  # noqa: N802
        if not self.path.startswith("/hooks/"):
            self._answer(404, {"error": f"no route {self.path}"})
            return
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self._answer(413, {"error": "body too large"})
            return
        try:
            payload = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            self._answer(400, {"error": "body is not JSON"})
            return
        entry = {"receiver": self.path.removeprefix("/hooks/"), "received_at": time.time(), "payload": payload}
        with LOCK:
            KEPT.append(entry)
        alerts = payload.get("alerts", []) if isinstance(payload, dict) else []
        print(json.dumps({"event": "notification", "receiver": entry["receiver"],
                          "status": payload.get("status") if isinstance(payload, dict) else None,
                          "alerts": [a.get("labels", {}).get("alertname") for a in alerts]}), flush=True)
        self._answer(200, {"status": "recorded"})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # one JSON line per notification is enough


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9095
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    print(json.dumps({"event": "listening", "port": port}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
