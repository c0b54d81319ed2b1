#!/usr/bin/env bash
# Builds the package of a built tree as `cmake --build BUILD --target package`
# does (cpack with the same CPackConfig.cmake: a .deb on Linux, a zip for
# Windows) into OUT, which it empties first, and checks that it is named FILE:
#   tests/package/build_package.sh BUILD OUT FILE
# The ctest fixture of the package tests (tests/package, tests/windows).
set -euo pipefail
build=$1 out=$2 file=$3

rm -rf "$out"
mkdir -p "$out"
log=$out/cpack.log
if ! cpack --config "$build/CPackConfig.cmake" -B "$out" >"$log" 2>&1; then
  cat "$log" >&2
  echo "build_package: cpack failed (its output above)" >&2
  exit 1
fi
rm -rf "$out/_CPack_Packages"
if [ ! -f "$out/$file" ]; then
  echo "build_package: no $out/$file; cpack made: $(ls "$out")" >&2
  exit 1
fi
echo "build_package: $out/$file ($(stat -c %s "$out/$file") bytes)"
