#!/usr/bin/python3
"""The runner's environment for a case, and a non-bash case."""
import os, sys
need = ["SVS_REPO", "SVS_KVER", "SVS_RESULTS", "SVS_KO", "SVS_CASE", "SVS_CASE_TMP"]
missing = [n for n in need if not os.environ.get(n)]
assert not missing, missing
assert os.environ["SVS_CASE"] == "70-env", os.environ["SVS_CASE"]
assert os.path.isdir(os.environ["SVS_CASE_TMP"])
assert os.getcwd() == os.environ["SVS_REPO"], os.getcwd()
assert os.uname().release == os.environ["SVS_KVER"]
assert sys.stdin.read() == ""
print("env ok")
