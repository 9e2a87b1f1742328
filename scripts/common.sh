# Shared by the scripts: the project venv with SecantusDB, free ports, waiting for a port.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
# Pinned: the MongoDB-wire stand-in the tests and local runs use (a pre-release on PyPI).
SECANTUS_VERSION="0.7.0b3"

# Compiled into build_info; the same value for every build keeps cargo from rebuilding.
GIT_REVISION="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
export GIT_REVISION

step() { printf '\n==> %s\n' "$*"; }

# apt_install PACKAGE COMMAND: installs a Debian package unless COMMAND is already there.
apt_install() {
  if command -v "$2" >/dev/null || [ -x "/usr/sbin/$2" ]; then return; fi
  step "installing $1"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

# Installs package.json's pinned packages (artillery, playwright-core, axe-core...) into
# node_modules from the lock file unless they are all there, without any browser download.
ensure_node_modules() {
  if (cd "$ROOT" && node -e '
    const wanted = require("./package.json").devDependencies;
    for (const [name, version] of Object.entries(wanted))
      if (require(`./node_modules/${name}/package.json`).version !== version) process.exit(1);
  ') 2>/dev/null; then
    return
  fi
  step "installing the npm packages into node_modules"
  (cd "$ROOT" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 \
    npm ci --no-audit --no-fund --loglevel=error)
}

# Creates the venv and installs SecantusDB into it unless that exact version is there.
ensure_secantus() {
  local installed
  installed=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("SecantusDB"))' 2>/dev/null || true)
  if [ -x "$VENV/bin/secantusd-py" ] && [ "$installed" = "$SECANTUS_VERSION" ]; then
    return
  fi
  step "installing SecantusDB $SECANTUS_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "SecantusDB==$SECANTUS_VERSION"
}

# The offline checkers of the manifests, pinned, into the same venv.
ensure_python_tools() {
  ensure_secantus
  if "$VENV/bin/python" -c 'import importlib.metadata as m, sys
pins = {"kubernetes-validate": "1.37.0", "yamllint": "1.38.0", "checkov": "3.3.30"}
sys.exit(any(m.version(p) != v for p, v in pins.items()))' 2>/dev/null; then
    return
  fi
  step "installing kubernetes-validate, yamllint and checkov into $VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    kubernetes-validate==1.37.0 yamllint==1.38.0 checkov==3.3.30
}

# schemathesis, pinned, into the same venv: the API fuzzer of scripts/api-fuzz.sh.
SCHEMATHESIS_VERSION="4.32.5"
ensure_schemathesis() {
  ensure_secantus
  if [ -x "$VENV/bin/schemathesis" ] && "$VENV/bin/python" -c "import importlib.metadata as m, sys
sys.exit(m.version('schemathesis') != '$SCHEMATHESIS_VERSION')" 2>/dev/null; then
    return
  fi
  step "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  # checkov, in the same venv, needs packaging<24; schemathesis is content with it.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" "packaging>=23,<24"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# require_free_port PORT NAME: stops with a message if something already listens there.
require_free_port() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    echo "port $1 ($2) is already in use: stop what runs there, or choose another port" >&2
    exit 1
  fi
}

# wait_for_port PORT SECONDS NAME: fails with a message if nothing listens in time.
wait_for_port() {
  local port=$1 seconds=$2 name=$3
  for _ in $(seq $((seconds * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$name did not start listening on 127.0.0.1:$port within ${seconds}s" >&2
  return 1
}

# start_secantus PORT STORAGE LOG: starts the server as a background job of the caller;
# its pid is then in $!.
start_secantus() {
  local port=$1 storage=$2 log=$3
  "$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path "$storage" --log-level WARNING >"$log" 2>&1 &
}
