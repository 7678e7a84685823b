#!/usr/bin/env bash
# Packs the published crate (verbovka, default features: the embedded model ensemble) and fails
# if the compressed .crate is over crates.io's upload limit of 10 MiB.
#
#   .ci/package-size.sh            # cargo package --no-verify (seconds)
#   VERIFY=1 .ci/package-size.sh   # also builds the packed crate on its own (minutes)
#
# --allow-dirty: packs the working tree as it is, committed or not.
set -euo pipefail
cd "$(dirname "$0")/.."

LIMIT=10485760 # 10 MiB, crates.io's limit on a .crate file
CRATE=verbovka

verify=--no-verify
if [[ "${VERIFY:-0}" == 1 ]]; then
    verify=
fi

# `cargo pkgid` ends in `#verbovka@0.1.0` or `#0.1.0`.
pkgid=$(cargo pkgid -p "$CRATE")
version=${pkgid##*[#@]}
target_dir=${CARGO_TARGET_DIR:-target}
file="$target_dir/package/$CRATE-$version.crate"
rm -f "$file"

cargo package -p "$CRATE" --allow-dirty $verify

if [[ ! -f "$file" ]]; then
    echo "package-size: $file was not written" >&2
    exit 1
fi
size=$(stat -c %s "$file")
awk -v f="$file" -v s="$size" -v l="$LIMIT" \
    'BEGIN { printf "package-size: %s: %d bytes (%.2f MiB; limit %d bytes = 10 MiB)\n", f, s, s / 1048576, l }'
if ((size > LIMIT)); then
    echo "package-size: over the limit by $((size - LIMIT)) bytes; largest files (uncompressed bytes):" >&2
    tar -tvzf "$file" | sort -k3 -n -r | head -n 8 | awk '{print "  " $3 "  " $6}' >&2
    exit 1
fi
echo "package-size: ok ($((LIMIT - size)) bytes to spare)"
