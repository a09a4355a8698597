#!/usr/bin/env python3
"""A receiver of integration events for local trials of `handler serve`.

Listens on 127.0.0.1 (port from the first argument, default 8090), accepts
POSTs of CloudEvents batches (application/cloudevents-batch+json, as
INTEGRATION_WEBHOOK_URL receives them) and prints one line per event:
id, type, subject and data. Answers 204, or 400 to a body that is not a JSON
array. Stop it with Ctrl-C.

    python3 scripts/receive-events.py 8090 &
    INTEGRATION_WEBHOOK_URL=http://127.0.0.1:8090/events build/handler serve
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            events = json.loads(body)
            if not isinstance(events, list):
                raise ValueError("not a batch")
        except ValueError:
            self.send_response(400)
            self.end_headers()
            return
        for e in events:
            print(e.get("id"), e.get("type"), e.get("subject", "-"),
                  json.dumps(e.get("data"), sort_keys=True), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8090
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    print(f"receiving integration events on http://127.0.0.1:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
