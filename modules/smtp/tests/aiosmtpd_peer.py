"""aiosmtpd as the real server our client is tested against.

    /usr/bin/python3 aiosmtpd_peer.py DIR [CERT KEY]

Listens on a free port of 127.0.0.1, prints "port N", and writes each
message it receives to DIR/N.eml (content bytes as aiosmtpd hands them to
a handler) and DIR/N.env (MAIL FROM, options, recipients, one per line).
AUTH PLAIN/LOGIN without TLS accepts user/secret.  With CERT and KEY it
offers STARTTLS and AUTH only after it.  Ends when its standard
input closes, so a test that dies leaves nothing running.
"""
import asyncio
import ssl
import logging
import os
import sys

from aiosmtpd.smtp import SMTP, AuthResult

# aiosmtpd 1.4 warns about its own use of Session.login_data on every AUTH.
logging.getLogger("mail.log").setLevel(logging.ERROR)


class Recorder:
    def __init__(self, d):
        self.dir = d
        self.n = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if address == "spam@x":
            return "550 5.7.1 Go away"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bad"):
            return "550 5.1.1 No such user: " + address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.dir, str(self.n))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.content)
        with open(base + ".env", "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("MAIL FROM:<%s> %s\n" % (envelope.mail_from, " ".join(envelope.mail_options)))
            for r in envelope.rcpt_tos:
                f.write("RCPT TO:<%s>\n" % r)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"user" and auth_data.password == b"secret"
    return AuthResult(success=ok, handled=False)


async def main():
    handler = Recorder(sys.argv[1])
    loop = asyncio.get_running_loop()
    tls = None
    if len(sys.argv) > 3:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(sys.argv[2], sys.argv[3])
    server = await loop.create_server(
        lambda: SMTP(handler, enable_SMTPUTF8=True, auth_require_tls=tls is not None, authenticator=authenticator,
                     hostname="aiosmtpd.test", tls_context=tls),
        "127.0.0.1", 0)
    print("port", server.sockets[0].getsockname()[1], flush=True)
    done = asyncio.Event()
    loop.add_reader(sys.stdin.fileno(), lambda: done.set() if not os.read(sys.stdin.fileno(), 4096) else None)
    await done.wait()
    server.close()


asyncio.run(main())
