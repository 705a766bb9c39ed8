package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/libvirt-pki/libvirt-pki/errs"
)

// textFormats are the output formats of most commands: text for people,
// json for programs. Commands with other formats (verify's table, json,
// junit) pass their own list to outputFlag and checkOutput.
var textFormats = []string{"text", "json"}

// outputFlag registers -o/--output with its choices, the first the default.
func outputFlag(cmd *cobra.Command, p *string, formats []string) {
	cmd.Flags().StringVarP(p, "output", "o", formats[0], "output format: "+orList(formats))
}

// checkOutput refuses an --output value that is not one of formats.
func checkOutput(got string, formats []string) error {
	if !slices.Contains(formats, got) {
		return errs.Inputf("--output %q: want %s", got, orList(formats))
	}
	return nil
}

// orList writes "a or b", "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// writeJSONTo writes v as indented JSON, the form every command's -o json
// uses.
func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// notesTo is where notes (warnings, settings) go: with JSON on out they
// go to errOut, so out stays one JSON document.
func notesTo(ios *IOStreams, output string) io.Writer {
	if output == "json" {
		return ios.ErrOut
	}
	return ios.Out
}

// printLines writes each line.
func printLines(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// writeCheck writes a check command's report (verify, lint) in the format
// asked for, then makes the command exit 1 when the check failed.
func writeCheck(format string, json, junit, table func() error, failed bool) error {
	write := map[string]func() error{"json": json, "junit": junit}[format]
	if write == nil {
		write = table
	}
	if err := write(); err != nil {
		return err
	}
	if failed {
		return exitError{exitFailure}
	}
	return nil
}
