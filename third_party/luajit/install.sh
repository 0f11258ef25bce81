#!/usr/bin/env bash
# Installs what Dr.LEE needs to build and test on Debian 12: LuaJIT (see PIN) and the tools the
# tests run (curl, nats-server, luajit, lua5.1). Idempotent: when everything is installed it
# does not touch apt. Works as root, or through sudo otherwise. Then prepares the static link
# directory for bin/drlee (static.sh).
#
# Env: LJ_STATIC_DIR  where to put the static link dir (default: <repo>/bin/.luajit-static)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

packages=(
	libluajit-5.1-dev luajit pkg-config
	curl nats-server lua5.1 git ca-certificates gcc libc6-dev make
	redis-server
	postgresql
)

missing=()
for p in "${packages[@]}"; do
	if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) != "install ok installed" ]]; then
		missing+=("$p")
	fi
done

if ((${#missing[@]})); then
	echo "install.sh: installing: ${missing[*]}"
	sudo=()
	if ((EUID != 0)); then
		if ! command -v sudo >/dev/null; then
			echo "install.sh: not root and no sudo; install as root: ${missing[*]}" >&2
			exit 1
		fi
		sudo=(sudo)
		[[ -t 0 ]] || sudo=(sudo -n) # no terminal (CI): fail rather than wait for a password
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${packages[@]}"
else
	echo "install.sh: all packages already installed"
fi

pinned=$(sed -n 's/^version: *//p' "$here/PIN")
have=$(dpkg-query -W -f='${Version}' libluajit-5.1-dev)
if [[ $have != "$pinned" ]]; then
	echo "install.sh: WARNING: libluajit-5.1-dev is $have, third_party/luajit/PIN says $pinned" >&2
	echo "install.sh: WARNING: build and test go on; refresh PIN if this version is intended" >&2
fi

bash "$here/static.sh" "${LJ_STATIC_DIR:-$repo/bin/.luajit-static}"
echo "install.sh: libluajit-5.1-dev $have; static link dir ${LJ_STATIC_DIR:-$repo/bin/.luajit-static}"
