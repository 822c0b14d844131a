#!/usr/bin/env bash
# Idempotent set-up used by `npm start` and `npm test`: installs what is missing
# (Debian packages, npm dependencies), reserves hugepages when it can, and builds
# the addon and the TypeScript. A second run skips every step that is done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

# Debian packages: the data plane's build and the lab/test tools.
APT_PACKAGES=(
  libdpdk-dev pkg-config cmake make g++ python3 bird2
  iproute2 ethtool curl procps iputils-ping psmisc nginx-light bsdutils nftables openssl wrk
  # packet capture e2e, test/e2e/capture.test.ts: reads the pcap file `portcullis capture` writes
  tcpdump
  # cluster BGP speaker, see docs/cluster.md: gobgpd + gobgp, and GoBGP's .proto files the daemon loads
  gobgpd golang-github-osrg-gobgp-dev
  # QUIC lab, test/e2e/quic.test.ts: ngtcp2's example HTTP/3 client and server; gcc builds the
  # connection-id shim the servers run with, docs/schedulers.md "QUIC"
  ngtcp2-client ngtcp2-server gcc
  # session logs, test/e2e/session-log.test.ts: nfcapd collects our IPFIX, nfdump reads it back
  nfdump
  # npm run package and deploy/, test/api/package.test.ts and test/unit/deploy-rules.test.ts: dpkg-deb and
  # dpkg-shlibdeps build the .deb, systemd-analyze verifies the unit, logrotate rotates, promtool checks rules
  dpkg dpkg-dev systemd logrotate prometheus
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing packages: ${missing[*]} — run as root (or: sudo apt-get install ${missing[*]})"
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # prometheus is here for its promtool only: on a host running systemd its package starts a
  # Prometheus server on :9090, which nobody asked for; stop and disable it when we installed it.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    log "prometheus installed for promtool; its server (prometheus.service) stopped and disabled"
  fi
else
  log "packages present"
fi

# Hugepages: 1024 x 2 MiB when we can (room for two data planes of the demo's 512 MiB, as a
# takeover runs both for a moment, plus the connection region); the daemon falls back to --no-huge
# (and says so) otherwise.
WANT_HUGEPAGES=1024
if [ -w /proc/sys/vm/nr_hugepages ]; then
  have=$(cat /proc/sys/vm/nr_hugepages)
  if [ "$have" -lt "$WANT_HUGEPAGES" ]; then
    echo "$WANT_HUGEPAGES" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
    have=$(cat /proc/sys/vm/nr_hugepages)
  fi
  if ! grep -q hugetlbfs /proc/mounts; then
    mkdir -p /dev/hugepages
    mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
  fi
  if [ "$have" -ge "$WANT_HUGEPAGES" ] && grep -q hugetlbfs /proc/mounts; then
    log "hugepages: $have x 2 MiB reserved"
  else
    log "hugepages: only $have reserved; the data plane will run with --no-huge"
  fi
else
  log "hugepages: /proc/sys/vm/nr_hugepages not writable; the data plane will run with --no-huge"
fi

# npm dependencies: reinstall only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
else
  log "npm dependencies present"
fi

# Returns 0 when $1 is missing or any file under the later paths is newer.
stale() {
  local target=$1; shift
  [ -e "$target" ] || return 0
  [ -n "$(find "$@" -newer "$target" -type f -print -quit 2>/dev/null)" ]
}

ADDON=build/Release/portcullis_dataplane.node
if stale "$ADDON" dataplane CMakeLists.txt package.json; then
  log "building the data-plane addon"
  npx cmake-js compile --out build --log-level error >/dev/null
  touch "$ADDON"
else
  log "addon up to date"
fi

TS_STAMP=dist/.build-stamp
if stale "$TS_STAMP" src bench proto tsconfig.json package.json; then
  log "building TypeScript"
  npm run --silent build:ts
  mkdir -p dist && touch "$TS_STAMP"
else
  log "TypeScript up to date"
fi
log "ready"
