package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// module is this module's path; rule patterns are relative to it.
const module = "github.com/crdtd/crdtd"

// impure are the standard packages a pure package must not import: a
// trailing "/..." also matches every package below (net/http, log/slog).
var impure = []string{"net/...", "os/...", "log/..."}

// A rule forbids the packages matching pkgs to depend on the packages
// matching forbid.
type rule struct {
	name string
	// pkgs is a package pattern relative to the module ("crdt/..." is crdt
	// and every package below it).
	pkgs string
	// forbid holds import path patterns; "mod:" stands for the module path
	// ("mod:internal/..."). A trailing "/..." matches the path and every
	// package below it.
	forbid []string
	// moduleOnly checks only the packages of this module the matched package
	// depends on, and their own imports: a pure package may use msgpack,
	// whatever msgpack imports, but no package of ours may launder an
	// import for it. Otherwise every dependency counts.
	moduleOnly bool
	// optional rules skip, rather than fail, while no package matches pkgs
	// (a package another change is still creating).
	optional bool
	why      string
}

// rules is the module's layering. To tighten a rule, extend its forbid
// list.
var rules = []rule{
	{
		name: "crdt-pure", pkgs: "crdt/...", forbid: impure, moduleOnly: true,
		why: "crdt is pure lattices: no net, os or log ",
	},
	{
		name: "cart-pure", pkgs: "cart/...", forbid: impure, moduleOnly: true,
		why: "cart is pure domain logic: no net, os or log ",
	},
	{
		name: "gossip-opaque", pkgs: "gossip/...", forbid: []string{"mod:crdt/...", "mod:cart/..."},
		why: "gossip replicates opaque keyed objects and knows nothing about carts",
	},
	{
		name: "api-standalone", pkgs: "api/...", forbid: []string{"mod:..."}, optional: true,
		why: "api is the HTTP contract and imports nothing of this module",
	},
	{
		name: "client-no-internal", pkgs: "client/...",
		forbid: []string{"mod:internal/...", "mod:crdt/...", "mod:cart/..."},
		why:    "client is public API: it speaks the HTTP contract of api and needs neither the CRDTs nor internal packages",
	},
}

// pkg is the part of `go list -json` output the rules read.
type pkg struct {
	ImportPath     string
	Dir            string
	GoFiles        []string
	CgoFiles       []string
	IgnoredGoFiles []string // built only for other platforms or tags
	Imports        []string // of the non-test files
	Deps           []string // every package it depends on, not only directly
	Error          *struct{ Err string }
}

// listModule returns the module's packages and their dependencies by import
// path, from one run of `go list -deps` shared by the tests.
func listModule(t *testing.T) map[string]*pkg {
	t.Helper()
	pkgs, err := goList()
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

var goList = sync.OnceValues(func() (map[string]*pkg, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the go command is needed to list imports: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-e", "-deps",
		"-json=ImportPath,Dir,GoFiles,CgoFiles,IgnoredGoFiles,Imports,Deps,Error", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode go list output: %v", err)
		}
		pkgs[p.ImportPath] = &p
	}
	return pkgs, nil
})

// matchPattern reports whether import path path matches pattern, where a
// trailing "/..." matches the path before it and everything below it, and
// "mod:" stands for the module path.
func matchPattern(pattern, path string) bool {
	if rest, ok := strings.CutPrefix(pattern, "mod:"); ok {
		pattern = module + "/" + rest
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func inModule(path string) bool { return matchPattern("mod:...", path) }

// violations returns, for package p, each forbidden import and the package
// that imports it.
func (r rule) violations(p *pkg, pkgs map[string]*pkg) []string {
	var out []string
	if !r.moduleOnly {
		for _, d := range p.Deps {
			if slices.ContainsFunc(r.forbid, func(f string) bool { return matchPattern(f, d) }) {
				out = append(out, fmt.Sprintf("%s depends on %s", p.ImportPath, d))
			}
		}
		return out
	}
	// The package's own imports and those of the module packages it uses.
	for _, path := range append([]string{p.ImportPath}, p.Deps...) {
		q := pkgs[path]
		if q == nil || !inModule(path) {
			continue
		}
		for _, imp := range q.Imports {
			if slices.ContainsFunc(r.forbid, func(f string) bool { return matchPattern(f, imp) }) {
				out = append(out, fmt.Sprintf("%s imports %s", path, imp))
			}
		}
	}
	return out
}

// TestLayering checks every rule against `go list -deps` of the module.
func TestLayering(t *testing.T) {
	pkgs := listModule(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			var matched []*pkg
			for path, p := range pkgs {
				if matchPattern("mod:"+r.pkgs, path) {
					matched = append(matched, p)
				}
			}
			if len(matched) == 0 {
				if r.optional {
					t.Skipf("no package %s in the module yet", r.pkgs)
				}
				t.Fatalf("no package matches %s: a moved package needs its rule moved too", r.pkgs)
			}
			found := map[string]bool{} // a package and its dependents find the same
			for _, p := range matched {
				if p.Error != nil {
					t.Errorf("%s: %s", p.ImportPath, p.Error.Err)
				}
				for _, v := range r.violations(p, pkgs) {
					found[v] = true
				}
			}
			for _, v := range slices.Sorted(maps.Keys(found)) {
				t.Errorf("%s: %s", v, r.why)
			}
		})
	}
}

// clockFuncs are the functions of package time a pure package must not
// call: they read the clock or start a timer. Time comes in as an argument
// (as raft's Tick does).
var clockFuncs = map[string]string{
	"Now": "reads the clock", "Since": "reads the clock", "Until": "reads the clock",
	"Sleep": "blocks on a timer", "After": "starts a timer", "AfterFunc": "starts a timer",
	"Tick": "starts a timer", "NewTimer": "starts a timer", "NewTicker": "starts a timer",
}

// checkPureFile returns the purity violations of one parsed non-test file:
// impure imports, clock and timer calls (also as method values), dot
// imports of time, and go statements.
func checkPureFile(fset *token.FileSet, f *ast.File) []string {
	var out []string
	report := func(pos token.Pos, format string, args ...any) {
		p := fset.Position(pos)
		out = append(out, fmt.Sprintf("%s:%d: %s", p.Filename, p.Line, fmt.Sprintf(format, args...)))
	}
	timeName := ""
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			report(imp.Pos(), "bad import path %s", imp.Path.Value)
			continue
		}
		if slices.ContainsFunc(impure, func(p string) bool { return matchPattern(p, path) }) {
			report(imp.Pos(), "imports %s", path)
		}
		if path != "time" {
			continue
		}
		switch {
		case imp.Name == nil:
			timeName = "time"
		case imp.Name.Name == ".":
			report(imp.Pos(), "dot-imports time, which hides clock reads")
		case imp.Name.Name != "_":
			timeName = imp.Name.Name
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			report(n.Pos(), "starts a goroutine")
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok && timeName != "" && x.Name == timeName {
				if what, ok := clockFuncs[n.Sel.Name]; ok {
					report(n.Pos(), "uses time.%s, which %s", n.Sel.Name, what)
				}
			}
		}
		return true
	})
	return out
}

// TestPureSources parses every non-test file of the pure packages, those
// built for other platforms included, and checks each with checkPureFile.
func TestPureSources(t *testing.T) {
	pkgs := listModule(t)
	root := pkgs[module+"/crdt"]
	if root == nil {
		t.Fatal("package crdt not found")
	}
	moduleDir := filepath.Dir(root.Dir)
	checked := 0
	for path, p := range pkgs {
		if !matchPattern("mod:crdt/...", path) && !matchPattern("mod:cart/...", path) {
			continue
		}
		fset := token.NewFileSet()
		for _, name := range slices.Concat(p.GoFiles, p.CgoFiles, p.IgnoredGoFiles) {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			file := filepath.Join(p.Dir, name)
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if rel, err := filepath.Rel(moduleDir, file); err == nil {
				file = rel // for the messages
			}
			f, err := parser.ParseFile(fset, file, src, parser.SkipObjectResolution)
			if err != nil {
				t.Errorf("parse %s: %v", file, err)
				continue
			}
			checked++
			for _, v := range checkPureFile(fset, f) {
				t.Errorf("%s (crdt and cart are pure)", v)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source file of crdt or cart checked")
	}
}

// TestCheckPureFile shows that checkPureFile finds each kind of violation,
// however it is spelled, and passes pure code, so TestPureSources cannot
// pass by finding nothing.
func TestCheckPureFile(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // substrings, one per expected violation, in order
	}{
		{"pure", `package p
import "time"
func f(now time.Time) time.Duration { return now.Sub(now.Add(-time.Second)) }`, nil},
		{"os", `package p
import _ "os"`, []string{"imports os"}},
		{"net/http", `package p
import "net/http"
var _ = http.MethodGet`, []string{"imports net/http"}},
		{"slog", `package p
import "log/slog"
var _ = slog.Info`, []string{"imports log/slog"}},
		{"time.Now", `package p
import "time"
func f() time.Time { return time.Now() }`, []string{"time.Now"}},
		{"renamed time", `package p
import clock "time"
func f() clock.Duration { return clock.Since(clock.Time{}) }`, []string{"time.Since"}},
		{"method value", `package p
import "time"
var now = time.Now`, []string{"time.Now"}},
		{"until and timer", `package p
import "time"
func f(t time.Time) { time.Until(t); <-time.After(1) }`, []string{"time.Until", "time.After"}},
		{"dot import", `package p
import . "time"
func f() Time { return Now() }`, []string{"dot-imports time"}},
		{"goroutine", `package p
func f() { go func() {}() }`, []string{"starts a goroutine"}},
		{"Now of another package", `package p
type clock struct{}
func (clock) Now() int { return 0 }
var time clock
var _ = time.Now`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "p.go", tt.src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			got := checkPureFile(fset, f)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d violations %q, want %d like %q", len(got), got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d: got %q, want it to mention %q", i, got[i], w)
				}
			}
		})
	}
}

// TestRuleViolations checks the import rules on made-up packages: both
// modes, a forbidden import laundered through a module package, and the
// patterns' edges (crdtfoo is not crdt/...).
func TestRuleViolations(t *testing.T) {
	m := func(s string) string { return module + "/" + s }
	pkgs := map[string]*pkg{
		m("crdt"):        {ImportPath: m("crdt"), Imports: []string{"time", m("crdt/helper")}, Deps: []string{"time", m("crdt/helper"), "os"}},
		m("crdt/helper"): {ImportPath: m("crdt/helper"), Imports: []string{"os"}, Deps: []string{"os"}},
		m("cart"):        {ImportPath: m("cart"), Imports: []string{"github.com/x/msgpack"}, Deps: []string{"github.com/x/msgpack", "os", "net"}},
		m("gossip"):      {ImportPath: m("gossip"), Imports: []string{m("util")}, Deps: []string{m("util"), m("crdt")}},
		m("client"):      {ImportPath: m("client"), Deps: []string{m("internalx"), m("crdtfoo"), m("internal/store")}},
	}
	byName := map[string]rule{}
	for _, r := range rules {
		byName[r.name] = r
	}
	tests := []struct {
		rule, pkg string
		want      []string
	}{
		{"crdt-pure", "crdt", []string{m("crdt/helper") + " imports os"}},
		{"cart-pure", "cart", nil}, // msgpack's own imports are its business
		{"gossip-opaque", "gossip", []string{m("gossip") + " depends on " + m("crdt")}},
		{"api-standalone", "gossip", []string{"depends on " + m("util"), "depends on " + m("crdt")}},
		{"client-no-internal", "client", []string{m("client") + " depends on " + m("internal/store")}},
	}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+tt.pkg, func(t *testing.T) {
			r, ok := byName[tt.rule]
			if !ok {
				t.Fatalf("no rule %q", tt.rule)
			}
			got := r.violations(pkgs[m(tt.pkg)], pkgs)
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %d like %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d: got %q, want it to mention %q", i, got[i], w)
				}
			}
		})
	}
	if !matchPattern("mod:internal/...", m("internal/store")) || matchPattern("mod:internal/...", m("internalx")) {
		t.Error("mod:internal/... must match internal/store and not internalx")
	}
}
