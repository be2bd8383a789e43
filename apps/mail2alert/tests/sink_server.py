#!/usr/bin/python3
"""The "real mail server" of the integration tests: aiosmtpd.

    sink_server.py PORT DIR

Prints "listening on 127.0.0.1:PORT" when ready.  Every message is written
to DIR/NNNNNN.eml (content as received), DIR/NNNNNN.env (MAIL FROM, then
RCPT TO lines, then "OPTIONS: <mail options>"), and appended to
DIR/transcript.txt exactly as aiosmtpd's Debugging handler prints it.
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
    def factory(self):
        return SMTP(self.handler, enable_SMTPUTF8=True)


def main():
    port, d = int(sys.argv[1]), sys.argv[2]
    ctl = UTF8Controller(Handler(d), hostname="127.0.0.1", port=port)
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
