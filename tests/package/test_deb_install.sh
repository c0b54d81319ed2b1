#!/usr/bin/env bash
# The Debian package installed for real with dpkg, then purged (root only; ctest
# registers it when the build was configured as root, as CI is):
#   tests/package/test_deb_install.sh DEB
# install: /usr/bin/siteguard checks /etc/siteguard/siteguard.yaml, as root and
# as the `siteguard` system user (what the unit's ExecStartPre does), its
# plugins from /usr/lib/siteguard/plugins; /var/lib/siteguard belongs to
# siteguard:siteguard 0750, the config to root:siteguard 0640; the unit
# passes systemd-analyze verify. Installed again: nothing changes (postinst is
# idempotent). remove: the binaries go, the data, config and user stay. purge:
# the data, the config and the user (created by the package) go too.
#
# It changes the machine only while it runs and leaves it as it found it:
# - it refuses (fails) when siteguard is installed, or any path the package
#   owns or its scripts remove exists, so it never overwrites or deletes what
#   someone else put there;
# - one run at a time (flock); a run killed between install and purge leaves a
#   marker, and the next run purges the package that run installed;
# - a `siteguard` user that existed before is kept (postrm removes only the
#   user postinst created).
set -euo pipefail
deb=$1

fail() { echo "test_deb_install: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i); ctest registers it only for a root build"

LOCK=/var/lock/siteguard-package-test.lock
MARK=/var/tmp/siteguard-package-test.installed
OWNED=(/usr/bin/siteguard /usr/bin/siteguardctl /usr/bin/sg-probe /usr/lib/siteguard
       /lib/systemd/system/siteguard.service /etc/siteguard /var/lib/siteguard
       /var/log/siteguard /usr/share/doc/siteguard)

exec 9>"$LOCK"
flock -w 600 9 || fail "another run holds $LOCK"

state() { dpkg-query -W -f='${db:Status-Status}' siteguard 2>/dev/null || echo not-installed; }
# dpkg with the frontend lock another apt/dpkg may hold for a while: retried.
dpkg_() {
  local out
  for _ in $(seq 60); do
    if out=$(DEBIAN_FRONTEND=noninteractive dpkg "$@" </dev/null 2>&1); then
      [ -z "$out" ] || echo "$out"
      return 0
    fi
    [[ $out == *"lock"* ]] || { echo "$out" >&2; return 1; }
    sleep 2
  done
  echo "$out" >&2
  return 1
}

# A package left by a run of this test that was killed: purge it first.
if [ -f "$MARK" ] && [ "$(state)" != not-installed ]; then
  echo "test_deb_install: purging the package an interrupted run installed"
  dpkg_ --purge siteguard
fi
rm -f "$MARK"
[ "$(state)" = not-installed ] ||
  fail "a siteguard package is on this machine ($(state)): this test will not touch it"
for p in "${OWNED[@]}"; do
  [ ! -e "$p" ] || fail "$p exists: this test would overwrite or remove it"
done
user_before=0
getent passwd siteguard >/dev/null && user_before=1

: > "$MARK"
cleanup() {
  if [ "$(state)" != not-installed ]; then
    dpkg_ --purge siteguard >/dev/null || echo "test_deb_install: purge failed" >&2
  fi
  rm -f "$MARK"
}
trap cleanup EXIT

# --- installed -------------------------------------------------------------------
dpkg_ -i "$deb"
[ "$(state)" = installed ] || fail "dpkg -i left siteguard $(state)"
# LD_DEBUG=files names every library loaded: the plugins must be the package's.
ld=$(mktemp)
out=$(env -u SG_PLUGIN_DIR LD_DEBUG=files siteguard check-config /etc/siteguard/siteguard.yaml \
        2>"$ld") || { echo "$out"; rm -f "$ld"; fail "check-config as root"; }
echo "$out"
for p in $(awk '/^ *plugin:/ {print $2}' /etc/siteguard/siteguard.yaml); do
  grep -q "file=/usr/lib/siteguard/plugins/sg_$p.so " "$ld" ||
    { rm -f "$ld"; fail "plugin $p not loaded from /usr/lib/siteguard/plugins"; }
done
rm -f "$ld"
[ "$(command -v siteguard)" = /usr/bin/siteguard ] || fail "siteguard is $(command -v siteguard)"
runuser -u siteguard -- /usr/bin/siteguard check-config /etc/siteguard/siteguard.yaml ||
  fail "check-config as the siteguard user"
id siteguard
uid=$(id -u siteguard)
[ "$uid" -lt 1000 ] || fail "siteguard is not a system user (uid $uid)"
[ "$(id -gn siteguard)" = siteguard ] || fail "siteguard's group is $(id -gn siteguard)"
[ "$(stat -c '%U:%G %a' /var/lib/siteguard)" = "siteguard:siteguard 750" ] ||
  fail "/var/lib/siteguard is $(stat -c '%U:%G %a' /var/lib/siteguard)"
[ "$(stat -c '%U:%G %a' /etc/siteguard/siteguard.yaml)" = "root:siteguard 640" ] ||
  fail "/etc/siteguard/siteguard.yaml is $(stat -c '%U:%G %a' /etc/siteguard/siteguard.yaml)"
systemd-analyze verify /lib/systemd/system/siteguard.service || fail "systemd-analyze verify"
echo "test_deb_install: installed ok (siteguard uid $uid)"

# --- installed again: postinst changes nothing -------------------------------------
dpkg_ -i "$deb"
[ "$(id -u siteguard)" = "$uid" ] || fail "a second install changed siteguard's uid"
[ "$(stat -c '%U:%G %a' /var/lib/siteguard)" = "siteguard:siteguard 750" ] ||
  fail "after a second install /var/lib/siteguard is $(stat -c '%U:%G %a' /var/lib/siteguard)"

# --- removed: the data, config and user stay -----------------------------------------
runuser -u siteguard -- sh -c 'echo journal > /var/lib/siteguard/journal.db'
dpkg_ -r siteguard
[ "$(state)" = config-files ] || fail "dpkg -r left siteguard $(state)"
[ ! -e /usr/bin/siteguard ] && [ ! -e /usr/lib/siteguard ] || fail "dpkg -r left the binaries"
[ -f /var/lib/siteguard/journal.db ] && [ -f /etc/siteguard/siteguard.yaml ] ||
  fail "dpkg -r removed the data or the config"
getent passwd siteguard >/dev/null || fail "dpkg -r removed the user"

# --- purged: nothing left --------------------------------------------------------------
dpkg_ --purge siteguard
[ "$(state)" = not-installed ] || fail "dpkg --purge left siteguard $(state)"
for p in "${OWNED[@]}"; do
  [ ! -e "$p" ] || fail "$p is left after the purge"
done
if [ $user_before = 0 ]; then
  ! getent passwd siteguard >/dev/null || fail "the purge left the siteguard user"
  ! getent group siteguard >/dev/null || fail "the purge left the siteguard group"
else
  getent passwd siteguard >/dev/null || fail "the purge removed a siteguard user it did not create"
fi
echo "test_deb_install: purged, nothing left"
