#!/usr/bin/env python3
"""Checks a Lambda package (dist/router-lambda.zip) against Amazon Linux 2023 (provided.al2023, glibc 2.34).

Every ELF file in the zip must need no glibc symbol version newer than GLIBC_2.34 (nor GLIBCXX > 3.4.29 /
CXXABI > 1.3.13, GCC 11's libstdc++), and every library it needs (DT_NEEDED), plus the libraries the router loads
with dlopen (libcurl.so.4), must be shipped under lib/ or be on the base-image list (scripts/al2023-base-libs.txt).
Also: `bootstrap` at the root, executable; `rules/` with at least one .lua file.

Usage: check-lambda-zip.py ZIP [--base-libs FILE]. Prints one line per ELF file checked, then `ok` or the
problems; exit status 1 on any problem. Needs readelf (binutils).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import zipfile

MAX_VERSIONS = {"GLIBC": (2, 34), "GLIBCXX": (3, 4, 29), "CXXABI": (1, 3, 13)}
# Loaded with dlopen (not in DT_NEEDED): Sources/CCurlShim/ccurlshim.c.
DLOPENED = {"bootstrap": ["libcurl.so.4"]}


def parse_version(text):
    return tuple(int(p) for p in text.split("."))


def readelf(args, path):
    return subprocess.run(["readelf", "-W"] + args + [path], check=True, capture_output=True, text=True).stdout


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("zip")
    ap.add_argument("--base-libs", default=os.path.join(here, "al2023-base-libs.txt"))
    args = ap.parse_args()

    base = set()
    with open(args.base_libs) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                base.add(line)

    problems = []
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(args.zip) as z:
        names = z.namelist()
        info = {i.filename: i for i in z.infolist()}
        if "bootstrap" not in info:
            problems.append("no bootstrap at the root of the zip")
        elif not (info["bootstrap"].external_attr >> 16) & 0o100:
            problems.append("bootstrap is not executable in the zip")
        if not any(n.startswith("rules/") and n.endswith(".lua") and n.count("/") == 1 for n in names):
            problems.append("no rules/*.lua in the zip")
        shipped = {os.path.basename(n) for n in names if n.startswith("lib/") and not n.endswith("/")}
        z.extractall(tmp)
        for name in sorted(names):
            path = os.path.join(tmp, name)
            if not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    continue
            needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", readelf(["-d"], path))
            # The version needs section (.gnu.version_r) is what the loader checks against the libraries it finds.
            info_text = readelf(["--version-info"], path)
            needs = info_text.split("Version needs section", 1)[1] if "Version needs section" in info_text else ""
            versions = re.findall(r"Name: ([A-Z]+)_([0-9][0-9.]*)", needs)
            newest = {}
            for family, v in versions:
                if family in MAX_VERSIONS:
                    pv = parse_version(v)
                    newest[family] = max(newest.get(family, pv), pv)
                    if pv > MAX_VERSIONS[family]:
                        problems.append(f"{name}: needs {family}_{v}, newer than {family}_{'.'.join(map(str, MAX_VERSIONS[family]))}")
            loads = needed + DLOPENED.get(name, [])
            for lib in loads:
                if lib not in shipped and lib not in base:
                    problems.append(f"{name}: needs {lib}, neither shipped under lib/ nor on the base-image list")
            shown = ", ".join(f"{k}_{'.'.join(map(str, v))}" for k, v in sorted(newest.items())) or "no versioned symbols"
            print(f"{name}: ELF; needs {', '.join(loads) or 'nothing'}; newest {shown}")
    if problems:
        for p in problems:
            print("problem: " + p)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
