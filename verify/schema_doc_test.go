package verify

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEveryCodeIsDocumented keeps docs/verify-json.md in step with the
// codes: CI users key on them, so each must be documented.
func TestEveryCodeIsDocumented(t *testing.T) {
	src, err := os.ReadFile("finding.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/verify-json.md")
	if err != nil {
		t.Fatal(err)
	}
	codes := regexp.MustCompile(`Code = "([a-z-]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(codes) < 20 {
		t.Fatalf("found only %d codes in finding.go", len(codes))
	}
	for _, c := range codes {
		if !strings.Contains(string(doc), "`"+c[1]+"`") {
			t.Errorf("code %q is not documented in docs/verify-json.md", c[1])
		}
	}
	if !strings.Contains(string(doc), JSONSchema) {
		t.Errorf("docs/verify-json.md does not name the schema %s", JSONSchema)
	}
}
