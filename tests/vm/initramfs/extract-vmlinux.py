#!/usr/bin/python3
"""Extract the uncompressed ELF vmlinux from a bzImage: extract-vmlinux.py BZIMAGE OUT

QEMU boots such an ELF directly through its PVH entry point (CONFIG_PVH=y on
Debian), which skips the in-guest decompressor: under TCG, unpacking Debian 6.1's
xz-compressed kernel takes about 4 s of every boot.
"""
import lzma
import os
import subprocess
import sys


def candidates(data):
    """Yield (offset, decompress) for each compressed stream the bzImage may hold."""
    for magic, fn in ((b'\xfd7zXZ\x00', lambda b: lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(b)),
                      (b'\x28\xb5\x2f\xfd', lambda b: subprocess.run(['zstd', '-qdc'], input=b, capture_output=True).stdout),
                      (b'\x1f\x8b\x08', lambda b: subprocess.run(['gzip', '-qdc'], input=b, capture_output=True).stdout)):
        i = data.find(magic)
        while i >= 0:
            yield i, fn
            i = data.find(magic, i + 1)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    data = open(src, 'rb').read()
    for off, fn in candidates(data):
        try:
            out = fn(data[off:])
        except Exception:  # not a real stream at this offset: try the next one
            continue
        if out[:4] == b'\x7fELF':
            tmp = dst + '.tmp'
            with open(tmp, 'wb') as f:
                f.write(out)
            os.replace(tmp, dst)
            return 0
    print(f'extract-vmlinux.py: no ELF kernel found in {src}', file=sys.stderr)
    return 1


if __name__ == '__main__':
    sys.exit(main())
