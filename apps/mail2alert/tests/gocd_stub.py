#!/usr/bin/python3
"""A stand-in for the GoCD API (and Slack's chat.postMessage) for the tests.

    gocd_stub.py [PORT]      prints "listening on 127.0.0.1:PORT" when ready

GET /go/api/config/pipeline_groups and /go/cctray.xml need basic auth
olle:pelle (401 otherwise).  /control/... (no auth) changes behaviour at
run time: groups-delay?s=SECONDS, groups-status?code=CODE, and /control/log
returns what was requested and what Slack got, as JSON.
"""
import base64
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GROUPS = [{"pipelines": [{"name": "my-pipeline"}], "name": "my-group"}]
CCTRAY = '''<?xml version="1.0" encoding="utf-8"?>
<Projects>
    <Project name="my-pipeline :: defaultStage" activity="Building" lastBuildStatus="Success"
        lastBuildLabel="1" lastBuildTime="2017-05-18T15:31:16"
        webUrl="http://localhost:8153/go/pipelines/p1/5/defaultStage/1"/>
    <Project name="my-pipeline :: defaultStage :: defaultJob" activity="Building" lastBuildStatus="Success"
        lastBuildLabel="1" lastBuildTime="2017-05-18T15:31:16"
        webUrl="http://localhost:8153/go/tab/build/detail/p1/5/defaultStage/1/defaultJob"/>
</Projects>'''
state = {"groups_delay": 0.0, "groups_status": 200, "requests": [], "slack": []}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        want = "Basic " + base64.b64encode(b"olle:pelle").decode()
        return self.headers.get("Authorization") == want

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path.startswith("/control/"):
            what = u.path[len("/control/"):]
            with lock:
                if what == "groups-delay":
                    state["groups_delay"] = float(q["s"][0])
                elif what == "groups-status":
                    state["groups_status"] = int(q["code"][0])
                elif what == "log":
                    return self.send(200, json.dumps({"requests": state["requests"],
                                                      "slack": state["slack"]}).encode())
            return self.send(200, b"{}")
        with lock:
            state["requests"].append(u.path)
        if not self.authorized():
            return self.send(401, b"unauthorized", "text/plain")
        if u.path == "/go/api/config/pipeline_groups":
            with lock:
                delay, code = state["groups_delay"], state["groups_status"]
            if delay:
                time.sleep(delay)
            if code != 200:
                return self.send(code, b"error", "text/plain")
            return self.send(200, json.dumps(GROUPS, indent=4).encode())
        if u.path == "/go/cctray.xml":
            return self.send(200, CCTRAY.encode(), "application/xml")
        self.send(404, b"not found", "text/plain")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode()
        if self.path == "/api/chat.postMessage":
            with lock:
                state["slack"].append(dict(urllib.parse.parse_qsl(body, keep_blank_values=True)))
            return self.send(200, b'{"ok": true}')
        self.send(404, b"not found", "text/plain")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client dropping a kept-alive connection is not news


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    srv = Server(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
