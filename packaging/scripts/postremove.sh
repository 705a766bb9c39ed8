#!/bin/sh
# After removal: forget the removed units.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || :
fi
