#!/bin/sh
# Unpack Debian's sendmail 8.17 into /opt/mailmigrate/sendmail for the address
# parity check (checks/sendmail_oracle.py).  Run as root; safe to re-run.
#
# sendmail-bin conflicts with postfix, so it is never installed: the packages
# are downloaded with apt-get download and unpacked with dpkg -x into a
# root-owned directory that is not world-writable (sendmail refuses files
# whose directory chain is writable by others, as under /tmp).  m4 (to build
# the .cf) is an ordinary package and comes from install-deps.sh.
set -eu

root=${MAILMIGRATE_SENDMAIL_ROOT:-/opt/mailmigrate/sendmail}
packages="sendmail-bin sendmail-base sendmail-cf"

if [ "$(id -u)" -ne 0 ]; then
    echo "install-sendmail-oracle.sh: must run as root" >&2
    exit 1
fi
if [ -x "$root/usr/libexec/sendmail/sendmail" ] && [ -f "$root/usr/share/sendmail/cf/m4/cf.m4" ]; then
    echo "install-sendmail-oracle.sh: sendmail already unpacked in $root"
    exit 0
fi

download=$(mktemp -d /var/cache/mailmigrate-sendmail.XXXXXX)
trap 'rm -rf "$download"' EXIT
# apt-get download runs as _apt, which cannot write a root-only directory.
chown _apt "$download" 2>/dev/null || true
# shellcheck disable=SC2086
if ! (cd "$download" && apt-get download $packages); then
    apt-get update
    # shellcheck disable=SC2086
    (cd "$download" && apt-get download $packages)
fi

staging="$root.new"
rm -rf "$staging"
mkdir -p "$staging"
for deb in "$download"/*.deb; do
    dpkg -x "$deb" "$staging"
done
chown -R root:root "$staging"
chmod -R go-w "$staging"
rm -rf "$root"
mkdir -p "$(dirname "$root")"
chmod 0755 "$(dirname "$root")"
mv "$staging" "$root"
"$root/usr/libexec/sendmail/sendmail" -d0.1 -bt </dev/null 2>/dev/null | head -1 || true
echo "install-sendmail-oracle.sh: sendmail unpacked in $root"
