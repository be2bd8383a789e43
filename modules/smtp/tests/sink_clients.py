"""examples/smtp_sink driven by real clients: Python's smtplib, aiosmtplib
(python3-aiosmtplib), swaks when installed, and BDAT by hand.  Checks the files it writes
byte for byte, numbering, concurrency, and its exit on SIGINT / SIGTERM.

    /usr/bin/python3 sink_clients.py path/to/smtp_sink

Exit 0 when every check held, 1 otherwise, 77 when smtp_sink cannot run.
"""
import asyncio
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage

SINK = sys.argv[1]
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what, flush=True)


class Sink:
    def __init__(self, directory=None):
        args = [SINK] + (["-d", directory] if directory else []) + ["0"]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        check(line.startswith("listening on 127.0.0.1:"), "banner: %r" % line)
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.dir = directory

    def stop(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "hung"
        check(rc == 0, "exit status after %s: %r" % (sig, rc))

    def files(self, n):
        with open(os.path.join(self.dir, "%06d.eml" % n), "rb") as f:
            eml = f.read()
        with open(os.path.join(self.dir, "%06d.env" % n), "rb") as f:
            env = f.read()
        return eml, env


def case_smtplib(d):
    s = Sink(d)
    with smtplib.SMTP("127.0.0.1", s.port) as c:
        code, ehlo = c.ehlo()
        check(code == 250 and b"PIPELINING" in ehlo and b"SIZE 33554432" in ehlo, "ehlo %r" % ehlo)
        msg = b"Subject: dots\r\n\r\n.one dot\r\n..two dots\r\n.\r\nlast line without end"
        refused = c.sendmail("from@example.com", ["a@example.com", "b@example.com"], msg)
        check(refused == {}, "refused %r" % refused)
        # smtplib quotes the dots and adds the final CRLF; the sink undoes the quoting.
        eml, env = s.files(1)
        check(eml == msg + b"\r\n", "eml 1 %r" % eml)
        check(env == b"MAIL FROM:<from@example.com>\nRCPT TO:<a@example.com>\nRCPT TO:<b@example.com>\n", "env 1 %r" % env)
        # 8-bit body and UTF-8 addresses.
        body = "Subject: =?utf-8?q?k=C3=A4se?=\r\n\r\nK\u00e4se und \u00e5sa\r\n".encode()
        c.sendmail("j\u00f6rg@example.com", ["\u00e5sa@example.com"], body, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        eml, env = s.files(2)
        check(eml == body, "eml 2 %r" % eml)
        check(env == "MAIL FROM:<j\u00f6rg@example.com>\nRCPT TO:<\u00e5sa@example.com>\n".encode(), "env 2 %r" % env)
        # send_message of an EmailMessage (headers as smtplib writes them).
        m = EmailMessage()
        m["From"] = "x@example.com"
        m["To"] = "y@example.com"
        m["Subject"] = "hello"
        m.set_content("first\n.second starts with a dot\n")
        c.send_message(m)
        eml, env = s.files(3)
        check(eml == m.as_bytes().replace(b"\n", b"\r\n"), "eml 3 %r" % eml)
        check(c.noop()[0] == 250, "noop")
        check(c.vrfy("x@example.com")[0] == 252, "vrfy")
        check(c.docmd("EXPN", "x")[0] == 502, "expn")
        try:
            c.sendmail("a@example.com", ["b@example.com"], b"x", mail_options=["SIZE=99999999999"])
            check(False, "SIZE over the limit accepted")
        except smtplib.SMTPSenderRefused as e:
            check(e.smtp_code == 552, "size refusal %r" % e)
    # A 1 MiB message with long-ish lines, byte for byte.
    with smtplib.SMTP("127.0.0.1", s.port) as c:
        big = b"".join(b"%06d " % i + b"x" * (i % 900) + b"\r\n" for i in range(2000))
        c.sendmail("a@example.com", ["b@example.com"], big)
        eml, _ = s.files(4)
        check(eml == big, "big message differs")
        # A line over 1000 bytes is refused with 500, the connection kept.
        try:
            c.sendmail("a@example.com", ["b@example.com"], b"y" * 2000 + b"\r\n")
            check(False, "over-long line accepted")
        except smtplib.SMTPDataError as e:
            check(e.smtp_code == 500, "over-long line %r" % e)
        check(c.noop()[0] == 250, "noop after over-long line")
    s.stop()
    check(not os.path.exists(os.path.join(d, "000005.eml")), "a refused message was written")


def case_concurrent(d):
    s = Sink(d)
    errors = []

    def sender(k):
        try:
            with smtplib.SMTP("127.0.0.1", s.port) as c:
                for i in range(5):
                    c.sendmail("s%d@example.com" % k, ["r@example.com"], b"Subject: %d/%d\r\n\r\nbody\r\n" % (k, i))
        except Exception as e:  # noqa: BLE001 - any failure is a test failure
            errors.append(repr(e))

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, "senders failed: %s" % errors[:3])
    seen = set()
    for n in range(1, 101):
        eml, env = s.files(n)
        seen.add(eml)
    check(len(seen) == 100, "100 distinct messages, got %d" % len(seen))
    check(not os.path.exists(os.path.join(d, "000101.eml")), "more than 100 files")
    s.stop(signal.SIGINT)


def case_aiosmtplib(d):
    try:
        import aiosmtplib
    except ImportError:
        print("SKIP aiosmtplib: not installed (python3-aiosmtplib)")
        return
    s = Sink(d)

    async def go():
        msg = b"Subject: async\r\n\r\n.dot\r\nend\r\n"
        await aiosmtplib.send(msg, sender="a@example.com", recipients=["b@example.com", "c@example.com"],
                              hostname="127.0.0.1", port=s.port, start_tls=False, use_tls=False)
        return msg

    msg = asyncio.run(go())
    eml, env = s.files(1)
    check(eml == msg, "aiosmtplib eml %r" % eml)
    check(env == b"MAIL FROM:<a@example.com>\nRCPT TO:<b@example.com>\nRCPT TO:<c@example.com>\n", "aiosmtplib env")
    s.stop()


def case_bdat(d):
    """BDAT (smtp_sink offers CHUNKING): the .eml holds the chunks' octets,
    the same file DATA gives for the same message."""
    import socket
    s = Sink(d)
    msg = b"Subject: chunks\r\n\r\n.dot line\r\n..two\r\nbare\nLF\r\n"
    with smtplib.SMTP("127.0.0.1", s.port) as c:
        code, ehlo = c.ehlo("client")
        check(b"CHUNKING" in ehlo.upper(), "EHLO offers CHUNKING: %r" % ehlo)
        check(c.sendmail("a@example.com", ["b@example.com"], msg) == {}, "DATA message")
    with socket.create_connection(("127.0.0.1", s.port), timeout=20) as k:
        f = k.makefile("rb")
        def reply():
            lines = []
            while True:
                line = f.readline()
                lines.append(line)
                if len(line) < 4 or line[3:4] == b" ":
                    return b"".join(lines)
        reply()
        # Pipelined: EHLO, MAIL, RCPT and two chunks that split a line.
        k.sendall(b"EHLO client\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                  b"BDAT 20\r\n" + msg[:20] + b"BDAT %d LAST\r\n" % (len(msg) - 20) + msg[20:] + b"QUIT\r\n")
        got = [reply() for _ in range(6)]
        check(got[1:] == [b"250 OK\r\n", b"250 OK\r\n", b"250 2.0.0 OK: 20 octets received\r\n", b"250 OK\r\n",
                          b"221 Bye\r\n"], "BDAT replies %r" % got[1:])
    eml1, env1 = s.files(1)
    eml2, env2 = s.files(2)
    check(eml1 == msg, "DATA eml %r" % eml1)
    check(eml2 == msg, "BDAT eml %r" % eml2)
    check(env1 == env2 == b"MAIL FROM:<a@example.com>\nRCPT TO:<b@example.com>\n", "BDAT env %r" % env2)
    s.stop()


def case_swaks(d):
    if not shutil.which("swaks"):
        print("SKIP swaks: not installed")
        return
    s = Sink(d)
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % s.port, "--pipeline", "--from", "f@example.com",
                        "--to", "t@example.com,u@example.com", "--body", ".dot line\n..two\n"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "swaks failed: %s" % r.stdout[-400:])
    eml, env = s.files(1)
    check(b"\r\n.dot line\r\n..two\r\n" in eml, "swaks body %r" % eml[-80:])
    check(env == b"MAIL FROM:<f@example.com>\nRCPT TO:<t@example.com>\nRCPT TO:<u@example.com>\n", "swaks env")
    s.stop()


def case_signal_waits_for_session(d):
    # SIGTERM while a client is mid-transaction: the sink lets it finish.
    s = Sink(d)
    c = smtplib.SMTP("127.0.0.1", s.port)
    c.ehlo()
    c.mail("a@example.com")
    s.p.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    check(s.p.poll() is None, "sink exited with a session in progress")
    c.rcpt("b@example.com")
    c.data(b"Subject: last\r\n\r\nstill delivered\r\n")
    c.quit()
    try:
        rc = s.p.wait(20)
    except subprocess.TimeoutExpired:
        s.p.kill()
        rc = "hung"
    check(rc == 0, "exit after the last session: %r" % rc)
    eml, _ = s.files(1)
    check(eml == b"Subject: last\r\n\r\nstill delivered\r\n", "last message")
    # A second signal does not wait for an idle session.
    s = Sink(d)
    c = smtplib.SMTP("127.0.0.1", s.port)
    c.ehlo()
    s.p.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    check(s.p.poll() is None, "sink exited with a session open")
    s.stop(signal.SIGINT)
    c.close()


def case_no_dir_and_usage():
    s = Sink(None)
    with smtplib.SMTP("127.0.0.1", s.port) as c:
        check(c.sendmail("a@example.com", ["b@example.com"], b"x\r\n") == {}, "sink without -d")
    s.stop(signal.SIGINT)
    for args in ([], ["-d"], ["notaport"], ["1", "2"], ["-x", "1"]):
        r = subprocess.run([SINK] + args, capture_output=True, timeout=10)
        check(r.returncode == 2, "usage exit for %r: %d" % (args, r.returncode))


def main():
    if not os.access(SINK, os.X_OK):
        print("SKIP: %s not built" % SINK)
        sys.exit(77)
    for case in (case_smtplib, case_concurrent, case_aiosmtplib, case_bdat, case_swaks, case_signal_waits_for_session):
        d = tempfile.mkdtemp(prefix="corio-sink-")
        try:
            case(d)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        print("done", case.__name__, flush=True)
    case_no_dir_and_usage()
    print("%d failures" % failures)
    sys.exit(1 if failures else 0)


main()
