#!/bin/sh
# Creates or refreshes the Python venv that the django-eventstream e2e test runs Django in.
# Usage: tests/django/bootstrap.sh [VENV_DIR]   (default: target/django-venv in the repo)
# Called by .ci/run up front and by the test itself; does nothing when the venv already has
# exactly this requirements.txt installed (the copy in VENV_DIR/.ringpin-requirements).
# Needs python3 (3.10 or later, for Django 5.2) with pip; network access on first run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-$here/../../target/django-venv}
stamp="$venv/.ringpin-requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$here/requirements.txt" "$stamp"; then
    exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
    # Debian's python3 lacks ensurepip unless python3-venv is installed: then make the venv
    # without pip and install into it with the system's pip.
    python3 -m venv "$venv" 2>/dev/null || {
        rm -rf "$venv"
        python3 -m venv --without-pip "$venv"
    }
fi
if [ -x "$venv/bin/pip" ]; then
    set -- "$venv/bin/python" -m pip
else
    set -- python3 -m pip --python "$venv/bin/python"
fi
"$@" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
cp "$here/requirements.txt" "$stamp"
