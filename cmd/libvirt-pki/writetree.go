package main

import "github.com/libvirt-pki/libvirt-pki/layout"

// tree resolves the layout's root, CA directory and top (the tree a
// writing run locks) and, for a run that writes, takes the locks before
// anything is read. unlock is never nil.
func (f *layoutFlags) tree(ios *IOStreams, l layout.Layout, writes bool) (root, caDir, top string, unlock func(), err error) {
	unlock = func() {}
	if root, caDir, _, err = f.roots(l); err != nil {
		return
	}
	if top, err = f.top(l); err != nil || !writes {
		return
	}
	guard, err := f.lockTrees(ios, l, root, caDir)
	if err != nil {
		return
	}
	return root, caDir, top, func() { guard.Unlock() }, nil
}
