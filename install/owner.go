package install

import "strconv"

// ids are the numeric owner and group of f on this host: root (0) for a
// name the host does not know, as GNU tar does (Check notes it).
func ids(f File) (uid, gid int) {
	if u, err := lookupUser(f.Owner); err == nil {
		uid, _ = strconv.Atoi(u.Uid)
	}
	if g, err := lookupGroup(f.Group); err == nil {
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid
}
