#!/usr/bin/python3
"""mail2alert's integration tests: the program between real peers.

    test_it.py path/to/mail2alert

A GoCD stub (gocd_stub.py: pipeline groups, cctray, a fake Slack), aiosmtpd
as the real mail server (sink_server.py, which also prints what aiosmtpd's
Debugging handler prints), mail sent with smtplib, everything on
127.0.0.1 free ports, started and stopped here.  The original's
integration cases (pass-through, catch, catch with the exact transcript,
drop, backup), then: 100 concurrent mails each arriving exactly once, the
next hop down then up, the GoCD API slow and down, a 10 MiB mail, UTF-8
subjects and bodies, lines starting with a dot, Slack, --test, the command
line, and SIGTERM with a mail still waiting.  Exit 77 when aiosmtpd is
missing.
"""
import email
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy

PY = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None

try:
    subprocess.run([PY, "-c", "import aiosmtpd"], check=True, capture_output=True)
except Exception:
    print("SKIP: python3-aiosmtpd is not installed (apps/mail2alert/deps.sh)")
    sys.exit(77)

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("  CHECK failed:", what, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(pred, secs=20.0):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def start_listening(args, env=None, log=None):
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL, env=env, text=True)
    line = p.stdout.readline()
    if not line.startswith("listening"):
        p.kill()
        raise RuntimeError("%s did not start: %r" % (args, line))
    return p


def wait_port(port, secs=10.0):
    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False
    return wait_for(up, secs)


class Sink:
    """aiosmtpd on a port, writing what it gets into a directory."""

    def __init__(self, port=None, extra=()):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="m2a-sink-")
        self.p = None
        self.extra = list(extra)

    def start(self):
        self.p = start_listening([PY, os.path.join(HERE, "sink_server.py"), str(self.port), self.dir] + self.extra)
        return self

    def stop(self):
        if self.p:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
            self.p = None

    def clear(self):
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))

    def mails(self):
        names = sorted(f for f in os.listdir(self.dir) if f.endswith(".eml"))
        out = []
        for n in names:
            with open(os.path.join(self.dir, n), "rb") as f:
                data = f.read()
            with open(os.path.join(self.dir, n[:-4] + ".env")) as f:
                env = f.read()
            out.append((env, data))
        return out

    def transcript(self):
        try:
            with open(os.path.join(self.dir, "transcript.txt")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Stub:
    def __init__(self):
        self.p = start_listening([PY, os.path.join(HERE, "gocd_stub.py"), "0"])
        self.port = None

    def control(self, what):
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/control/%s" % (self.port, what), timeout=10) as r:
            return r.read()

    def stop(self):
        self.p.terminate()
        self.p.wait()


def start_stub():
    p = subprocess.Popen([PY, os.path.join(HERE, "gocd_stub.py"), "0"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    s = Stub.__new__(Stub)
    s.p = p
    s.port = int(line.strip().rsplit(":", 1)[1])
    return s


CONFIG = """---
local-smtp: 127.0.0.1:{local}
remote-smtp: 127.0.0.1:{remote}
slack-token: $M2A_TEST_TOKEN
slack-url: http://127.0.0.1:{gocd}/api
{extra}
managers:
  - name: gocd
    url: http://127.0.0.1:{gocd}/go
    user: olle
    passwd: pelle
    messages-we-want:
      to: mail2alert@example.com
    rules:
      - actions:
          - mailto:cat@example.com
{more_actions}
        filter:
          events:
            - BREAKS
          function: pipelines.in_group
          args:
            - my-group
  - name: mail
    messages-we-want:
      from: go@example.com
    rules:
      - actions:
          - mailto:sys@example.com
          - mailto:op@example.com
        filter:
          function: mail.in_subject
          args:
            - server
            - backup
"""


class M2A:
    def __init__(self, gocd_port, remote_port, extra="", more_actions="", loglevel="DEBUG"):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="m2a-")
        self.cfg = os.path.join(self.dir, "configuration.yml")
        with open(self.cfg, "w") as f:
            f.write(CONFIG.format(local=self.port, remote=remote_port, gocd=gocd_port, extra=extra,
                                  more_actions=more_actions))
        self.log_path = os.path.join(self.dir, "log.txt")
        self.log = open(self.log_path, "w")
        env = dict(os.environ, MAIL2ALERT_CONFIGURATION=self.cfg, LOGLEVEL=loglevel, M2A_TEST_TOKEN="xoxb-test")
        self.p = subprocess.Popen([BIN, "--serve"], stdout=self.log, stderr=self.log, env=env)
        if not wait_port(self.port, 15):
            raise RuntimeError("mail2alert did not listen:\n" + self.logtext())

    def logtext(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.log.close()
        return rc

    def client(self):
        return smtplib.SMTP("127.0.0.1", self.port, timeout=60)


def python_update_mail_to_from(data, rcpts, mail_from):
    """The original's update_mail_to_from, to compare our bytes with."""
    msg = email.message_from_bytes(data, policy=EmailPolicy(utf8=True, linesep="\r\n"))
    del msg["To"]
    msg["To"] = rcpts
    del msg["From"]
    msg["From"] = mail_from
    return msg.as_bytes()


def insert_xpeer(data, ip="127.0.0.1"):
    lines = data.splitlines(keepends=True)
    i, ending = 0, b"\r\n"
    for line in lines:
        if re.match(rb"\r\n|\r|\n", line):
            ending = line
            break
        i += 1
    lines.insert(i, b"X-Peer: " + ip.encode() + ending)
    return b"".join(lines)


def simple_msg(subject, to, frm=Address("Test Sender", "test_from", "example.com"), body="test åäö"):
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = frm
    msg["To"] = to
    msg.set_content(body)
    return msg


BIG = (
    b"Date: Wed, 19 Apr 2017 10:42:11 +0200\r\n"
    b"From: <go@pagero.com>\r\n"
    b"Sender: <go@pagero.com>\r\n"
    b"Reply-To: <go@pagero.com>\r\n"
    b"To: <mail2alert@example.com>\r\n"
    b"Subject: Stage [my-pipeline/6/my-stage/1] is broken\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=\"UTF-8\"\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"Return-Path: go@pagero.com\r\n"
    b"\r\n"
    b"See details: http://go.pagero.local/go/pipelines/create-pagero-online-relea=\r\n"
    b"se/6/SetupGoCDReleaseGroup/1\r\n"
    b"\r\n"
    b"-- CHECK-INS --\r\n"
    b"\r\n"
    b"Dependency: deploy-to-test/readyToTest\r\n"
    b"revision: deploy-to-test/881/readyToTest/1, completed on 2017-04-19 08:41:5=\r\n"
    b"5.272\r\n"
    b"\r\n"
    b"Git: ssh://git@git/config/gocd-create-group-of-pipelines\r\n"
    b"revision: 1f5557f803c998b7ae010dba9ff7fbdf71cab346, modified by Magnus Lyck=\r\n"
    b"=C3=A5 <magnusl@pagero.com> on 2017-03-15 16:31:40.0\r\n"
    b"remove temporary pipeline/repo-url fixes from create_group_of_pipelines.py\r\n"
    b"modified create_group_of_pipelines.py\r\n"
    b"\r\n"
    b"Dependency: deploy-to-staging/dummy\r\n"
    b"revision: deploy-to-staging/56/dummy/1, completed on 2017-03-13 17:42:18.88=\r\n"
    b"1\r\n"
    b"\r\n"
    b"Dependency: po-characterize-tests/runTests\r\n"
    b"revision: po-characterize-tests/3230/runTests/1, completed on 2016-12-19 15=\r\n"
    b":55:44.997\r\n"
    b"\r\n"
    b"Sent by Go on behalf of ex0247\r\n"
    b"\r\n"
)

BIG_TRANSCRIPT = (
    "---------- MESSAGE FOLLOWS ----------\n"
    "mail options: ['SIZE=1195']\n\n"
    "Date: Wed, 19 Apr 2017 10:42:11 +0200\n"
    "Sender: <go@pagero.com>\n"
    "Reply-To: <go@pagero.com>\n"
    "Subject: Stage [my-pipeline/6/my-stage/1] is broken\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=\"UTF-8\"\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "Return-Path: go@pagero.com\n"
    "X-Peer: 127.0.0.1\n"
    "To: cat@example.com\n"
    "From: go@pagero.com\n"
    "X-Peer: ('127.0.0.1', 39806)\n"
    "\n"
    "See details: http://go.pagero.local/go/pipelines/create-pagero-online-relea=\n"
    "se/6/SetupGoCDReleaseGroup/1\n"
    "\n"
    "-- CHECK-INS --\n"
    "\n"
    "Dependency: deploy-to-test/readyToTest\n"
    "revision: deploy-to-test/881/readyToTest/1, completed on 2017-04-19 08:41:5=\n"
    "5.272\n"
    "\n"
    "Git: ssh://git@git/config/gocd-create-group-of-pipelines\n"
    "revision: 1f5557f803c998b7ae010dba9ff7fbdf71cab346, modified by Magnus Lyck=\n"
    "=C3=A5 <magnusl@pagero.com> on 2017-03-15 16:31:40.0\n"
    "remove temporary pipeline/repo-url fixes from create_group_of_pipelines.py\n"
    "modified create_group_of_pipelines.py\n"
    "\n"
    "Dependency: deploy-to-staging/dummy\n"
    "revision: deploy-to-staging/56/dummy/1, completed on 2017-03-13 17:42:18.88=\n"
    "1\n"
    "\n"
    "Dependency: po-characterize-tests/runTests\n"
    "revision: po-characterize-tests/3230/runTests/1, completed on 2016-12-19 15=\n"
    ":55:44.997\n"
    "\n"
    "Sent by Go on behalf of ex0247\n"
    "\n"
    "------------ END MESSAGE ------------\n"
)


# ---- the cases -------------------------------------------------------------------

def case_pass(env):
    sink, m = env["sink"], env["m2a"]
    msg = simple_msg("a test", [Address("Test %i" % i, "test_%i" % i, "example.com") for i in range(2)])
    raw = msg.as_bytes(policy=EmailPolicy(utf8=True, linesep="\r\n"))
    with m.client() as c:
        c.sendmail("test_from@example.com", ["test_0@example.com", "test_1@example.com"], raw)
    got = sink.mails()
    check(len(got) == 1, "pass: one mail arrives")
    if got:
        envl, data = got[0]
        check(data == insert_xpeer(raw), "pass: unchanged but for X-Peer")
        check("RCPT TO:<test_0@example.com>\nRCPT TO:<test_1@example.com>\n" in envl, "pass: recipients kept")
        check("Subject: a test" in sink.transcript() and "test åäö" in sink.transcript(), "pass: transcript")


def case_catch(env):
    sink, m = env["sink"], env["m2a"]
    msg = simple_msg("Stage [my-pipeline/2/my-stage/1] is broken", [Address("Mail2Alert", "mail2alert", "example.com")])
    with m.client() as c:
        c.send_message(msg)
    t = sink.transcript()
    check("Subject: Stage [my-pipeline/2/my-stage/1] is broken" in t, "catch: subject")
    check("To: cat@example.com" in t, "catch: To rewritten")
    check("test åäö" in t, "catch: body")
    got = sink.mails()
    check(len(got) == 1 and "RCPT TO:<cat@example.com>\n" in got[0][0], "catch: envelope to cat@")
    if got:
        raw = msg.as_bytes(policy=EmailPolicy(utf8=True, linesep="\r\n"))
        want = python_update_mail_to_from(insert_xpeer(raw), ["cat@example.com"], "test_from@example.com")
        check(got[0][1] == want, "catch: bytes equal Python's update_mail_to_from")


def case_catch_big(env):
    sink, m = env["sink"], env["m2a"]
    # The original's history says my-pipeline/my-stage is unknown: "is broken" stays BREAKS.
    with m.client() as c:
        c.sendmail("go@pagero.com", ["mail2alert@example.com"], BIG)
    got = sink.mails()
    want = python_update_mail_to_from(insert_xpeer(BIG), ["cat@example.com"], "go@pagero.com")
    check(len(got) == 1 and got[0][1] == want, "catch_big: bytes equal Python's update_mail_to_from")
    # 1195 bytes: the original's transcript says 1193 because the aiosmtpd of
    # 2017 dropped the content's last CRLF; 1.4.3 keeps it (so would the original).
    check(len(want) == 1195, "catch_big: 1195 bytes (%d)" % len(want))
    t = re.sub(r"X-Peer: \('127\.0\.0\.1', \d+\)", "X-Peer: ('127.0.0.1', 39806)", sink.transcript())
    if t != BIG_TRANSCRIPT:
        print(t)
    check(t == BIG_TRANSCRIPT, "catch_big: the exact transcript")


def case_drop(env):
    sink, m = env["sink"], env["m2a"]
    msg = simple_msg("not my cup of tea", [Address("Mail2Alert", "mail2alert", "example.com")])
    with m.client() as c:
        c.send_message(msg)
    time.sleep(0.3)
    check(sink.transcript() == "", "drop: nothing arrives")
    check("Dropping email." in m.logtext(), "drop: logged")


def case_backup(env):
    sink, m = env["sink"], env["m2a"]
    with m.client() as c:
        for subject in ("Server Backup Completed Successfully", "Stage [my-pipeline/2/my-stage/1] failed",
                        "Server Backup Failed"):
            c.send_message(simple_msg(subject, [Address("admin", "admin", "example.com")],
                                      frm=Address("Go Eller", "go", "example.com")))
    t = sink.transcript()
    check("To: sys@example.com, op@example.com" in t, "backup: To")
    check("Server Backup Completed Successfully" in t, "backup: first")
    check("Server Backup Failed" in t, "backup: second")
    check("my-pipeline" not in t, "backup: the stage mail dropped")
    check(len(sink.mails()) == 2, "backup: two mails")


def case_concurrent(env):
    sink, m = env["sink"], env["m2a"]
    n = 100
    errors = []

    def send(i):
        try:
            if i % 2:
                msg = simple_msg("Stage [my-pipeline/%d/my-stage/1] is broken" % i,
                                 [Address("M", "mail2alert", "example.com")], body="mail %d\n" % i)
            else:
                msg = simple_msg("plain %d" % i, [Address("X", "x%d" % i, "example.com")], body="mail %d\n" % i)
            msg["Message-ID"] = "<m%d@test>" % i
            with m.client() as c:
                c.send_message(msg)
        except Exception as e:
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check(not errors, "concurrent: every send got 250 (%r)" % errors[:3])
    got = sink.mails()
    ids = sorted(re.search(rb"Message-ID: <m(\d+)@test>", d).group(1) for _, d in got)
    check(len(got) == n, "concurrent: %d of %d arrived" % (len(got), n))
    check(len(set(ids)) == len(ids) == n, "concurrent: each exactly once")
    caught = [e for e, d in got if "RCPT TO:<cat@example.com>" in e]
    check(len(caught) == n // 2, "concurrent: half caught for cat@ (%d)" % len(caught))


def case_remote_down_then_up(env):
    sink, m = env["sink"], env["m2a"]
    sink.stop()
    msg = simple_msg("while down", [Address("X", "x", "example.com")])
    with m.client() as c:
        c.send_message(msg)  # 250: taken, retried later
    time.sleep(0.5)
    sink.start()
    check(wait_for(lambda: len(sink.mails()) == 1, 30), "down/up: the mail arrives after the server is back")
    check("queued for retry" in m.logtext(), "down/up: queued for retry logged")


def case_recipient_refusals(env):
    sink, m = env["sink"], env["m2a"]
    raw = b"Subject: refusals\r\n\r\nbody\r\n"
    with m.client() as c:
        c.sendmail("a@example.com", ["ok@example.com", "tempfail1@example.com", "reject1@example.com"], raw)
    check(wait_for(lambda: len(sink.mails()) == 2, 20), "refusals: two deliveries")
    envs = sorted(e for e, _ in sink.mails())
    check(any("RCPT TO:<ok@example.com>\nOPTIONS" in e for e in envs), "refusals: ok@ at once")
    check(any("RCPT TO:<tempfail1@example.com>\nOPTIONS" in e for e in envs), "refusals: the 451 one retried alone")
    check(not any("reject1" in e for e in envs), "refusals: the 550 one not delivered")
    check(wait_for(lambda: "Undelivered mail (recipients refused)" in m.logtext() and "reject1@example.com" in m.logtext(), 5),
          "refusals: the 550 one logged at ERROR")


def case_big_mail(env):
    sink, m = env["sink"], env["m2a"]
    line = b"0123456789abcdef" * 4 + b"\r\n"  # 66 bytes
    body = line * ((10 << 20) // len(line) + 1)
    raw = b"Subject: big\r\nFrom: a@example.com\r\nTo: b@example.com\r\n\r\n" + body
    with m.client() as c:
        c.sendmail("a@example.com", ["b@example.com"], raw)
    got = sink.mails()
    check(len(got) == 1 and got[0][1] == insert_xpeer(raw), "10 MiB pass-through arrives byte for byte")
    sink.clear()
    raw2 = b"Subject: Stage [my-pipeline/3/my-stage/1] is broken\r\nTo: x@y\r\n\r\n" + body
    with m.client() as c:
        c.sendmail("go@example.com", ["mail2alert@example.com"], raw2)
    got = sink.mails()
    want = python_update_mail_to_from(insert_xpeer(raw2), ["cat@example.com"], "go@example.com")
    check(len(got) == 1 and got[0][1] == want, "10 MiB caught mail rewritten as Python would")


def case_utf8(env):
    sink, m = env["sink"], env["m2a"]
    # An RFC 2047 subject (encoded by Python's email package) that the mail manager matches.
    msg = simple_msg("Server backup klar för idag ✓", [Address("A", "admin", "example.com")],
                     frm=Address("Gö", "go", "example.com"), body="räksmörgås ✓\n")
    raw = msg.as_bytes(policy=EmailPolicy(linesep="\r\n"))  # not utf8: the subject gets encoded words
    check(b"=?utf-8?" in raw, "utf8: the subject is RFC 2047 encoded")
    with m.client() as c:
        c.sendmail("go@example.com", ["admin@example.com"], raw)
    got = sink.mails()
    check(len(got) == 1 and "RCPT TO:<sys@example.com>" in got[0][0], "utf8: encoded subject matched by in_subject")
    # An encoded GoCD subject with a UTF-8 stage name.
    sink.clear()
    msg = simple_msg("Stage [my-pipeline/4/stäge/1] is broken", [Address("M", "mail2alert", "example.com")],
                     body="åäö ✓\n")
    raw = msg.as_bytes(policy=EmailPolicy(linesep="\r\n"))
    with m.client() as c:
        c.sendmail("go@example.com", ["mail2alert@example.com"], raw)
    got = sink.mails()
    check(len(got) == 1 and "RCPT TO:<cat@example.com>" in got[0][0], "utf8: encoded GoCD subject caught")
    if got:
        want = python_update_mail_to_from(insert_xpeer(raw), ["cat@example.com"], "go@example.com")
        check(got[0][1] == want, "utf8: rewritten as Python would")
    # A long GoCD subject on one line: refolded as Python refolds it.
    sink.clear()
    raw = (b"Subject: Stage [my-pipeline/1234/a-long-stage-name-for-the-functional-tests/1] is broken\r\n"
           b"To: <mail2alert@example.com>\r\nX-Other: one two three four five six seven eight nine ten eleven twelve\r\n"
           b"\r\nbody\r\n")
    with m.client() as c:
        c.sendmail("go@example.com", ["mail2alert@example.com"], raw)
    got = sink.mails()
    want = python_update_mail_to_from(insert_xpeer(raw), ["cat@example.com"], "go@example.com")
    check(b"/1]\r\n is broken\r\n" in want, "long subject: Python refolds it")
    check(len(got) == 1 and got[0][1] == want, "long subject: refolded as Python would")
    sink.clear()
    # Raw UTF-8 (SMTPUTF8) subject and body, passed through.
    sink.clear()
    raw = "Subject: Grüße ✓\r\nFrom: ö@example.com\r\n\r\nGrüße\r\n".encode()
    with m.client() as c:
        c.sendmail("ö@example.com", ["ü@example.com"], raw, mail_options=["SMTPUTF8"])
    got = sink.mails()
    check(len(got) == 1 and got[0][1] == insert_xpeer(raw), "utf8: raw UTF-8 mail passes byte for byte")


def case_dots(env):
    sink, m = env["sink"], env["m2a"]
    raw = (b"Subject: dots\r\n\r\n.\r\n..\r\n.hidden\r\n...three\r\nend .\r\n.\r\n")
    with m.client() as c:
        c.sendmail("a@example.com", ["b@example.com"], raw)
    got = sink.mails()
    check(len(got) == 1 and got[0][1] == insert_xpeer(raw), "dots: lines starting with '.' survive")


def run_main_cases(stub):
    sink = Sink().start()
    m = M2A(stub.port, sink.port, extra="retry-first-delay: 0.2\nretry-max-delay: 0.5")
    env = {"sink": sink, "m2a": m}
    try:
        for case in (case_pass, case_catch, case_catch_big, case_drop, case_backup, case_concurrent,
                     case_remote_down_then_up, case_recipient_refusals, case_big_mail, case_utf8, case_dots):
            sink.clear()
            before = len(failures)
            try:
                case(env)
            except Exception:
                traceback.print_exc()
                failures.append(case.__name__ + " raised")
            print("%s %s" % ("ok  " if len(failures) == before else "FAIL", case.__name__), flush=True)
    finally:
        rc = m.stop()
        check(rc == 0, "SIGTERM: exit 0 (%s)" % rc)
        if len(failures):
            print(m.logtext()[-6000:])
        sink.remove()


def case_gocd_slow_and_down(stub):
    sink = Sink().start()
    m = M2A(stub.port, sink.port, extra="groups-max-age: 0.5")
    try:
        # The groups are fetched at start; now make the API slow.
        check(wait_for(lambda: "Set pipeline groups config" in m.logtext(), 10), "slow: first fetch done")
        stub.control("groups-delay?s=4")
        time.sleep(0.6)
        t0 = time.time()
        with m.client() as c:
            c.send_message(simple_msg("Stage [my-pipeline/5/my-stage/1] is broken",
                                      [Address("M", "mail2alert", "example.com")]))
            c.send_message(simple_msg("hello", [Address("X", "x", "example.com")]))
        took = time.time() - t0
        check(took < 3, "slow: mails are not held up by a slow groups fetch (%.2f s)" % took)
        check(len(sink.mails()) == 2 and "RCPT TO:<cat@example.com>" in sink.mails()[0][0],
              "slow: caught with the groups we had")
        # Down: errors only, the old groups keep serving.
        stub.control("groups-delay?s=0")
        stub.control("groups-status?code=500")
        time.sleep(0.6)
        sink.clear()
        with m.client() as c:
            c.send_message(simple_msg("Stage [my-pipeline/6/my-stage/1] is broken",
                                      [Address("M", "mail2alert", "example.com")]))
        check(len(sink.mails()) == 1, "down: caught with the old groups")
    finally:
        check(m.stop() == 0, "slow: exit 0")
        stub.control("groups-status?code=200")
        sink.remove()
    # Never fetched: a mail that needs the groups gets 250 all the same and
    # is held (the client always gets 250); others pass at once.
    stub.control("groups-status?code=503")
    sink = Sink().start()
    m = M2A(stub.port, sink.port, extra="retry-first-delay: 0.2\nretry-max-delay: 0.5")
    try:
        with m.client() as c:
            c.send_message(simple_msg("Stage [my-pipeline/7/my-stage/1] is broken",
                                      [Address("M", "mail2alert", "example.com")]))  # 250: no exception
            c.send_message(simple_msg("hello", [Address("X", "x", "example.com")]))
        check(len(sink.mails()) == 1, "no groups: other mail passes, the held one waits")
        check(wait_for(lambda: "held until they come" in m.logtext(), 5), "no groups: the mail is held (logged)")
        time.sleep(0.5)
        check(len(sink.mails()) == 1, "no groups: still held while the API is down")
        # When the API comes back, the held mail is routed by the groups and forwarded.
        stub.control("groups-status?code=200")
        check(wait_for(lambda: len(sink.mails()) == 2, 10), "no groups: the held mail goes once the API is back")
        got = sink.mails()
        check(len(got) == 2 and "RCPT TO:<cat@example.com>" in got[1][0], "no groups: held mail caught by the rule")
    finally:
        check(m.stop() == 0, "no groups: exit 0")
        sink.remove()
    print("%s case_gocd_slow_and_down" % ("ok  " if not failures else "FAIL"), flush=True)


def case_slack(stub):
    sink = Sink().start()
    m = M2A(stub.port, sink.port, more_actions="          - slack:#builds\n          - slack:@me:full")
    try:
        with m.client() as c:
            c.send_message(simple_msg("Stage [my-pipeline/8/my-stage/1] is broken",
                                      [Address("M", "mail2alert", "example.com")], body="first line\nsecond\n"))
        import json
        def posts():
            return json.loads(stub.control("log"))["slack"]
        check(wait_for(lambda: len(posts()) == 2, 10), "slack: two posts")
        p = sorted(posts(), key=lambda x: x["channel"])
        if len(p) == 2:
            check(p[0]["channel"] == "#builds" and p[0]["token"] == "xoxb-test" and p[0]["text"] == "",
                  "slack: brief post")
            a0 = json.loads(p[0]["attachments"])[0]
            check(a0 == {"title": "Stage [my-pipeline/8/my-stage/1] is broken", "text": "first line",
                         "color": "#D50200"}, "slack: brief attachment %r" % a0)
            a1 = json.loads(p[1]["attachments"])[0]
            check(p[1]["channel"] == "@me" and p[1]["text"].startswith("Message from: Test Sender"),
                  "slack: full post text %r" % p[1]["text"])
            check(a1["text"] == "first line\nsecond\n", "slack: full attachment body")
        check(len(sink.mails()) == 1, "slack: the mail still goes to cat@")
    finally:
        check(m.stop() == 0, "slack: exit 0")
        sink.remove()
    print("%s case_slack" % ("ok  " if not failures else "FAIL"), flush=True)


def case_shutdown_spools(stub):
    spool = tempfile.mkdtemp(prefix="m2a-spool-")
    port = free_port()  # nobody listens there
    m = M2A(stub.port, port, extra="spool-dir: %s\nretry-first-delay: 0.2" % spool)
    try:
        with m.client() as c:
            c.send_message(simple_msg("undeliverable", [Address("X", "x", "example.com")]))
        time.sleep(0.3)
    finally:
        rc = m.stop()
    check(rc == 0, "shutdown: exit 0 (%s)" % rc)
    files = sorted(os.listdir(spool))
    check(len(files) == 2, "shutdown: the waiting mail is spooled (%r)" % files)
    if len(files) == 2:
        with open(os.path.join(spool, files[1])) as f:
            check(f.read() == "MAIL FROM:<test_from@example.com>\nRCPT TO:<x@example.com>\n", "shutdown: envelope")
    check("Undelivered mail (shutting down)" in m.logtext(), "shutdown: logged at ERROR")
    shutil.rmtree(spool, ignore_errors=True)
    # A mail held for pipeline groups that never came: spooled at shutdown
    # with the envelope it came with.
    spool = tempfile.mkdtemp(prefix="m2a-spool-")
    stub.control("groups-status?code=503")
    m = M2A(stub.port, port, extra="spool-dir: %s\nretry-first-delay: 0.2" % spool)
    try:
        with m.client() as c:
            c.send_message(simple_msg("Stage [my-pipeline/8/my-stage/1] is broken",
                                      [Address("M", "mail2alert", "example.com")]))
        check(wait_for(lambda: "held until they come" in m.logtext(), 5), "shutdown: the mail is held")
    finally:
        rc = m.stop()
        stub.control("groups-status?code=200")
    check(rc == 0, "shutdown, held: exit 0 (%s)" % rc)
    files = sorted(os.listdir(spool))
    check(len(files) == 2, "shutdown: the held mail is spooled (%r)" % files)
    if len(files) == 2:
        with open(os.path.join(spool, files[1])) as f:
            check(f.read() == "MAIL FROM:<test_from@example.com>\nRCPT TO:<mail2alert@example.com>\n",
                  "shutdown, held: the envelope it came with")
    shutil.rmtree(spool, ignore_errors=True)
    print("%s case_shutdown_spools" % ("ok  " if not failures else "FAIL"), flush=True)


def case_no_smtputf8(stub):
    """A next hop without SMTPUTF8: a mail with a UTF-8 address is given up
    at once (ERROR, spooled), never sent; an 8-bit mail with ASCII addresses
    still goes, with BODY=8BITMIME (aiosmtpd offers 8BITMIME)."""
    spool = tempfile.mkdtemp(prefix="m2a-spool-")
    sink = Sink(extra=["no-smtputf8"]).start()
    m = M2A(stub.port, sink.port, extra="spool-dir: %s" % spool)
    try:
        raw = "Subject: Grüße\r\n\r\nGrüße\r\n".encode()
        with m.client() as c:
            c.sendmail("a@example.com", ["ü@example.com"], raw, mail_options=["SMTPUTF8"])
            c.sendmail("a@example.com", ["x@example.com"], raw)
            c.sendmail("a@example.com", ["y@example.com"], b"Subject: seven\r\n\r\nbits\r\n")
        check(wait_for(lambda: len(sink.mails()) == 2, 20), "no SMTPUTF8: the ASCII-addressed mails arrive")
        got = sink.mails()
        check(len(got) == 2 and "OPTIONS: SIZE=%d BODY=8BITMIME\n" % (len(raw) + 19) in got[0][0],
              "no SMTPUTF8: 8-bit content declared BODY=8BITMIME (%r)" % (got[0][0] if got else None))
        check(len(got) == 2 and "BODY=" not in got[1][0], "no SMTPUTF8: 7-bit content without BODY=")
    finally:
        rc = m.stop()
        sink.stop()
    check(rc == 0, "no SMTPUTF8: exit 0")
    files = sorted(os.listdir(spool))
    check(len(files) == 2, "no SMTPUTF8: the UTF-8 mail is spooled (%r)" % files)
    check("does not offer SMTPUTF8" in m.logtext(), "no SMTPUTF8: logged at ERROR")
    check("queued for retry" not in m.logtext(), "no SMTPUTF8: not retried")
    sink.remove()
    shutil.rmtree(spool, ignore_errors=True)
    print("%s case_no_smtputf8" % ("ok  " if not failures else "FAIL"), flush=True)


def case_reply_first(stub):
    """reply-first: true: 250 before forwarding; every mail still arrives once,
    and a SIGTERM right after the last 250 still delivers what is in flight."""
    sink = Sink().start()
    m = M2A(stub.port, sink.port, extra="reply-first: true")
    n = 100
    errors = []

    def send(i):
        try:
            msg = simple_msg("Stage [my-pipeline/%d/my-stage/1] is broken" % i if i % 2 else "plain %d" % i,
                             [Address("M", "mail2alert" if i % 2 else "x%d" % i, "example.com")])
            msg["Message-ID"] = "<r%d@test>" % i
            with m.client() as c:
                c.send_message(msg)
        except Exception as e:
            errors.append(repr(e))

    try:
        threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        rc = m.stop()
    check(not errors, "reply-first: every send got 250 (%r)" % errors[:2])
    check(rc == 0, "reply-first: exit 0")
    got = sink.mails()
    ids = [re.search(rb"Message-ID: <r(\d+)@test>", d).group(1) for _, d in got]
    check(len(ids) == n and len(set(ids)) == n, "reply-first: %d of %d arrived, each once" % (len(set(ids)), n))
    sink.remove()
    print("%s case_reply_first" % ("ok  " if not failures else "FAIL"), flush=True)


def case_selftest_and_cli(stub):
    d = tempfile.mkdtemp(prefix="m2a-cfg-")
    cfg = os.path.join(d, "configuration.yml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(local=1025, remote=8025, gocd=stub.port, extra="", more_actions=""))
    env = dict(os.environ, MAIL2ALERT_CONFIGURATION=cfg)
    r = subprocess.run([BIN, "--test"], capture_output=True, env=env, timeout=30)
    want = (b"gocd:\n- pipeline_group: my-group\n  pipelines:\n  - alerts:\n    - actions:\n"
            b"      - mailto:cat@example.com\n      events:\n      - BREAKS\n    pipeline: my-pipeline\n"
            b"mail: null\n\n")
    check(r.returncode == 0 and r.stdout == want, "--test: the report byte for byte (%r)" % r.stdout)
    check(b":INFO:root:Fetching pipeline groups" in r.stderr, "--test: log format")
    # ./configuration.yml when the variable is not set
    env2 = dict(os.environ)
    env2.pop("MAIL2ALERT_CONFIGURATION", None)
    r = subprocess.run([BIN, "--test"], capture_output=True, env=env2, cwd=d, timeout=30)
    check(r.returncode == 0 and r.stdout == want, "--test: ./configuration.yml")
    r = subprocess.run([BIN], capture_output=True, timeout=10)
    check(r.returncode == 0 and r.stdout.startswith(b"usage: mail2alert [-h] [--serve | --test]\n"), "no argument: help")
    r = subprocess.run([BIN, "--serve", "--test"], capture_output=True, timeout=10)
    check(r.returncode == 2 and b"not allowed with argument --serve" in r.stderr, "both: error 2")
    r = subprocess.run([BIN, "--bogus"], capture_output=True, timeout=10)
    check(r.returncode == 2 and b"unrecognized arguments: --bogus" in r.stderr, "unknown: error 2")
    env3 = dict(os.environ, MAIL2ALERT_CONFIGURATION=os.path.join(d, "missing.yml"))
    r = subprocess.run([BIN, "--serve"], capture_output=True, env=env3, timeout=10)
    check(r.returncode == 1 and b"missing.yml" in r.stderr, "missing configuration: a clear error")
    shutil.rmtree(d, ignore_errors=True)
    print("%s case_selftest_and_cli" % ("ok  " if not failures else "FAIL"), flush=True)


def main():
    if not BIN:
        print("usage: test_it.py path/to/mail2alert")
        return 2
    stub = start_stub()
    try:
        case_selftest_and_cli(stub)
        run_main_cases(stub)
        case_gocd_slow_and_down(stub)
        case_slack(stub)
        case_shutdown_spools(stub)
        case_no_smtputf8(stub)
        case_reply_first(stub)
    finally:
        stub.stop()
    print("%d failed checks" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
