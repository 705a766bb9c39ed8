// Package codecheck holds tests that keep the structure docs/architecture.md
// describes: no function outside tests longer than 80 lines, and no branch
// on a layout's name outside the layout tables.
package codecheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

const maxFuncLines = 80

// moduleFiles parses every non-test Go file of the module.
func moduleFiles(t *testing.T) (*token.FileSet, map[string]*ast.File) {
	t.Helper()
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "dist") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files[filepath.ToSlash(rel)] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d Go files: is the module root two levels up?", len(files))
	}
	return fset, files
}

func TestFunctionsAreShort(t *testing.T) {
	fset, files := moduleFiles(t)
	for name, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			start, end := fset.Position(fd.Pos()).Line, fset.Position(fd.End()).Line
			if n := end - start + 1; n > maxFuncLines {
				t.Errorf("%s:%d: %s is %d lines; split it (at most %d)", name, start, fd.Name.Name, n, maxFuncLines)
			}
		}
	}
}

func TestNoBranchOnLayoutName(t *testing.T) {
	fset, files := moduleFiles(t)
	for name, f := range files {
		if strings.HasPrefix(name, "layout/") && !strings.Contains(strings.TrimPrefix(name, "layout/"), "/") {
			continue // the tables themselves
		}
		ast.Inspect(f, func(n ast.Node) bool {
			be, ok := n.(*ast.BinaryExpr)
			if !ok || (be.Op != token.EQL && be.Op != token.NEQ) {
				return true
			}
			if namesLayout(be.X) || namesLayout(be.Y) {
				t.Errorf("%s: compares a layout's name; ask the layout table instead (docs/architecture.md)", fset.Position(be.Pos()))
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			sw, ok := n.(*ast.SwitchStmt)
			if ok && sw.Tag != nil && namesLayout(sw.Tag) {
				t.Errorf("%s: switches on a layout's name; ask the layout table instead", fset.Position(sw.Pos()))
			}
			return true
		})
	}
}

// namesLayout matches X.Layout.Name, layout.Kolla.Name and the like: a
// selector .Name on something called Layout or on a layout table.
func namesLayout(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Name" {
		return false
	}
	switch x := sel.X.(type) {
	case *ast.SelectorExpr:
		switch x.Sel.Name {
		case "Layout", "Kolla", "Libvirt", "PKIPath":
			return true
		}
	case *ast.Ident:
		return x.Name == "l" || x.Name == "lay" || x.Name == "layout"
	}
	return false
}

func TestNamesLayoutCatchesTheUsualForms(t *testing.T) {
	for src, want := range map[string]bool{
		`o.Layout.Name == layout.Kolla.Name`: true,
		`l.Name != "kolla"`:                  true,
		`c.o.Layout.Name`:                    true,
		`h.Name == "ca"`:                     false,
		`o.Layout.SharedLookup`:              false,
	} {
		e, err := parser.ParseExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		got := false
		ast.Inspect(e, func(n ast.Node) bool {
			if x, ok := n.(ast.Expr); ok && namesLayout(x) {
				got = true
			}
			return true
		})
		if got != want {
			t.Errorf("%s: namesLayout %v, want %v", src, got, want)
		}
	}
}
