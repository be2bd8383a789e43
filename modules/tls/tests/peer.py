#!/usr/bin/env python3
"""TLS peers from Python's standard ssl module, for test_tls.

  peer.py server CERT KEY ALPN VERSION   echo lines to each client; prints
                                          "port N" first, then per client
                                          "version V alpn A"
  peer.py client PORT CAFILE ALPN VERSION two connections to 127.0.0.1:PORT
                                          (name localhost), the second
                                          offering the first's session;
                                          sends "ping\\n", prints the echo and
                                          "version V alpn A reused R"

ALPN is a comma-separated list or "-"; VERSION is tls12, tls13 or any.
"""
import socket
import ssl
import sys

VERSIONS = {"tls12": ssl.TLSVersion.TLSv1_2, "tls13": ssl.TLSVersion.TLSv1_3}


def limit(ctx, version):
    if version in VERSIONS:
        ctx.minimum_version = ctx.maximum_version = VERSIONS[version]


def serve(cert, key, alpn, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if alpn != "-":
        ctx.set_alpn_protocols(alpn.split(","))
    limit(ctx, version)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    print("port", ls.getsockname()[1], flush=True)
    while True:
        conn, _ = ls.accept()
        try:
            with ctx.wrap_socket(conn, server_side=True) as s:
                print("version", s.version(), "alpn", s.selected_alpn_protocol(), flush=True)
                f = s.makefile("rb")
                while True:
                    line = f.readline()
                    if not line:
                        break
                    s.sendall(line)
                f.close()
                try:
                    s.unwrap()
                except (ssl.SSLError, OSError):
                    pass
        except (ssl.SSLError, OSError) as e:
            print("error", e, flush=True)


def client(port, cafile, alpn, version):
    ctx = ssl.create_default_context(cafile=cafile)
    if alpn != "-":
        ctx.set_alpn_protocols(alpn.split(","))
    limit(ctx, version)
    session = None
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", int(port))) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
                s.sendall(b"ping\n")
                got = b""
                while not got.endswith(b"\n"):
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    got += chunk
                print("echo", got.decode().strip(), flush=True)
                print("version", s.version(), "alpn", s.selected_alpn_protocol(),
                      "reused", int(s.session_reused), flush=True)
                session = s.session
                s.unwrap()


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(*sys.argv[2:6])
    else:
        client(*sys.argv[2:6])
