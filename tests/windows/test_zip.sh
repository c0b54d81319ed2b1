#!/usr/bin/env bash
# The Windows zip, unpacked into a scratch folder (run by ctest under
# tests/windows/run-wine, which sets up WINEPREFIX):
#   tests/windows/test_zip.sh ZIP OBJDUMP PLUGIN...
# - one top folder, siteguard-<version>-win64\, holding siteguard.exe,
#   siteguardctl.exe, every plugin in plugins\, config\example.yaml and
#   deploy\windows\install.ps1 (which looks for siteguard.exe two folders up);
# - every DLL that an executable or plugin of the zip imports is in the zip
#   or is a Windows system DLL (one that Wine's system32 holds): the zip runs
#   on a machine with nothing else installed;
# - `wine siteguard.exe check-config config\example.yaml` in the unpacked
#   folder succeeds, its sinks' plugins loaded from the unpacked plugins\
#   (found beside the executable: no plugin_dir, no SG_PLUGIN_DIR).
set -euo pipefail
zip=$1 objdump=$2
shift 2
plugins=("$@")

fail() { echo "test_zip: FAIL: $*" >&2; exit 1; }
[ -n "${WINEPREFIX:-}" ] || fail "run it under tests/windows/run-wine (no WINEPREFIX)"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/sg-zip.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

cmake -E chdir "$scratch" cmake -E tar xf "$zip"
top=$(basename "$zip" .zip)
[ "$(ls "$scratch")" = "$top" ] || fail "the zip's top folders are $(ls "$scratch"), not $top"
dir=$scratch/$top
for f in siteguard.exe siteguardctl.exe config/example.yaml deploy/windows/install.ps1 \
         deploy/windows/cluster-role.ps1; do
  [ -f "$dir/$f" ] || fail "no $f in the zip"
done
for p in "${plugins[@]}"; do
  [ -f "$dir/plugins/$p.dll" ] || fail "no plugins/$p.dll in the zip"
done
n=$(find "$dir/plugins" -name 'sg_*.dll' | wc -l)
[ "$n" -eq "${#plugins[@]}" ] || fail "$n plugins in the zip, ${#plugins[@]} built"
! ls "$dir"/*cmocka* >/dev/null 2>&1 || fail "the tests' cmocka DLL is in the zip"
echo "test_zip: $(cd "$dir" && find . -type f | wc -l) files; $(cd "$dir" && ls *.dll | tr '\n' ' ')"

# --- every imported DLL is in the zip or is Windows' own ---------------------------
sys32=$WINEPREFIX/drive_c/windows/system32
[ -d "$sys32" ] || wine wineboot --init >/dev/null 2>&1
ls "$dir" | tr 'A-Z' 'a-z' > "$scratch/shipped"
ls "$sys32" | tr 'A-Z' 'a-z' > "$scratch/system"
while IFS= read -r -d '' pe; do
  for dll in $("$objdump" -p "$pe" | awk '/DLL Name:/ {print tolower($3)}'); do
    grep -qxF "$dll" "$scratch/shipped" && continue
    # mingw's runtime and the dependencies are never Windows' own, whatever Wine has.
    [[ $dll == lib* || $dll == sqlite3.dll ]] &&
      fail "${pe#"$dir"/} imports $dll, which the zip lacks"
    grep -qxF "$dll" "$scratch/system" || fail "${pe#"$dir"/} imports $dll: not in the zip nor Windows"
  done
done < <(find "$dir" \( -name '*.exe' -o -name '*.dll' \) -print0)
echo "test_zip: every imported DLL is in the zip or in Windows"

# --- the unpacked siteguard.exe checks the example, its plugins beside it ----------------
log=$scratch/wine.log
out=$(cd "$dir" && env -u SG_PLUGIN_DIR WINEDEBUG=-all,+loaddll \
        wine ./siteguard.exe check-config 'config\example.yaml' 2>"$log") ||
  { echo "$out"; grep -v 'loaddll' "$log" >&2 || true; fail "check-config of the example"; }
echo "$out"
[[ $out == *"example.yaml: ok ("*"sinks)"* ]] || fail "check-config said: $out"
# Wine's trace writes L"Z:\\tmp\\...": compared lower case, with forward slashes.
slashes() { tr 'A-Z\\' 'a-z/' | tr -s /; }
winedir=$(winepath -w "$dir" 2>/dev/null | slashes)
slashes < "$log" > "$log.norm"
for p in $(awk '/^ *plugin:/ {print $2}' "$dir/config/example.yaml"); do
  grep -qF "loaded l\"$winedir/plugins/sg_$p.dll\"" "$log.norm" ||
    { grep -i "sg_$p" "$log" >&2 || true
      fail "plugin $p was not loaded from the unpacked plugins folder ($winedir/plugins)"; }
done
echo "test_zip: the unpacked siteguard.exe runs, its plugins found beside it"
