#!/usr/bin/env bash
# deps.sh installs what `make bench` compares against (Debian 12, run as root).
#
#   nginx wrk libpcre3 lua5.1   installed with apt (they install cleanly beside
#   lua-cjson                   libluajit-5.1-dev, which Dr.LEE builds on;
#                               lua-cjson is the JSON library nginx+Lua uses)
#   valgrind                    callgrind, for bench/instructions.sh
#   redis-server postgresql     installed with apt if missing, for the redis-get
#                               and pg-select scenarios: the harness starts its own
#                               servers (temp dirs, 127.0.0.1), never the system's,
#                               so the services the packages start are stopped again
#   nginx's Lua module          downloaded and unpacked, NOT installed, into
#                               bench/.cache/nginx-lua/: libnginx-mod-http-lua
#                               depends on OpenResty's LuaJIT (libluajit2-5.1-2),
#                               which conflicts with libluajit-5.1-dev as a package;
#                               installing it would remove our LuaJIT. The harness
#                               points nginx at the unpacked files instead
#                               (load_module + LD_LIBRARY_PATH + lua_package_path).
#
# Safe to run again: it re-unpacks into a fresh folder.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/.cache/nginx-lua"
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

had_nginx=0
if command -v nginx >/dev/null 2>&1; then had_nginx=1; fi
data=()
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then data+=(redis-server); fi
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then data+=(postgresql); fi

$sudo apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	nginx wrk libpcre3 lua5.1 lua-cjson valgrind "${data[@]}"
if [ "$had_nginx" = 0 ] && [ -f /run/nginx.pid ]; then
	# The package's postinst started the system nginx (port 80); the bench does not
	# need it, so stop the one we just caused.
	$sudo nginx -s quit 2>/dev/null || true
fi
# The same for the services the data servers' packages may have started (ports 6379
# and 5432): benchrun starts servers of its own.
for p in "${data[@]}"; do
	$sudo service "$p" stop >/dev/null 2>&1 || true
done

# The Lua module, its NDK dependency, OpenResty's LuaJIT, and the two pure-Lua
# libraries the module requires at startup (resty.core, resty.lrucache).
pkgs=(libnginx-mod-http-lua libnginx-mod-http-ndk libluajit2-5.1-2 lua-resty-core lua-resty-lrucache)
for p in "${pkgs[@]}"; do
	if ! apt-cache show "$p" >/dev/null 2>&1; then
		echo "deps.sh: package $p not found by apt-cache; nginx+lua will be skipped" >&2
		exit 0
	fi
done

tmp="$(mktemp -d)"
trap '$sudo rm -rf "$tmp"' EXIT
# apt-get download fetches as user _apt, which must be able to write here.
if id _apt >/dev/null 2>&1; then $sudo chown _apt "$tmp"; fi
(cd "$tmp" && $sudo apt-get download "${pkgs[@]}")
rm -rf "$dest"
mkdir -p "$dest"
for deb in "$tmp"/*.deb; do
	dpkg -x "$deb" "$dest"
done
echo "deps.sh: unpacked ${pkgs[*]} into $dest"
ls "$dest"/usr/lib/nginx/modules/
