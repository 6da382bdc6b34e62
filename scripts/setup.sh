#!/usr/bin/env bash
# Installs what berth needs on Debian 12 (as root) and builds it. Idempotent and quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "berth setup: run as root (it installs Debian packages and runs containers)" >&2
  exit 1
fi

# command:package pairs; busybox must be Debian's static build, which goes into images.
# docker-registry (CNCF distribution), htpasswd and openssl are for the registry tests, which run their own registry.
# docker-compose (the Python v1 client, 1.29) is for test/compose.test.ts.
# libcap2-bin (setcap, getcap) is for the extended-attribute tests, which give files a capability and read it back.
# skopeo is the independent reader and writer of image archives and layouts that the save/load tests check against.
# openssh-server (sshd) is for test/cli-ssh.test.ts, which runs a private sshd on a loopback port; Debian's package
# would also start the system's sshd where services may start.
need=()
for pair in runc:runc conmon:conmon setfattr:attr setcap:libcap2-bin debootstrap:debootstrap python3:python3 stty:coreutils mount:mount \
            docker-registry:docker-registry htpasswd:apache2-utils openssl:openssl skopeo:skopeo \
            docker-compose:docker-compose sshd:openssh-server ssh:openssh-client; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
# `run --init`: tini's static build is bound into the container as /sbin/docker-init, as docker does.
dpkg -s tini >/dev/null 2>&1 || need+=(tini)
# The vm runtime: QEMU (microvm), Debian's cloud kernel and its modules, mkfs.ext4 for the guest's root disk.
for pair in qemu-system-x86_64:qemu-system-x86 mkfs.ext4:e2fsprogs; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
# The dashboard's tests drive the page in Debian's Chromium (/usr/bin/chromium) through playwright-core.
for pair in chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
dpkg -s linux-image-cloud-amd64 >/dev/null 2>&1 || need+=(linux-image-cloud-amd64)
if ((${#need[@]})); then
  echo "berth setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# better-sqlite3 builds from source here (no prebuilt download): that takes a minute and a half, once.
# `npm install`, not `npm ci`: node-unix-socket names optional per-platform packages that were never
# published, which `npm ci` treats as a lock file out of sync. The lock file still pins every version.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || ! node -e "require('better-sqlite3')" 2>/dev/null; then
  echo "berth setup: installing npm packages" >&2
  npm install --no-audit --no-fund --loglevel=error
  touch node_modules/.package-lock.json
fi

node scripts/build.mjs
