#!/usr/bin/env python3
"""odd_server.py - a raw HTTP/1.1 server for the client's tests: responses
that a well-behaved server library would not send (1xx first, close-
delimited bodies, lies about Content-Length, bare LF, a chunked body one
byte per send, raw deflate, a server that never answers, a kept-alive
connection closed under the client), plus small echo routes for auth and
redirect tests.

    python3 odd_server.py        # prints "listening on 127.0.0.1:PORT"

Every route reads the request head (and a Content-Length body), then
answers as its path says.  /conns counts the connections accepted so far.
"""
import gzip
import socket
import sys
import threading
import time
import zlib

conns = 0
lock = threading.Lock()


def read_request(f):
    line = f.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, v = h.decode("latin-1").split(":", 1)
        headers[k.strip().lower()] = v.strip()
    body = b""
    if "content-length" in headers:
        body = f.read(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b""):
                    pass
                break
            body += f.read(size)
            f.readline()
    return method, target, headers, body


def resp(status, body=b"", extra=b"", reason=b"OK"):
    return b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n%s\r\n%s" % (status, reason, len(body), extra, body)


def serve(conn):
    global conns
    f = conn.makefile("rb")
    try:
        while True:
            req = read_request(f)
            if req is None:
                return
            method, target, headers, body = req
            path = target.split("?")[0]
            if path == "/conns":
                with lock:
                    n = conns
                conn.sendall(resp(200, str(n).encode()))
            elif path == "/info":
                # method, query, authorization and body, one per line
                q = target.split("?", 1)[1] if "?" in target else ""
                out = "%s\n%s\n%s\n" % (method, q, headers.get("authorization", "-"))
                conn.sendall(resp(200, out.encode() + body))
            elif path == "/1xx":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + resp(200, b"final"))
            elif path == "/close-delimited":
                conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
                return
            elif path == "/http10":
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nold style")
                return
            elif path == "/short":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..")
                return
            elif path == "/long":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more")
            elif path == "/bare-lf":
                conn.sendall(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
                time.sleep(0.2)
                return
            elif path == "/garbage":
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
                return
            elif path == "/both-lengths":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                return
            elif path == "/bad-chunk":
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
                return
            elif path == "/bytewise":
                data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n" \
                       b"5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
                for i in range(len(data)):
                    conn.sendall(data[i:i + 1])
                    time.sleep(0.001)
            elif path == "/gzip":
                conn.sendall(resp(200, gzip.compress(b"gzipped " * 1000), b"Content-Encoding: gzip\r\n"))
            elif path == "/deflate":
                conn.sendall(resp(200, zlib.compress(b"zlib deflate " * 100), b"Content-Encoding: deflate\r\n"))
            elif path == "/deflate-raw":
                c = zlib.compressobj(wbits=-15)
                conn.sendall(resp(200, c.compress(b"raw deflate " * 100) + c.flush(), b"Content-Encoding: deflate\r\n"))
            elif path == "/bad-gzip":
                conn.sendall(resp(200, b"\x1f\x8b\x08\x00garbage!!", b"Content-Encoding: gzip\r\n"))
            elif path == "/gzip-bomb":
                conn.sendall(resp(200, gzip.compress(b"\0" * (8 << 20)), b"Content-Encoding: gzip\r\n"))
            elif path == "/never":
                time.sleep(30)
                return
            elif path == "/slow-body":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
                time.sleep(30)
                return
            elif path == "/keepalive-then-close":
                # answers with keep-alive, then closes the connection shortly after
                conn.sendall(resp(200, b"first"))
                time.sleep(0.05)
                return
            elif path.startswith("/redir/"):
                # /redir/STATUS?to=URL
                st = int(path.split("/")[2])
                to = target.split("to=", 1)[1] if "to=" in target else "/info"
                conn.sendall(resp(st, b"moving", b"Location: " + to.encode() + b"\r\n", b"Moved"))
            else:
                conn.sendall(resp(404, b"no such route", reason=b"Not Found"))
    except (ConnectionError, ValueError, OSError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    global conns
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(256)
    print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        with lock:
            conns += 1
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
