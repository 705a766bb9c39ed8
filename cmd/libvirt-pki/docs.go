package main

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// NewCmdGenDocs is a hidden command for packaging (packaging/build.sh): it
// writes man pages made from the real command tree, and bash, zsh and fish
// completions, so what is installed always matches the binary.
func NewCmdGenDocs() *cobra.Command {
	return &cobra.Command{
		Use:    "gendocs DIR",
		Short:  "Write man pages (DIR/man1) and shell completions (DIR/completions)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return genDocs(cmd.Root(), args[0])
		},
	}
}

// genDocs writes DIR/man1/*.1, one page per visible command, and
// DIR/completions/{libvirt-pki.bash,_libvirt-pki,libvirt-pki.fish}.
func genDocs(root *cobra.Command, dir string) error {
	man, comp := filepath.Join(dir, "man1"), filepath.Join(dir, "completions")
	for _, d := range []string{man, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The stamped build date keeps the pages reproducible; "Auto generated
	// by spf13/cobra on <today>" would not be.
	root.DisableAutoGenTag = true
	source := "libvirt-pki"
	if version != "" {
		source += " " + version
	}
	header := &doc.GenManHeader{Section: "1", Source: source, Manual: "libvirt-pki manual"}
	if t, err := time.Parse(time.RFC3339, date); err == nil {
		header.Date = &t
	}
	escapeForMarkdown(root)
	if err := doc.GenManTree(root, header, man); err != nil {
		return err
	}
	if err := root.GenBashCompletionFileV2(filepath.Join(comp, "libvirt-pki.bash"), true); err != nil {
		return err
	}
	if err := root.GenZshCompletionFile(filepath.Join(comp, "_libvirt-pki")); err != nil {
		return err
	}
	return root.GenFishCompletionFile(filepath.Join(comp, "libvirt-pki.fish"), true)
}

// escapeForMarkdown escapes < and > in descriptions and flag usages:
// cobra/doc renders them through Markdown, where "<config-dir>" would be
// dropped as an HTML tag. gendocs runs once and exits, so editing the live
// tree is harmless. Examples are left alone: they become literal blocks.
func escapeForMarkdown(c *cobra.Command) {
	c.Short, c.Long = escapeMarkdown(c.Short), escapeMarkdown(c.Long)
	for _, fs := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
		fs.VisitAll(func(f *pflag.Flag) { f.Usage = escapeMarkdown(f.Usage) })
	}
	for _, sub := range c.Commands() {
		escapeForMarkdown(sub)
	}
}

// escapeMarkdown backslash-escapes < and > except in indented lines,
// which Markdown prints literally (code blocks).
func escapeMarkdown(s string) string {
	esc := strings.NewReplacer("<", `\<`, ">", `\>`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "\t") && !strings.HasPrefix(l, "    ") {
			lines[i] = esc.Replace(l)
		}
	}
	return strings.Join(lines, "\n")
}
