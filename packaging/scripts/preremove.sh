#!/bin/sh
# Before removal (.deb: "remove"; .rpm: 0), not before an upgrade: stop
# and disable the timers so no unit is left pointing at a missing binary.
set -e
case "${1:-}" in
remove | 0)
	if command -v systemctl >/dev/null; then
		if [ -d /run/systemd/system ]; then
			systemctl stop libvirt-pki-expiry.timer libvirt-pki-renew.timer || :
		fi
		systemctl disable libvirt-pki-expiry.timer libvirt-pki-renew.timer || :
	fi
	;;
esac
