#!/usr/bin/env bash
# The whole staged migration of the sample site's first domain into a real local Cyrus:
# installs what is missing, starts the sandbox servers, copies samples/site to a scratch
# tree (the committed samples are never modified), then runs every stage and shows the
# dry-run report and the final status.
#
#   bash scripts/demo.sh [DOMAIN]        (default domain: example.org)
#
# Environment: MAILMIGRATE_DEMO (scratch dir, default /var/tmp/mailmigrate-demo),
# MAILMIGRATE_SANDBOX (server dir, default /var/tmp/mailmigrate-sandbox).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
domain=${1:-example.org}
demo=${MAILMIGRATE_DEMO:-/var/tmp/mailmigrate-demo}
sandbox=${MAILMIGRATE_SANDBOX:-/var/tmp/mailmigrate-sandbox}

bash "$repo/scripts/install-deps.sh"
python3 "$repo/samples/sandbox/sandbox.py" start --dir "$sandbox"

echo "== fresh scratch copy of the sample site in $demo"
rm -rf "$demo"
python3 "$repo/samples/prepare_site.py" "$demo" --sandbox "$sandbox" --reset-cyrus
mm() { echo; echo "\$ mailmigrate $*"; mailmigrate --config "$demo/mailmigrate.toml" "$@"; }

mm inventory
mm convert
echo; echo "== dry-run report (exit status 3 means: items need a person)"
mm report --domain "$domain" || [ $? -eq 3 ]
mm copy --domain "$domain"
mm verify --domain "$domain"
mm sieve --domain "$domain"
mm cutover "$domain"
mm status
