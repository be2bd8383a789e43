#!/usr/bin/env python3
"""examples/httpbin from the outside, with real clients: python's
http.client and raw sockets, and curl when it is installed.  Every route,
HEAD, 404/405, query strings, pipelining, -t THREADS, SIGINT/SIGTERM exit
0, and --cert/--key when the build has the TLS module.

    test_httpbin.py BUILD/examples/httpbin
"""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

EXE = os.path.abspath(sys.argv[1])
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what, flush=True)


def start(*args):
    p = subprocess.Popen([EXE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    check(line.startswith("listening on 127.0.0.1:"), "banner: %r" % line)
    port = int(line.strip().rsplit(":", 1)[1])
    check(port > 0, "real port printed")
    return p, port


def stop(p, sig=signal.SIGTERM):
    p.send_signal(sig)
    try:
        rc = p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hung"
    check(rc == 0, "exit status after %s: %r" % (signal.Signals(sig).name, rc))


def req(port, method, path, body=None, headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r, data


def pattern(n):
    block = bytes(i % 251 for i in range(251))
    return (block * (n // 251 + 1))[:n]


def routes(port):
    # GET /
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    r, d = req(port, "GET", "/", conn=c)
    check(r.status == 200 and d == b"Hello, World!", "GET / body")
    check(r.getheader("Content-Type") == "text/plain", "GET / type")
    check(r.getheader("Server") == "corio", "Server: corio")
    check(r.getheader("Date") is not None, "Date")
    # keep-alive: the same connection again
    r, d = req(port, "GET", "/?a=b", conn=c)
    check(r.status == 200 and d == b"Hello, World!", "keep-alive, query ignored")
    c.close()
    # /bytes
    for n in (0, 1, 250, 251, 252, 65511, 65512, 1000000):
        r, d = req(port, "GET", "/bytes/%d" % n)
        check(r.status == 200 and d == pattern(n), "bytes/%d" % n)
        check(r.getheader("Content-Type") == "application/octet-stream", "bytes type")
        check(r.getheader("Content-Length") == str(n), "bytes length")
    r, d = req(port, "GET", "/bytes/100000000")
    check(r.status == 200 and len(d) == 100000000 and d[:1000] == pattern(1000) and d[-1] == (99999999 % 251), "bytes/1e8")
    r, d = req(port, "GET", "/bytes/100000001")
    check(r.status == 400, "bytes over the limit: %d" % r.status)
    # /stream
    for n in (0, 1, 5, 1000):
        r, d = req(port, "GET", "/stream/%d" % n)
        check(r.status == 200 and r.getheader("Transfer-Encoding") == "chunked", "stream chunked")
        check(d == "".join("line %d\n" % i for i in range(n)).encode(), "stream/%d body" % n)
    r, d = req(port, "GET", "/stream/100000")
    check(r.status == 200 and d.endswith(b"line 99999\n") and d.count(b"\n") == 100000, "stream/100000")
    r, d = req(port, "GET", "/stream/100001")
    check(r.status == 400, "stream over the limit")
    # /echo
    for m in ("POST", "PUT"):
        r, d = req(port, m, "/echo", body=b"abc\x00def", headers={"Content-Type": "text/x-test"})
        check(r.status == 200 and d == b"abc\x00def" and r.getheader("Content-Type") == "text/x-test", m + " echo")
        r, d = req(port, m, "/echo", body=b"")
        check(r.status == 200 and d == b"" and r.getheader("Content-Type") == "application/octet-stream", m + " empty echo")
    big = os.urandom(3 * 1024 * 1024 + 7)
    r, d = req(port, "POST", "/echo", body=big)
    check(r.status == 200 and d == big, "echo 3 MiB")
    # chunked request body
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/echo", body=iter([b"hel", b"lo ", b"world"]), encode_chunked=True,
              headers={"Transfer-Encoding": "chunked"})
    r = c.getresponse()
    check(r.status == 200 and r.read() == b"hello world", "echo chunked")
    c.close()
    # over 100 MiB: 413 from the head alone
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 104857601\r\n\r\n")
    resp = s.recv(1000)
    check(resp.startswith(b"HTTP/1.1 413 "), "413: %r" % resp[:40])
    s.close()
    # exactly 100 MiB is accepted
    huge = b"x" * (100 * 1024 * 1024)
    r, d = req(port, "PUT", "/echo", body=huge)
    check(r.status == 200 and len(d) == len(huge), "echo 100 MiB")
    del huge
    # /status
    for n in (200, 201, 204, 304, 404, 418, 500, 599):
        r, d = req(port, "GET", "/status/%d" % n)
        check(r.status == n and d == b"", "status/%d" % n)
    for n in (199, 600, 100):
        r, d = req(port, "GET", "/status/%d" % n)
        check(r.status == 400, "status/%d refused" % n)
    # /redirect
    for n in (1, 2, 20):
        r, d = req(port, "GET", "/redirect/%d" % n)
        want = "/" if n == 1 else "/redirect/%d" % (n - 1)
        check(r.status == 302 and r.getheader("Location") == want, "redirect/%d" % n)
    for n in (0, 21):
        r, d = req(port, "GET", "/redirect/%d" % n)
        check(r.status == 400, "redirect/%d refused" % n)
    # /headers: raw, to control order and case
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /headers HTTP/1.1\r\nHost: h\r\nX-One: 1\r\nX-TWO:  two \r\nx-one: again\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    check(body == b"host: h\nx-one: 1\nx-two: two\nx-one: again\nconnection: close\n", "headers body %r" % body)
    check(b"Content-Type: text/plain\r\n" in head, "headers type")
    # HEAD on GET routes
    for path in ("/", "/bytes/1000", "/stream/3", "/status/404", "/redirect/2", "/headers", "/delay/0"):
        rg, dg = req(port, "GET", path)
        rh, dh = req(port, "HEAD", path)
        check(rh.status == rg.status and dh == b"", "HEAD %s" % path)
        hg = {k: v for k, v in rg.getheaders() if k != "Date" and k != "Content-Length"}
        hh = {k: v for k, v in rh.getheaders() if k != "Date" and k != "Content-Length"}
        if path != "/headers":
            check(hg == hh, "HEAD headers %s: %r %r" % (path, hg, hh))
            check(rg.getheader("Content-Length") == rh.getheader("Content-Length"), "HEAD length %s" % path)
    # 404 / 405
    for path in ("/nope", "/bytes", "/bytes/1/2", "/echo/x", "/delay/abc", "/bytes/-1"):
        r, d = req(port, "GET", path)
        check(r.status == 404, "404 %s: %d" % (path, r.status))
    r, d = req(port, "GET", "/echo")
    check(r.status == 405 and r.getheader("Allow") == "POST, PUT", "405 echo: %r" % r.getheader("Allow"))
    r, d = req(port, "DELETE", "/")
    check(r.status == 405 and r.getheader("Allow") == "GET, HEAD", "405 /")
    r, d = req(port, "POST", "/bytes/5", body=b"x")
    check(r.status == 405, "405 POST bytes")


def delays(port):
    # /delay/1 does not hold back other requests
    out = {}

    def slow():
        t = time.monotonic()
        r, d = req(port, "GET", "/delay/1")
        out["slow"] = (r.status, d, time.monotonic() - t)

    th = threading.Thread(target=slow)
    th.start()
    time.sleep(0.2)
    t = time.monotonic()
    r, d = req(port, "GET", "/")
    fast = time.monotonic() - t
    th.join()
    check(out["slow"][0] == 200 and out["slow"][1] == b"ok\n", "delay body")
    check(out["slow"][2] >= 0.95, "delay lasted %.2f" % out["slow"][2])
    check(fast < out["slow"][2], "others are not blocked by a delay")
    r, d = req(port, "GET", "/delay/0.2")
    check(r.status == 200 and d == b"ok\n" and r.getheader("Content-Type") == "text/plain", "delay/0.2")
    r, d = req(port, "GET", "/delay/11")
    check(r.status == 400, "delay/11 refused")


def pipelining(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 16 + b"GET /bytes/3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    check(data.count(b"Hello, World!") == 16 and data.endswith(b"\x00\x01\x02"), "pipelined 17")


def bad(port):
    for raw, code in ((b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n", b"400"),
                      (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", b"400"),
                      (b"GET / HTTP/1.1\nHost: a\n\n", b"400"),
                      (b"\x00\x01\x02garbage\r\n\r\n", b"400")):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(raw)
        resp = s.recv(1000)
        check(resp.startswith(b"HTTP/1.1 " + code), "bad request %r: %r" % (raw[:30], resp[:20]))
        s.close()


def curl(port, scheme="http", extra=()):
    if not shutil.which("curl"):
        print("SKIP: curl is not installed")
        return
    base = "%s://127.0.0.1:%d" % (scheme, port)
    def run(*a):
        return subprocess.run(["curl", "-sS", "--max-time", "30", *extra, *a], capture_output=True)
    p = run(base + "/")
    check(p.returncode == 0 and p.stdout == b"Hello, World!", "curl / %r" % p.stderr)
    p = run("-L", base + "/redirect/3")
    check(p.stdout == b"Hello, World!", "curl -L redirect")
    p = run("--data-binary", "@" + EXE, "-H", "Content-Type: application/x-bin", base + "/echo")
    check(p.stdout == open(EXE, "rb").read(), "curl echo binary")
    p = run("-T", "-", base + "/echo", input=None) if False else None
    p = run("-H", "Transfer-Encoding: chunked", "--data-binary", "hello", base + "/echo")
    check(p.stdout == b"hello", "curl chunked echo")
    p = run("-o", "/dev/null", "-w", "%{http_code} %{size_download}", base + "/bytes/5000000")
    check(p.stdout == b"200 5000000", "curl bytes %r" % p.stdout)
    p = run("-I", base + "/stream/3")
    check(b"Transfer-Encoding: chunked" in p.stdout, "curl HEAD stream")
    p = run(base + "/stream/3")
    check(p.stdout == b"line 0\nline 1\nline 2\n", "curl stream")


def main():
    p, port = start("0")
    try:
        routes(port)
        delays(port)
        pipelining(port)
        bad(port)
        curl(port)
    finally:
        stop(p, signal.SIGTERM)
    # graceful SIGINT with a request in flight: it completes, exit 0
    p, port = start("0")
    res = {}
    def slow():
        try:
            r, d = req(port, "GET", "/delay/1")
            res["r"] = (r.status, d)
        except Exception as e:
            res["r"] = e
    th = threading.Thread(target=slow)
    th.start()
    time.sleep(0.3)
    stop(p, signal.SIGINT)
    th.join()
    check(res.get("r") == (200, b"ok\n"), "in-flight request survives shutdown: %r" % (res.get("r"),))
    # several threads
    p, port = start("-t", "2", "0")
    try:
        for _ in range(20):
            r, d = req(port, "GET", "/")
            check(r.status == 200 and d == b"Hello, World!", "-t 2")
        delays(port)
        curl(port)
    finally:
        stop(p, signal.SIGINT)
    # TLS, when built in
    tmp = tempfile.mkdtemp()
    cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    have_openssl = shutil.which("openssl") is not None
    if have_openssl:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1"], capture_output=True, check=True)
        q = subprocess.Popen([EXE, "--cert", cert, "--key", key, "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = q.stdout.readline()
        if line.startswith("listening"):
            port = int(line.strip().rsplit(":", 1)[1])
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["http/1.1"])
            c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
            r, d = req(port, "GET", "/", conn=c)
            check(r.status == 200 and d == b"Hello, World!", "https GET /")
            r, d = req(port, "POST", "/echo", body=b"x" * 100000, conn=c)
            check(r.status == 200 and d == b"x" * 100000, "https echo")
            check(c.sock.selected_alpn_protocol() == "http/1.1", "ALPN http/1.1")
            c.close()
            curl(port, "https", ("-k",))
            stop(q, signal.SIGTERM)
        else:
            err = q.stderr.read()
            q.wait()
            check("TLS module" in err, "--cert without TLS says so: %r" % err)
            print("SKIP: this build has no TLS module (%s)" % err.strip())
    shutil.rmtree(tmp)
    print("%d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
