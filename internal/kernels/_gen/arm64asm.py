"""Shared plumbing of the arm64 generators: an output buffer, the emit
helpers, and write(), which assembles the instructions the Go arm64
assembler does not know with GNU as (Debian's binutils-aarch64-linux-gnu)
and writes them as WORD encodings with the instruction as a comment.
"""
import os
import re
import subprocess
import tempfile

out = []
pending = []  # (index in out, gnu asm text)


def emit(s=''):
    out.append(s)


def go(s):
    emit('\t' + s)


def neon(s):
    pending.append((len(out), s))
    out.append(None)


def label(s):
    emit('')
    emit(s + ':')


def write(name, header, arch):
    """Assembles the pending instructions for arch (a GNU .arch string) in
    one batch and writes header + out to ../name."""
    with tempfile.TemporaryDirectory() as d:
        src = '.arch %s\n' % arch + ''.join(s + '\n' for _, s in pending)
        open(os.path.join(d, 'a.s'), 'w').write(src)
        subprocess.check_call(['aarch64-linux-gnu-as', '-o', os.path.join(d, 'a.o'), os.path.join(d, 'a.s')])
        dump = subprocess.check_output(['aarch64-linux-gnu-objdump', '-d', os.path.join(d, 'a.o')]).decode()
    words = [m.group(1) for m in re.finditer(r'^\s+[0-9a-f]+:\s+([0-9a-f]{8})\s', dump, re.M)]
    assert len(words) == len(pending), (len(words), len(pending))
    for (i, s), w in zip(pending, words):
        out[i] = '\tWORD $0x%s // %s' % (w, s)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, '..', name), 'w') as f:
        f.write(header + '\n'.join(out) + '\n')
