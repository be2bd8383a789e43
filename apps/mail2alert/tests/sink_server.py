#!/usr/bin/python3
"""The "real mail server" of the integration tests: aiosmtpd.

    sink_server.py PORT DIR

Prints "listening on 127.0.0.1:PORT" when ready.  Every message is written
to DIR/NNNNNN.eml (content as received), DIR/NNNNNN.env (MAIL FROM, then
RCPT TO lines, then "OPTIONS: <mail options>"), and appended to
DIR/transcript.txt exactly as aiosmtpd's Debugging handler prints it.
Recipients named tempfail* are refused once with 451, reject* always
with 550.
"""
import asyncio
import io
import os
import signal
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Debugging
from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, d):
        self.dir = d
        self.n = 0
        self.tempfailed = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # Test hooks: "tempfail..." is refused once with 451, "reject..." always with 550.
        if address.startswith("tempfail") and address not in self.tempfailed:
            self.tempfailed.add(address)
            return "451 4.3.0 try again later"
        if address.startswith("reject"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        out = io.StringIO()
        await Debugging(out).handle_DATA(server, session, envelope)
        self.n += 1
        base = os.path.join(self.dir, "%06d" % self.n)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        env = "MAIL FROM:<%s>\n" % envelope.mail_from
        env += "".join("RCPT TO:<%s>\n" % r for r in envelope.rcpt_tos)
        env += "OPTIONS: %s\n" % " ".join(envelope.mail_options)
        with open(base + ".env", "w") as f:
            f.write(env)
        with open(os.path.join(self.dir, "transcript.txt"), "a") as f:
            f.write(out.getvalue())
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 OK"


class UTF8Controller(Controller):
    utf8 = True

    def factory(self):
        return SMTP(self.handler, enable_SMTPUTF8=self.utf8)


def main():
    port, d = int(sys.argv[1]), sys.argv[2]
    ctl = UTF8Controller(Handler(d), hostname="127.0.0.1", port=port)
    ctl.utf8 = "no-smtputf8" not in sys.argv[3:]
    ctl.start()
    print("listening on 127.0.0.1:%d" % port, flush=True)
    stop = [False]

    def on_signal(*_):
        stop[0] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop[0]:
        signal.pause()
    ctl.stop()


if __name__ == "__main__":
    main()
