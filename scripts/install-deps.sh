#!/bin/sh
# Install the Debian packages and the Python package that mailmigrate's
# sandbox, demo and tests need.  Run as root on Debian 12; safe to re-run.
#
# The packages' own system-wide Cyrus and Postfix services are stopped and
# disabled: the sandbox runs private instances on other ports, and a stray
# system daemon would hold ports and spool mail where nobody looks.
set -eu

PACKAGES="cyrus-imapd cyrus-admin cyrus-clients sasl2-bin postfix postfix-sqlite
postfix-pcre procmail sqlite3 m4"
SERVICES="cyrus-imapd postfix"

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps.sh: must run as root" >&2
    exit 1
fi

repo=$(cd "$(dirname "$0")/.." && pwd)

missing=""
for pkg in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
        "install ok installed") ;;
        *) missing="$missing $pkg" ;;
    esac
done

# A bare Debian python3 comes without pip.
if ! python3 -m pip --version >/dev/null 2>&1; then
    missing="$missing python3-pip"
fi

if [ -n "$missing" ]; then
    echo "install-deps.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    # Keep maintainer scripts from starting the system-wide daemons at all;
    # remove the guard only if this script put it there.
    guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        guard=/usr/sbin/policy-rc.d
    fi
    trap 'if [ -n "$guard" ]; then rm -f "$guard"; fi' EXIT
    apt-get update
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing
    rm -f "$guard"
    guard=""
else
    echo "install-deps.sh: Debian packages already installed"
fi

for svc in $SERVICES; do
    if [ -d /run/systemd/system ]; then
        systemctl disable --now "$svc" >/dev/null 2>&1 || true
    else
        if [ -x "/etc/init.d/$svc" ]; then
            "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
        fi
        systemctl disable "$svc" >/dev/null 2>&1 || true
        update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
done

# Real sendmail, unpacked but not installed (it conflicts with postfix): the
# oracle of the address parity check.  Separate script, own idempotence check.
sh "$repo/scripts/install-sendmail-oracle.sh"

# Debian's own python3 refuses pip installs (PEP 668) unless told otherwise.
pipflags=""
stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
if [ -e "$stdlib/EXTERNALLY-MANAGED" ]; then
    pipflags="--break-system-packages"
fi
# shellcheck disable=SC2086
python3 -m pip install --quiet $pipflags -e "$repo[test]"
echo "install-deps.sh: done"
