#!/usr/bin/python3
"""Run the original mail2alert 0.2.9 (--serve) on Debian's Python 3.11.

    run_original.py PATH/TO/mail2alert/src

Four shims, nothing else changed: PyYAML 6 wants a Loader for yaml.load;
aiohttp 3.8 has no aiohttp.Timeout (a no-op context here: the stub always
answers); aioslacker is not packaged (a stub module: the bench posts
nothing to Slack); LOGLEVEL defaults to WARNING unless set, so that the
log does not dominate the measurement (the same for our program).
"""
import contextlib
import os
import sys
import types

sys.path.insert(0, sys.argv[1])

import yaml  # noqa: E402

_load = yaml.load
yaml.load = lambda stream, Loader=yaml.SafeLoader: _load(stream, Loader=Loader)

import aiohttp  # noqa: E402

aiohttp.Timeout = lambda *a, **k: contextlib.nullcontext()

slacker = types.ModuleType("aioslacker")


class Slacker:
    def __init__(self, *a, **k):
        pass


slacker.Slacker = Slacker
slacker.Error = Exception
sys.modules["aioslacker"] = slacker

from mail2alert import server  # noqa: E402

print("listening", flush=True)
server.main()
