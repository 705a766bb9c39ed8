package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/libvirt-pki/libvirt-pki/internal/vault"
)

const mappingKind = yaml.MappingNode

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// The values of one YAML file are bounded, counting every alias as the
// values it stands for. yaml.v3 keeps an alias as a pointer to its
// anchor, so parsing is linear in the file, but every walker here expands
// aliases: a few lines of nested aliases (a "billion laughs") would
// expand to billions of values. The bound grows with the file, so a
// fleet's inventory fits whatever its size (a 100,000-host inventory with
// its variables holds a few million values, at 10 bytes or more each),
// from a floor that small files never reach to a cap that keeps what
// yaml.v3 builds (some 200 bytes a value) within a few GiB:
//
//   - values written: size/4 (at least maxYAMLNodes, at most
//     maxYAMLNodesCap), checked on an upper estimate before parsing
//     (yamlValueEstimate), so a file dense with values (a flow list
//     "[x,x,...]", 2 bytes a value) is refused before yaml.v3 builds it;
//   - values with aliases expanded: size (same floor, twice the cap).
var (
	maxYAMLNodes    = 1 << 20 // the floor; a variable so tests can lower it
	maxYAMLNodesCap = 8 << 20
)

// yamlLimits returns the bounds above for a file of size bytes.
func yamlLimits(size int) (values, expanded int) {
	values = min(max(maxYAMLNodes, size/4), maxYAMLNodesCap)
	expanded = min(max(maxYAMLNodes, size), 2*maxYAMLNodesCap)
	return values, expanded
}

// yamlValueEstimate is an upper bound of the values (nodes) yaml.v3 makes
// of data, found without parsing: every node but the first is introduced
// by an indicator, a block entry "- ", a flow '[', '{' or ',', a key's
// ':' (which brings a key and a value), or a complex key's '?'; the same
// characters inside quoted or block scalars and comments only raise the
// estimate.
func yamlValueEstimate(data []byte) int {
	n := 1
	for i, c := range data {
		next := byte(' ')
		if i+1 < len(data) {
			next = data[i+1]
		}
		blank := next == ' ' || next == '\t' || next == '\n' || next == '\r'
		switch {
		case c == ',' || c == '[' || c == '{' || c == '?':
			n++
		case c == '-' && blank:
			n++
		case c == ':' && (blank || i > 0 && (data[i-1] == '"' || data[i-1] == '\'')):
			n += 2
		}
	}
	return n
}

// parseYAMLDoc parses data, which must hold at most one YAML document (as
// Ansible's loader, PyYAML's single-document load, demands), and refuses
// aliases that refer to themselves and files beyond maxYAMLNodes. It
// returns nil for an empty document. Errors are "file:line: message".
func parseYAMLDoc(path string, data []byte) (*yaml.Node, error) {
	values, expanded := yamlLimits(len(data))
	if yamlValueEstimate(data) > values {
		return nil, tooManyValues(path, values)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(path, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, fmt.Errorf("%s:%d: a second YAML document starts here; Ansible reads files of one document only (remove this --- or split the file)", path, next.Line)
	case !errors.Is(err, io.EOF):
		return nil, yamlError(path, err)
	}
	if err := checkAliases(path, &doc, values, expanded); err != nil {
		return nil, err
	}
	n := &doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, nil
		}
		n = n.Content[0]
	}
	n = resolveAlias(n)
	if isNull(n) {
		return nil, nil
	}
	return n, nil
}

// yamlError turns a yaml.v3 error into "file:line: message".
func yamlError(path string, err error) error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s:%s: %s", path, m[1], m[2])
	}
	return fmt.Errorf("%s: %s", path, strings.TrimPrefix(msg, "yaml: "))
}

// checkAliases refuses a document of more than values values, or of more
// than expanded with its aliases expanded, and one whose aliases form a
// loop.
func checkAliases(path string, doc *yaml.Node, values, expanded int) error {
	if countNodes(doc, values) > values {
		return tooManyValues(path, values)
	}
	a := aliasSizer{limit: expanded, size: map[*yaml.Node]int{}, active: map[*yaml.Node]bool{}}
	if _, err := a.expanded(doc); err != nil {
		return prefixLine(path, err)
	}
	return nil
}

func tooManyValues(path string, limit int) error {
	return fmt.Errorf("%s: more than %d YAML values; libvirt-pki refuses a file this dense (at most one value per 4 bytes)", path, limit)
}

// countNodes counts a tree's nodes without following aliases, stopping
// once it passes most.
func countNodes(n *yaml.Node, most int) int {
	total := 1
	for _, c := range n.Content {
		if total > most {
			break
		}
		total += countNodes(c, most-total)
	}
	return total
}

// aliasSizer computes the size of a tree with its aliases expanded,
// stopping as soon as it passes limit. Only anchored nodes can be reached
// twice, so only they are remembered.
type aliasSizer struct {
	limit  int
	size   map[*yaml.Node]int  // expanded size of anchored nodes done
	active map[*yaml.Node]bool // anchored nodes being sized: an alias to one is a loop
}

func (a *aliasSizer) expanded(n *yaml.Node) (int, error) {
	if s, ok := a.size[n]; ok {
		return s, nil
	}
	if n.Anchor != "" {
		a.active[n] = true
		defer delete(a.active, n)
	}
	total := 1
	children := n.Content
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if a.active[n.Alias] {
			return 0, fmt.Errorf("line %d: alias *%s is inside its own anchor, so its value would be endless", n.Line, n.Value)
		}
		children = []*yaml.Node{n.Alias}
	}
	for _, c := range children {
		s, err := a.expanded(c)
		if err != nil {
			return 0, err
		}
		if total += s; total > a.limit {
			return 0, fmt.Errorf("line %d: YAML aliases expand the file to more than %d values (an alias bomb?); libvirt-pki refuses it", n.Line, a.limit)
		}
	}
	if n.Anchor != "" {
		a.size[n] = total
	}
	return total, nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the scalar %q", n.Value)
	}
	return "something else"
}

// yaml11Bools are the plain scalars PyYAML (YAML 1.1, what Ansible uses)
// reads as booleans; yaml.v3 reads yes/no/on/off as strings.
var yaml11Bools = map[string]bool{
	"yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"true": true, "True": true, "TRUE": true,
	"no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
	"false": false, "False": false, "FALSE": false,
}

// nodeValue converts a YAML node into plain Go values the way Ansible's
// loader would: string, bool, int, float64, nil, []any, map[string]any.
func nodeValue(n *yaml.Node, depth int) (any, error) {
	if depth > 100 {
		return nil, fmt.Errorf("line %d: nested too deep", n.Line)
	}
	n = resolveAlias(n)
	if n == nil {
		return nil, nil
	}
	if vault.IsVaultNode(n) {
		return Vaulted{node: n}, nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			return n.Value, nil
		}
		if n.Style&yaml.TaggedStyle != 0 && (n.Tag == "!!str" || !strings.HasPrefix(n.Tag, "!!")) {
			// !!str, Ansible's own tags (!unsafe, !vault) and unknown ones:
			// keep the text.
			return n.Value, nil
		}
		if b, ok := yaml11Bools[n.Value]; ok && n.Style&yaml.TaggedStyle == 0 {
			return b, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return n.Value, nil
		}
		switch x := v.(type) {
		case nil, bool, int, float64, string:
			return x, nil
		case int64:
			return int(x), nil
		case uint64:
			return float64(x), nil
		default:
			return n.Value, nil // timestamps and such stay text
		}
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := map[string]any{}
		err := eachPair(n, depth, func(k string, kn, vn *yaml.Node) error {
			v, err := nodeValue(vn, depth+1)
			if err != nil {
				return err
			}
			out[k] = v
			return nil
		})
		return out, err
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// eachPair walks a mapping's key/value pairs in order, expanding YAML merge
// keys ("<<: *anchor") first so explicit keys override them.
func eachPair(n *yaml.Node, depth int, fn func(k string, kn, vn *yaml.Node) error) error {
	if depth > 100 {
		return fmt.Errorf("line %d: nested too deep", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.Value == "<<" && (kn.Tag == "!!merge" || kn.Tag == "") {
			srcs := []*yaml.Node{resolveAlias(vn)}
			if srcs[0].Kind == yaml.SequenceNode {
				srcs = srcs[0].Content
			}
			for _, s := range srcs {
				s = resolveAlias(s)
				if s.Kind != yaml.MappingNode {
					return fmt.Errorf("line %d: merge key needs a mapping, got %s", s.Line, kindName(s))
				}
				if err := eachPair(s, depth+1, fn); err != nil {
					return err
				}
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.Value == "<<" && (kn.Tag == "!!merge" || kn.Tag == "") {
			continue
		}
		k, err := keyString(kn)
		if err != nil {
			return err
		}
		if err := fn(k, kn, vn); err != nil {
			return err
		}
	}
	return nil
}

func keyString(kn *yaml.Node) (string, error) {
	kn = resolveAlias(kn)
	if kn.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("line %d: a key must be a scalar, got %s", kn.Line, kindName(kn))
	}
	return kn.Value, nil
}

// varsFromMapping reads a mapping of variables, each remembered with
// "file:line" of its key.
func varsFromMapping(path string, n *yaml.Node, what string) (map[string]val, error) {
	vars, err := mappingVars(path, n, what)
	if err != nil {
		return nil, err
	}
	out := make(map[string]val, len(vars))
	for k, v := range vars {
		out[k] = val{v.Value, fmt.Sprintf("%s:%d", path, v.Line)}
	}
	return out, nil
}

// mappingVars reads a mapping of variables, each with the line of its key.
func mappingVars(path string, n *yaml.Node, what string) (map[string]Var, error) {
	out := map[string]Var{}
	if isNull(n) {
		return out, nil
	}
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: %s must be a mapping of variables, got %s", path, n.Line, what, kindName(n))
	}
	err := eachPair(n, 0, func(k string, kn, vn *yaml.Node) error {
		v, err := nodeValue(vn, 1)
		if err != nil {
			return err
		}
		out[k] = Var{v, kn.Line}
		return nil
	})
	if err != nil {
		return nil, prefixLine(path, err)
	}
	return out, nil
}

var lineErrRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// prefixLine turns "line N: msg" from the YAML walkers into "path:N: msg".
func prefixLine(path string, err error) error {
	if m := lineErrRE.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: %s", path, m[1], m[2])
	}
	if strings.HasPrefix(err.Error(), path) {
		return err
	}
	return fmt.Errorf("%s: %v", path, err)
}
