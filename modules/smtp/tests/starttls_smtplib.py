"""Python's smtplib with STARTTLS and AUTH against our server.

    /usr/bin/python3 starttls_smtplib.py PORT CAFILE

Sends one message after STARTTLS and AUTH PLAIN (user/secret); exit 0 when
every step went as expected, 1 otherwise.
"""
import smtplib
import ssl
import sys

port, cafile = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=cafile)
with smtplib.SMTP("127.0.0.1", port, local_hostname="py.test") as s:
    s.ehlo()
    assert s.has_extn("starttls"), s.esmtp_features
    assert not s.has_extn("auth"), "AUTH offered before TLS"
    code, _ = s.starttls(context=ctx)  # checks the certificate for 127.0.0.1
    assert code == 220, code
    s.ehlo()
    assert not s.has_extn("starttls"), "STARTTLS offered again"
    assert s.has_extn("auth"), s.esmtp_features
    s.login("user", "secret")
    s.sendmail("py@example.com", ["x@example.com"], b"Subject: over TLS\r\n\r\n.dot\r\n")
print("ok")
