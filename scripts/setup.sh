#!/usr/bin/env bash
# Creates .venv with mluke-data installed (editable).
#   bash scripts/setup.sh          the pipeline (mluke-data)
#   bash scripts/setup.sh --dev    + training extra (torch, transformers) and test tools
# PyICU compiles against the system ICU: libicu-dev, pkg-config and g++ are installed with apt-get
# when missing and this runs as root; otherwise install them first (Debian/Ubuntu names).
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
for arg in "$@"; do
  case "$arg" in
    --dev) extras="dev,train,dataflow" ;;
    --train) extras="train" ;;
    *) echo "usage: bash scripts/setup.sh [--dev|--train]" >&2; exit 2 ;;
  esac
done

if ! pkg-config --exists icu-i18n 2>/dev/null || ! command -v g++ >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing libicu-dev pkg-config g++ (needed to build PyICU)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libicu-dev pkg-config g++ >/dev/null
  else
    echo "PyICU needs ICU headers: run 'sudo apt-get install -y libicu-dev pkg-config g++' first" >&2
    exit 1
  fi
fi

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
"$python" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' || {
  echo "Python >= 3.11 is required ($python is $("$python" --version))" >&2; exit 1; }

# pip's output goes to a log that is shown only when pip fails.
log=$(mktemp)
pip_install() {
  if ! .venv/bin/python -m pip install -q "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup failed: pip install $*" >&2
    exit 1
  fi
}

[ -x .venv/bin/python ] || "$python" -m venv .venv
pip_install --upgrade pip
if [[ "$extras" == *train* ]]; then
  # The CPU build; an unpinned torch would pull several GB of CUDA libraries.
  pip_install "torch==2.13.0"
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
pip_install -e "$spec"
rm -f "$log"
.venv/bin/python -c 'import logging; logging.getLogger().addHandler(logging.NullHandler()); import apache_beam, icu, mwparserfromhell, sentencepiece, pyarrow' \
  || { echo "setup failed: a core dependency does not import" >&2; exit 1; }
echo "ready: .venv/bin/mluke-data" >&2
