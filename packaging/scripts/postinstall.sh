#!/bin/sh
# After install or upgrade (.deb: "configure" [OLD-VERSION]; .rpm: 1 or 2):
# enable the hourly expiry timer on first install only, so an admin who
# disabled it keeps it disabled; the renew timer stays disabled until enabled.
set -e
first=no
case "${1:-}" in
configure) [ -z "${2:-}" ] && first=yes ;;
1) first=yes ;;
esac
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || :
fi
if [ "$first" = yes ] && command -v systemctl >/dev/null; then
	systemctl enable libvirt-pki-expiry.timer || :
	if [ -d /run/systemd/system ]; then
		systemctl start libvirt-pki-expiry.timer || :
	fi
fi
