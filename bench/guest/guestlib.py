"""Helpers shared by the benchmarks' guest scripts (bench.py, feedback.py,
agent_scale.py; imported from the script's own directory)."""

import os
import subprocess


def params(prefix, quick):
    """The scripts' sizes: param(NAME, FULL, QUICK) is $<prefix>NAME when
    set, else the quick or the full default."""
    def param(name, full, quick_value):
        return os.environ.get(prefix + name) or (quick_value if quick else full)
    return param


def run(cmd, check=True, input=None, timeout=3000):
    """Run cmd (a list) capturing its output; with check, a non-zero exit
    raises RuntimeError with the ends of stdout and stderr."""
    r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s %s" % (" ".join(cmd), r.returncode, r.stdout[-2000:],
                                                   r.stderr[-2000:]))
    return r
