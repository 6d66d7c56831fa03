#!/bin/sh
# Installs playwright-core (pinned in package-lock.json) into tests/browser/node_modules for the
# real-browser e2e tests (tests/e2e/browser.rs, which calls this script before each launch, as
# .ci/browser-setup does up front). Does nothing when node_modules already holds exactly this
# package-lock.json (the copy in node_modules/.ringpin-package-lock); `npm ci` otherwise.
# Needs node 20 or later and npm, and the npm registry on first run. No browser is downloaded:
# the tests drive Debian's /usr/bin/chromium.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
stamp="$here/node_modules/.ringpin-package-lock"
if cmp -s "$here/package-lock.json" "$stamp"; then
    exit 0
fi
cd "$here"
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
