#!/bin/bash
# deb_test.sh — `cpack -G DEB` in the build tree makes fedbus_VERSION_ARCH.deb
# holding the programs, libfedbus, its headers and pkg-config file, the
# systemd units and the examples, with Depends, a maintainer and a postinst
# that makes the fedbus user.
#
# usage: deb_test.sh BUILD_DIR LIBDIR SOVERSION
# Exit status 0 when every check holds; 1 and "deb_test: what" otherwise.
set -euo pipefail

BUILD=${1:?usage: deb_test.sh BUILD_DIR LIBDIR SOVERSION}
LIBDIR=${2:?}
SOVERSION=${3:?}
work=$BUILD/tests/install/deb-test

fail() { echo "deb_test: $*"; exit 1; }

rm -rf "$work"
mkdir -p "$work"
start=$(date +%s)
(cd "$BUILD" && cpack -G DEB -B "$work" >"$work/cpack.log" 2>&1) ||
  { tail -n 40 "$work/cpack.log"; fail "cpack -G DEB failed"; }
deb=$(ls "$work"/fedbus_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { tail -n 20 "$work/cpack.log"; fail "no fedbus_*.deb made"; }
echo "deb_test: $(basename "$deb"), $(du -k "$deb" | cut -f1) KiB, in $(( $(date +%s) - start )) s"

dpkg-deb -c "$deb" | awk '{print $6}' | sed 's#^\./#/#' >"$work/contents"
for f in /usr/bin/fedbus-broker /usr/bin/fedbus-node /usr/bin/fedbus \
         "/usr/$LIBDIR/libfedbus.so.$SOVERSION" "/usr/$LIBDIR/libfedbus.so" \
         "/usr/$LIBDIR/pkgconfig/fedbus.pc" /usr/include/fedbus/fedbus.h /usr/include/fedbus/fb_client.h \
         /usr/lib/systemd/system/fedbus-broker.service /usr/lib/systemd/system/fedbus-node@.service \
         /usr/share/doc/fedbus/examples/broker.ini /usr/share/doc/fedbus/examples/node-kr-incheon.ini; do
  grep -qx "$f" "$work/contents" || fail "$f not in the package"
done
bad=$(grep -v '^/usr' "$work/contents" | grep -vx '/' || true)
[ -z "$bad" ] || fail "files outside /usr: $bad"

mkdir -p "$work/x"
dpkg-deb -x "$deb" "$work/x"
grep -q '^prefix=/usr$' "$work/x/usr/$LIBDIR/pkgconfig/fedbus.pc" || fail "fedbus.pc: prefix is not /usr"
grep -q '^ExecStart=/usr/bin/fedbus-broker ' "$work/x/usr/lib/systemd/system/fedbus-broker.service" ||
  fail "fedbus-broker.service: ExecStart is not /usr/bin/fedbus-broker"
soname=$(readelf -d "$work/x/usr/$LIBDIR/libfedbus.so.$SOVERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libfedbus.so.$SOVERSION" ] || fail "packaged SONAME is '$soname'"

[ "$(dpkg-deb -f "$deb" Package)" = fedbus ] || fail "Package is not fedbus"
maint=$(dpkg-deb -f "$deb" Maintainer)
[ -n "$maint" ] || fail "no Maintainer"
depends=$(dpkg-deb -f "$deb" Depends)
echo "deb_test: Depends: $depends"
for p in libc6 libzmq5 libprotobuf-c1 libpq5 libssl3 libjansson4 libmicrohttpd12 libinih1 libical3 adduser; do
  echo ", $depends," | grep -E "[ ,]$p( \(|,)" >/dev/null || fail "Depends lacks $p"
done
dpkg-deb -f "$deb" Description | grep 'federated event bus' >/dev/null || fail "no Description"
dpkg-deb -I "$deb" postinst | grep 'adduser --system' >/dev/null || fail "no postinst making the fedbus user"
dpkg-deb -I "$deb" postinst | grep 'ldconfig' >/dev/null || fail "the postinst does not run ldconfig"
dpkg-deb -I "$deb" shlibs | grep "^libfedbus $SOVERSION fedbus" >/dev/null || fail "no shlibs entry for libfedbus $SOVERSION"
echo "deb_test: the package holds what an install does, with its Depends"
