package core_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// bannedImports are the packages core must not import directly (see
// ARCHITECTURE.md): anything that reaches the OS, the wall clock, global
// randomness or concurrency, and the environment layers above core.
var bannedImports = map[string]string{
	"net":          "network access belongs to io/",
	"os":           "files belong to io/ (core uses core/disk)",
	"os/exec":      "processes belong to io/ and cmd/",
	"syscall":      "system calls belong to io/",
	"time":         "only the time.Duration type is allowed: time comes in as nowMs",
	"math/rand":    "randomness is injected (broker.Random)",
	"math/rand/v2": "randomness is injected (broker.Random)",
	"crypto/rand":  "randomness is injected (broker.Random)",
	"sync":         "core is single-threaded",
	"sync/atomic":  "core is single-threaded",
	"io/ioutil":    "files belong to io/",
	"unsafe":       "core stays memory-safe",
	"log":          "core logs through the injected Logger",
}

// bannedPrefixes are module packages core must not import.
var bannedPrefixes = []string{
	"github.com/chronik-streaming/chronik/io/",
	"github.com/chronik-streaming/chronik/sim",
	"github.com/chronik-streaming/chronik/node",
	"github.com/chronik-streaming/chronik/cmd",
}

// TestForbiddenImports parses every non-test Go file under core/ and fails
// on a banned import, a goroutine, a select statement, or a use of package
// time other than the Duration type.
func TestForbiddenImports(t *testing.T) {
	violations, checked, err := findViolations(".")
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no core source files found: the check would pass vacuously")
	}
	for _, v := range violations {
		t.Error(v)
	}
}

// TestForbiddenImportsCatches proves the checker flags each kind of
// violation, so a silent checker cannot pass TestForbiddenImports.
func TestForbiddenImportsCatches(t *testing.T) {
	dir := t.TempDir()
	src := `package bad

import (
	"os"
	"time"
	"github.com/chronik-streaming/chronik/io/wire"
)

var _ = os.Args
var _ wire.Message
var d time.Duration

func f() {
	go func() {}()
	select {}
	_ = time.Now()
}
`
	if err := os.WriteFile(filepath.Join(dir, "bad.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	violations, checked, err := findViolations(dir)
	if err != nil {
		t.Fatal(err)
	}
	if checked != 1 {
		t.Fatalf("checked %d files, want 1", checked)
	}
	want := []string{`imports "os"`, `imports "github.com/chronik-streaming/chronik/io/wire"`, "goroutine", "select", "time.Now"}
	if len(violations) != len(want) {
		t.Fatalf("got %d violations, want %d: %q", len(violations), len(want), violations)
	}
	for i, w := range want {
		if !strings.Contains(violations[i], w) {
			t.Errorf("violation %d = %q, want it to mention %q", i, violations[i], w)
		}
	}
}

// findViolations checks every non-test Go file below root.
func findViolations(root string) (violations []string, checked int, err error) {
	fset := token.NewFileSet()
	report := func(format string, args ...any) { violations = append(violations, fmt.Sprintf(format, args...)) }
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		checked++
		timeName := ""
		for _, imp := range file.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if why, bad := bannedImports[p]; bad && p != "time" {
				report("%s imports %q: %s", path, p, why)
			}
			for _, prefix := range bannedPrefixes {
				if strings.HasPrefix(p, prefix) {
					report("%s imports %q: core must not depend on the environment", path, p)
				}
			}
			if p == "time" {
				timeName = "time"
				if imp.Name != nil {
					timeName = imp.Name.Name
				}
			}
		}
		full, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(full, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				report("%s: goroutine at %s: core is single-threaded", path, fset.Position(n.Pos()))
			case *ast.SelectStmt:
				report("%s: select at %s: core is single-threaded", path, fset.Position(n.Pos()))
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && timeName != "" && id.Name == timeName && n.Sel.Name != "Duration" {
					report("%s: time.%s at %s: only time.Duration is allowed in core", path, n.Sel.Name, fset.Position(n.Pos()))
				}
			}
			return true
		})
		return nil
	})
	return violations, checked, err
}
