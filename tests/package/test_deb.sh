#!/usr/bin/env bash
# The Debian package without installing it (any user):
#   tests/package/test_deb.sh DEB PLUGIN...
# - dpkg-deb --contents lists the executables, every plugin under
#   /usr/lib/siteguard/plugins, the systemd unit, /etc/siteguard/siteguard.yaml
#   and /var/lib/siteguard/;
# - the control fields: the runtime libraries dpkg-shlibdeps found, adduser;
#   the conffile; maintainer scripts executable and valid sh;
# - unpacked (dpkg-deb -x) into a scratch folder, the unpacked
#   usr/bin/siteguard checks the unpacked etc/siteguard/siteguard.yaml, its
#   sinks' plugins loaded from the unpacked usr/lib/siteguard/plugins (found
#   from the executable's own folder: no plugin_dir, no SG_PLUGIN_DIR), and
#   siteguardctl and sg-probe run.
set -euo pipefail
deb=$1
shift
plugins=("$@")

fail() { echo "test_deb: FAIL: $*" >&2; exit 1; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/sg-deb.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# --- contents ------------------------------------------------------------------
dpkg-deb --contents "$deb" > "$scratch/contents"
has() { # has MODE-PREFIX PATH: a line of the listing with that path and mode
  awk -v m="$1" -v p="$2" '$NF == p && index($1, m) == 1 { found = 1 } END { exit !found }' \
    "$scratch/contents" || { cat "$scratch/contents" >&2; fail "no '$1' $2 in the package"; }
}
for exe in siteguard siteguardctl sg-probe; do
  has -rwxr-xr-x "./usr/bin/$exe"
done
for p in "${plugins[@]}"; do
  has -rw-r--r-- "./usr/lib/siteguard/plugins/$p.so"
done
has -rw-r--r-- ./lib/systemd/system/siteguard.service
has -rw-r--r-- ./etc/siteguard/siteguard.yaml
has drwxr-xr-x ./var/lib/siteguard/
n_plugins=$(grep -c '/usr/lib/siteguard/plugins/sg_.*\.so$' "$scratch/contents")
[ "$n_plugins" -eq "${#plugins[@]}" ] ||
  fail "$n_plugins plugins in the package, ${#plugins[@]} built"
echo "test_deb: contents ok ($(wc -l < "$scratch/contents") entries, $n_plugins plugins)"

# --- control -------------------------------------------------------------------
[ "$(dpkg-deb -f "$deb" Package)" = siteguard ] || fail "Package is not siteguard"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in adduser libc6 libzmq5 libyaml-0-2 libprotobuf-c1 libsqlite3-0 libjansson4 \
           libmicrohttpd12 libcurl4; do
  [[ ", $depends," == *", $lib"[\ ,]* ]] || fail "Depends has no $lib: $depends"
done
mkdir "$scratch/control"
dpkg-deb --control "$deb" "$scratch/control"
[ "$(cat "$scratch/control/conffiles")" = /etc/siteguard/siteguard.yaml ] ||
  fail "conffiles: $(cat "$scratch/control/conffiles")"
for s in postinst prerm postrm; do
  [ -x "$scratch/control/$s" ] || fail "$s missing or not executable"
  sh -n "$scratch/control/$s" || fail "$s is not valid sh"
done
echo "test_deb: control ok (Depends: $depends)"

# --- unpacked ------------------------------------------------------------------
root=$scratch/root
dpkg-deb -x "$deb" "$root"
cd "$root"
# LD_DEBUG=files names every library loaded: the plugins must be the unpacked ones.
out=$(env -u SG_PLUGIN_DIR LD_DEBUG=files usr/bin/siteguard check-config \
        etc/siteguard/siteguard.yaml 2>"$scratch/ld.log") ||
  { echo "$out"; grep -v 'file=\|^ *[0-9]*: *$' "$scratch/ld.log" >&2 || true
    fail "the unpacked siteguard refused the unpacked config"; }
echo "$out"
[[ $out == *": ok ("*"sinks)"* ]] || fail "check-config said: $out"
for p in $(awk '/^ *plugin:/ {print $2}' etc/siteguard/siteguard.yaml); do
  grep -q "file=$root/usr/lib/siteguard/plugins/sg_$p.so " "$scratch/ld.log" ||
    { grep "sg_$p" "$scratch/ld.log" >&2 || true
      fail "plugin $p was not loaded from $root/usr/lib/siteguard/plugins"; }
done
[ "$(usr/bin/siteguard version)" = "siteguard $(dpkg-deb -f "$deb" Version)" ] ||
  fail "siteguard version: $(usr/bin/siteguard version)"
usr/bin/siteguardctl keygen --out "$scratch/k.key" >/dev/null || fail "siteguardctl keygen"
usr/bin/sg-probe --help >/dev/null 2>&1 || fail "sg-probe --help"
echo "test_deb: the unpacked tree runs, its plugins found beside it"
