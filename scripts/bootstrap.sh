#!/usr/bin/env bash
# Installs what Faultline needs on a fresh Debian/Ubuntu machine, idempotently:
#   - the Debian packages the sim driver runs inside sandboxes (iproute2, iptables, tcpdump, ...)
#   - a subordinate uid/gid range for the user that runs the server (sandboxes run as those ids)
#   - npm dependencies
# As root it does it; otherwise it prints the exact commands and exits non-zero.
# `npm start` and `npm test` call it first, so a fresh clone needs nothing else.
set -euo pipefail

cd "$(dirname "$0")/.."

# Packages: binary that proves it is there -> Debian package.
declare -A NEED=(
  [ip]=iproute2 [bridge]=iproute2 [iptables]=iptables [newuidmap]=uidmap [tcpdump]=tcpdump
  [strace]=strace [ping]=iputils-ping [curl]=curl [bwrap]=bubblewrap [tini]=tini
  [catatonit]=catatonit
  [ps]=procps [dig]=dnsutils [socat]=socat [nc]=netcat-openbsd [nsenter]=util-linux
  [vim.basic]=vim [nano]=nano [less]=less [jq]=jq
)
# The browser tests (test/e2e, `npm run test:e2e`) drive Debian's Chromium with playwright-core and
# Debian's Firefox ESR with puppeteer-core (WebDriver BiDi); neither library downloads a browser of its
# own. CI=true or FAULTLINE_E2E=1 installs both; without them those tests are skipped. Ubuntu has no
# firefox-esr package (its Firefox is a snap): there, FAULTLINE_FIREFOX=<a firefox binary> skips it.
if [[ "${CI:-}" == "true" || "${FAULTLINE_E2E:-}" == "1" ]]; then
  NEED[chromium]=chromium
  if [[ -z "${FAULTLINE_FIREFOX:-}" ]]; then NEED[firefox-esr]=firefox-esr; fi
fi

# The server needs no database server (SQLite is built in); the store's tests also run on Postgres,
# in a throwaway cluster they start with Debian's initdb. CI=true or FAULTLINE_TEST_POSTGRES=1 installs it.
missing=()
for bin in "${!NEED[@]}"; do
  if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$bin" >/dev/null 2>&1; then missing+=("${NEED[$bin]}"); fi
done
# initdb is not on PATH: Debian keeps it under /usr/lib/postgresql/<version>/bin.
if [[ "${CI:-}" == "true" || "${FAULTLINE_TEST_POSTGRES:-}" == "1" ]] && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  missing+=(postgresql)
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

is_root=0; [[ "$(id -u)" == 0 ]] && is_root=1

if ((${#missing[@]})); then
  if ((is_root)); then
    echo "faultline: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # `update` only when a package is missing: keeps repeated runs fast and offline-safe.
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "faultline: missing Debian packages. Run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# kubectl 1.29+: trainees' shells use it and lab manifests are applied with it; the sandbox's API server
# speaks the WebSocket exec protocol kubectl uses since 1.29. Debian's own kubernetes-client is 1.20, so
# when kubectl is missing or older, root adds the Kubernetes project's apt repository (pkgs.k8s.io, the
# documented install) and installs it from there.
KUBECTL_MIN_MINOR=29
KUBECTL_SERIES=v1.32
kubectl_minor() {
  kubectl version --client -o json 2>/dev/null | sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -n1
}
minor="$(kubectl_minor || true)"
if [[ -z "$minor" || "$minor" -lt "$KUBECTL_MIN_MINOR" ]]; then
  have="${minor:+kubectl 1.$minor}"; have="${have:-no kubectl}"
  manual="https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/"
  if ((is_root)); then
    echo "faultline: found ${have}; installing kubectl from pkgs.k8s.io (${KUBECTL_SERIES})" >&2
    export DEBIAN_FRONTEND=noninteractive
    for t in curl gpg; do
      command -v "$t" >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq --no-install-recommends curl gpg ca-certificates >/dev/null; break; }
    done
    keyring=/etc/apt/keyrings/kubernetes-apt-keyring.gpg
    list=/etc/apt/sources.list.d/kubernetes.list
    mkdir -p -m 755 /etc/apt/keyrings
    # The list is written only once the key is in, and taken back if apt cannot use it, so a failed
    # attempt (offline, a proxy) leaves apt as it was.
    if curl -fsSL --max-time 60 "https://pkgs.k8s.io/core:/stable:/${KUBECTL_SERIES}/deb/Release.key" | gpg --dearmor --yes -o "$keyring" \
      && echo "deb [signed-by=${keyring}] https://pkgs.k8s.io/core:/stable:/${KUBECTL_SERIES}/deb/ /" >"$list" \
      && apt-get update -qq && apt-get install -y -qq kubectl >/dev/null; then
      echo "faultline: installed $(kubectl version --client 2>/dev/null | head -n1)" >&2
    else
      rm -f "$list" "$keyring"
      echo "faultline: could not install kubectl from pkgs.k8s.io (is the machine offline?)." >&2
      echo "  Install kubectl 1.${KUBECTL_MIN_MINOR} or newer by hand (${manual}), then run this again." >&2
      exit 1
    fi
  else
    echo "faultline: found ${have}; Faultline needs kubectl 1.${KUBECTL_MIN_MINOR} or newer. Install it (${manual}), e.g.:" >&2
    echo "  curl -fsSL https://pkgs.k8s.io/core:/stable:/${KUBECTL_SERIES}/deb/Release.key | sudo gpg --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg" >&2
    echo "  echo 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/${KUBECTL_SERIES}/deb/ /' | sudo tee /etc/apt/sources.list.d/kubernetes.list" >&2
    echo "  sudo apt-get update && sudo apt-get install -y kubectl" >&2
    exit 1
  fi
fi

# Sandboxes run as unprivileged host ids from a subordinate range (see docs/sandboxes.md):
# 256 slots of 65536 ids each, far above the ranges Debian's useradd hands out.
SUB_START=1073741824
SUB_COUNT=16777216
user="$(id -un)"
need_sub=()
for f in /etc/subuid /etc/subgid; do
  if ! grep -qE "^(${user}|$(id -u)):" "$f" 2>/dev/null; then need_sub+=("$f"); fi
done
if ((${#need_sub[@]})); then
  if ((is_root)); then
    for f in "${need_sub[@]}"; do echo "${user}:${SUB_START}:${SUB_COUNT}" >>"$f"; done
    echo "faultline: added ${user}:${SUB_START}:${SUB_COUNT} to ${need_sub[*]}" >&2
  else
    echo "faultline: user ${user} has no subordinate id range. Run:" >&2
    for f in "${need_sub[@]}"; do echo "  echo '${user}:${SUB_START}:${SUB_COUNT}' | sudo tee -a $f" >&2; done
    exit 1
  fi
fi

# npm dependencies: install when node_modules is missing or older than the lock file.
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "faultline: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# better-sqlite3 is a native module: its install script fetches a prebuilt binary, or compiles one when
# it cannot (no network to GitHub, an unusual platform), which needs python3, make and g++. If neither
# worked, install the compilers and build it, rather than start a server without its database.
if ! node -e 'new (require("better-sqlite3"))(":memory:").close()' >/dev/null 2>&1; then
  tools=()
  for t in python3 make g++; do command -v "$t" >/dev/null 2>&1 || tools+=("$t"); done
  if ((${#tools[@]})); then
    if ((is_root)); then
      echo "faultline: installing build tools for better-sqlite3: ${tools[*]}" >&2
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tools[@]}" >/dev/null
    else
      echo "faultline: better-sqlite3 needs building. Run:" >&2
      echo "  sudo apt-get install -y ${tools[*]} && npm rebuild better-sqlite3" >&2
      exit 1
    fi
  fi
  echo "faultline: building better-sqlite3" >&2
  npm rebuild better-sqlite3 --loglevel=error
fi
