package sasl

import "path/filepath"

// Where the libvirt layout puts a host's SASL files (layout.Libvirt.SASL),
// for the tests that look at them.
var (
	tDB   = filepath.FromSlash("etc/libvirt/passwd.db")
	tConf = filepath.FromSlash("etc/sasl2/libvirt.conf")
	tAuth = filepath.FromSlash("var/lib/nova/.config/libvirt/auth.conf")
)
