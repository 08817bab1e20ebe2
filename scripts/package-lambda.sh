#!/usr/bin/env bash
# Builds dist/router-lambda.zip, the AWS Lambda package for the provided.al2023 runtime:
#   bootstrap   the router, release build, Swift runtime linked statically (it runs `router lambda`)
#   rules/      the repository's rules (the function reads $LAMBDA_TASK_ROOT/rules)
#   lib/        every shared library bootstrap needs that the base image lacks (scripts/al2023-base-libs.txt lists
#               what it has; Lambda puts $LAMBDA_TASK_ROOT/lib on LD_LIBRARY_PATH)
# then checks it with scripts/check-lambda-zip.py. Prints the zip's size.
set -euo pipefail
cd "$(dirname "$0")/.."

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

# Symbols whose Debian versions are newer than AL2023's are bound to their older versions (see the C file). The
# object keeps a fixed path, rewritten only when it changes, so SwiftPM's link step stays cached.
clang="$(command -v clang || echo "$(dirname "$(readlink -f "$(command -v swift)")")/clang")"
mkdir -p .build/lambda
"$clang" -O2 -fPIC -c scripts/lambda-glibc-compat.c -o .build/lambda/glibc-compat.new.o
if cmp -s .build/lambda/glibc-compat.new.o .build/lambda/glibc-compat.o; then
  rm -f .build/lambda/glibc-compat.new.o
else
  mv .build/lambda/glibc-compat.new.o .build/lambda/glibc-compat.o
fi
wrap=()
for sym in hypot hypotf _ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE; do
  wrap+=(-Xlinker "--wrap=$sym")
done
swift build -c release --static-swift-stdlib --product router -Xlinker "$PWD/.build/lambda/glibc-compat.o" "${wrap[@]}"
bin="$(swift build -c release --static-swift-stdlib --show-bin-path)/router"
mkdir -p "$stage/lib" dist
cp "$bin" "$stage/bootstrap"
strip --strip-unneeded "$stage/bootstrap"
mkdir -p "$stage/rules"
cp rules/*.lua "$stage/rules/"

# Shared libraries not in the base image, found where this machine's loader finds them (and their own needs, once).
base="$(grep -v '^#' scripts/al2023-base-libs.txt | sed '/^[[:space:]]*$/d')"
todo=("$stage/bootstrap")
while [ ${#todo[@]} -gt 0 ]; do
  elf="${todo[0]}"
  todo=("${todo[@]:1}")
  for lib in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    if grep -qxF "$lib" <<<"$base" || [ -e "$stage/lib/$lib" ]; then continue; fi
    path="$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && !found { print $NF; found = 1 }')"  # reads all: no SIGPIPE for ldconfig
    if [ -z "$path" ]; then echo "package-lambda: $lib (needed by $(basename "$elf")) is not installed" >&2; exit 1; fi
    cp -L "$path" "$stage/lib/$lib"
    strip --strip-unneeded "$stage/lib/$lib"
    todo+=("$stage/lib/$lib")
  done
done

rm -f dist/router-lambda.zip
# Python's zipfile: no zip tool needed, bootstrap recorded as executable, fixed timestamps (a reproducible zip).
python3 - "$stage" dist/router-lambda.zip <<'PY'
import os, sys, zipfile
stage, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for root, dirs, files in os.walk(stage):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            arc = os.path.relpath(path, stage)
            info = zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if arc == "bootstrap" or arc.startswith("lib/") else 0o644
            info.external_attr = (0o100000 | mode) << 16
            with open(path, "rb") as f:
                z.writestr(info, f.read())
PY
python3 scripts/check-lambda-zip.py dist/router-lambda.zip
echo "dist/router-lambda.zip: $(stat -c %s dist/router-lambda.zip) bytes ($(du -h dist/router-lambda.zip | cut -f1)); bootstrap $(stat -c %s "$stage/bootstrap") bytes unpacked"
