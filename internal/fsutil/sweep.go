package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SweepTemp removes the temporary files earlier, killed runs left under
// root: regular files named as WriteFileAtomic and Batch name them
// (".NAME.tmp-DIGITS") and the staged or swapped-out directory copies of
// Batch.WriteFileIn (".NAME.swap-DIGITS", removed whole), in root and in directories up to maxDepth levels
// below it (0: root only; negative: no limit). It never follows a symlink
// and never removes anything else. It returns what it removed.
//
// Call it holding the tree's lock (a running writer's staged files look
// the same) and after Recover: while a journal is pending, its temporary
// files are the only copy of the new unit, so SweepTemp refuses to remove
// anything if it finds a journal anywhere it looks.
func SweepTemp(root string, maxDepth int) (removed []string, err error) {
	var temps, journals []string
	if err := collectTemps(root, maxDepth, &temps, &journals); err != nil {
		return nil, err
	}
	if len(journals) > 0 {
		return nil, fmt.Errorf("%s: an interrupted write is pending; recover it before removing temporary files", journals[0])
	}
	for _, p := range temps {
		if err := os.RemoveAll(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		removed = append(removed, p)
	}
	return removed, nil
}

// collectTemps lists the temporary files and journals in dir and, depth
// permitting, its subdirectories (not symlinks to directories).
func collectTemps(dir string, depth int, temps, journals *[]string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // root not created yet, or a directory removed meanwhile
		}
		return err
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		switch {
		case e.Type().IsRegular() && e.Name() == JournalFileName:
			*journals = append(*journals, path)
		case e.Type().IsRegular():
			if _, ok := isTempName(e.Name()); ok {
				*temps = append(*temps, path)
			}
		case e.IsDir() && isStage(e.Name()):
			*temps = append(*temps, path)
		case e.IsDir() && depth != 0:
			if err := collectTemps(path, depth-1, temps, journals); err != nil {
				return err
			}
		}
	}
	return nil
}

func isStage(name string) bool {
	_, ok := isStageName(name)
	return ok
}
