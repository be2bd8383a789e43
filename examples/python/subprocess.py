# subprocess.py - the asyncio original of examples/subprocess.c.
# This file's name is the stdlib's: drop our own directory from the module
# path first, so that `import asyncio` finds the real subprocess module.
import sys
sys.path.pop(0)
import asyncio


async def run(cmd):
    proc = await asyncio.create_subprocess_shell(
        cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await proc.communicate()
    print(f'[{cmd!r} exited with {proc.returncode}]')
    if stdout:
        print(f'[stdout]\n{stdout.decode()}')
    if stderr:
        print(f'[stderr]\n{stderr.decode()}')


async def main():
    await run('echo hello')
    await run('echo oops >&2; exit 3')
    await run('kill -TERM $$')
    proc = await asyncio.create_subprocess_exec(
        'cat', stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate(b'round trip through cat\n')
    print(f'cat returned {proc.returncode}: {out.decode()}', end='')
    try:
        await asyncio.create_subprocess_exec('no-such-command')
    except FileNotFoundError as e:
        print(f'no-such-command: {e.strerror}')

asyncio.run(main())
