#!/usr/bin/env python3
"""fdatasync latency of appending vs overwriting in place (why doppel's WAL is preallocated).

Usage: python3 scripts/fsync_probe.py [DIR]   (default: the current directory)
"""
import os
import sys
import time

directory = sys.argv[1] if len(sys.argv) > 1 else "."
path = os.path.join(directory, "doppel-fsync-probe.tmp")
n, block = 500, 8192
try:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    t = time.perf_counter()
    for _ in range(n):
        os.write(fd, b"x" * block)
        os.fdatasync(fd)
    append_ms = (time.perf_counter() - t) / n * 1e3
    os.lseek(fd, 0, os.SEEK_SET)
    t = time.perf_counter()
    for _ in range(n):
        os.write(fd, b"y" * block)
        os.fdatasync(fd)
    overwrite_ms = (time.perf_counter() - t) / n * 1e3
    os.close(fd)
finally:
    if os.path.exists(path):
        os.remove(path)
print(f"fdatasync after an {block}-byte append: {append_ms:.3f} ms; after an in-place overwrite: {overwrite_ms:.3f} ms ({append_ms / overwrite_ms:.1f}x)")
