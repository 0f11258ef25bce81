#!/usr/bin/env bash
# Usage: static.sh [DIR]   (default: bin/.luajit-static)
#
# Makes DIR hold only a symlink to Debian's libluajit-5.1.a. Put DIR first on the link path
# (CGO_LDFLAGS="-L$DIR -lm -ldl") and the linker takes the static library, because it finds no
# libluajit-5.1.so there. Safe to run concurrently: the symlink is replaced atomically.
set -euo pipefail

dir=${1:-bin/.luajit-static}
name=libluajit-5.1.a

lib=
if libdir=$(pkg-config --variable=libdir luajit 2>/dev/null) && [[ -f $libdir/$name ]]; then
	lib=$libdir/$name
else
	# gcc prints the bare name when it does not find the file.
	p=$(gcc -print-file-name="$name" 2>/dev/null || true)
	if [[ $p == /* && -f $p ]]; then
		lib=$p
	fi
fi
if [[ -z $lib ]]; then
	echo "static.sh: $name not found; install libluajit-5.1-dev (make deps)" >&2
	exit 1
fi

mkdir -p "$dir"
if [[ $(readlink "$dir/$name" 2>/dev/null) != "$lib" ]]; then
	tmp="$dir/.$name.$$"
	ln -sfn "$lib" "$tmp"
	mv -fT "$tmp" "$dir/$name"
fi
