#!/usr/bin/env bash
# apt-deps.sh: the one apt step of `make test`. It installs, from Debian's apt,
# the real servers the integration tests drive on loopback:
#
#   postfix, postgrey           real MTA and greylisting policy server (issue 9)
#   exim4, opensmtpd            fetched with `apt-get download` and unpacked under
#                               .tools/pkgs, because Debian's MTAs conflict with
#                               each other and only one can be installed
#   dante-server, microsocks    real SOCKS5 proxies (issue 13)
#   prometheus                  a real Prometheus and promtool (issue 15)
#   chromium                    a headless browser for the console test (issue 16)
#
# No daemon is started by the packages: a temporary policy-rc.d refuses every
# start during the install, and the tests start private instances on loopback
# ports with throw-away configs.
#
# Idempotent and quick when everything is there. Where apt cannot be used (not
# root, no network), it says so loudly and exits 0: the tests that need these
# servers then skip with a message, except in CI (CI=true), where they fail.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pkgs_dir="$root/.tools/pkgs"

# Installed with apt-get install.
install_pkgs=(postfix postgrey dante-server microsocks prometheus chromium procps iproute2 util-linux)
# Fetched and unpacked only (they conflict with postfix as mail-transport-agent).
download_pkgs=(exim4-daemon-light exim4-base opensmtpd)
# Shared libraries those unpacked binaries need that postfix does not pull in.
# Named only when missing, because naming an installed library upgrades it.
download_libs=(libidn12 libevent-2.1-7)

loud() { printf '\n!!! apt-deps: %s\n\n' "$*" >&2; }

missing_pkgs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
	done
}

unpacked() {
	local p
	for p in "${download_pkgs[@]}"; do
		[[ -f "$pkgs_dir/.$p.done" ]] || return 1
	done
}

# The system users the unpacked packages' maintainer scripts would have
# created: exim4 runs as Debian-exim, OpenSMTPD as opensmtpd and opensmtpq.
ensure_users() {
	local u
	[[ $(id -u) -eq 0 ]] || return 0
	for u in Debian-exim opensmtpd opensmtpq; do
		getent passwd "$u" >/dev/null ||
			useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u" ||
			loud "useradd $u failed: tests that need it will skip"
	done
}
ensure_users
# OpenSMTPD's spool (replaced by a private one in each test server's mount
# namespace, so it must exist to mount on) and its chroot directory.
[[ $(id -u) -ne 0 ]] || install -d -m 711 /var/spool/smtpd /var/lib/opensmtpd/empty

need_install=($(missing_pkgs "${install_pkgs[@]}"))
need_libs=($(missing_pkgs "${download_libs[@]}"))
if [[ ${#need_install[@]} -eq 0 && ${#need_libs[@]} -eq 0 ]] && unpacked; then
	echo "apt-deps: everything installed"
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	loud "not root: cannot install ${need_install[*]} ${need_libs[*]} ${download_pkgs[*]}; the real-server tests will skip"
	exit 0
fi
if ! command -v apt-get >/dev/null; then
	loud "apt-get not found: the real-server tests will skip"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Keep package scripts from starting daemons (port 25, 1080, 9090) during the
# install; restore whatever policy was there before.
policy=/usr/sbin/policy-rc.d
saved=""
if [[ -e $policy ]]; then saved=$(mktemp); cp -p "$policy" "$saved"; fi
restore() {
	if [[ -n $saved ]]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi
}
trap restore EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 755 "$policy"

echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string mailprobe.test" | debconf-set-selections

if ! apt-get update -qq; then
	loud "apt-get update failed (no network?): the real-server tests will skip"
	exit 0
fi
if [[ ${#need_install[@]} -gt 0 || ${#need_libs[@]} -gt 0 ]]; then
	if ! apt-get install -y -qq --no-install-recommends "${need_install[@]}" "${need_libs[@]}" >/dev/null; then
		loud "apt-get install ${need_install[*]} ${need_libs[*]} failed: the real-server tests will skip"
		exit 0
	fi
fi

mkdir -p "$pkgs_dir/debs"
for p in "${download_pkgs[@]}"; do
	[[ -f "$pkgs_dir/.$p.done" ]] && continue
	(cd "$pkgs_dir/debs" && rm -f "${p}"_*.deb && apt-get download -qq -o APT::Sandbox::User=root "$p") ||
		{ loud "apt-get download $p failed: tests that need it will skip"; continue; }
	dpkg-deb -x "$pkgs_dir/debs/${p}"_*.deb "$pkgs_dir/root"
	touch "$pkgs_dir/.$p.done"
done

# policy-rc.d keeps the packages' init scripts from starting daemons. Stop
# only the system Postfix instance (its default config dir), never a private
# instance a test may be running, and nothing else by name.
postfix -c /etc/postfix stop >/dev/null 2>&1 || true
echo "apt-deps: installed ${need_install[*]} ${need_libs[*]}; unpacked ${download_pkgs[*]} under $pkgs_dir/root"
