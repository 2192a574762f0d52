// dockerignore-ref answers exclusion questions with Docker's own code, so
// that ocibuild's matcher and walk can be compared against it: the
// .dockerignore reader vendored from BuildKit and moby/patternmatcher decide
// everything; only the context walk is written here, after tonistiigi/fsutil.
//
// Strings cross the pipe hex-encoded, so any byte (newlines, invalid UTF-8)
// survives.
//
//	dockerignore-ref batch < requests
//	    Request lines: "C <hex .dockerignore text>" starts a case, "P <hex
//	    path>" asks about a path in it. Answers, per case: "R <hex pattern>
//	    ..." (ReadAll's list) or "RERR <hex message>"; then "NERR <hex
//	    message>" when New fails, or "BAD <index>" when a pattern fails to
//	    compile once matching reaches it, or "OK"; then per path one line
//	    "A <per-path> <walk> <zero>", each 1 (excluded), 0 or E (error):
//	    MatchesOrParentMatches; MatchesUsingParentResults chained over the
//	    path's components from the top; and the same with the zero MatchInfo.
//
//	dockerignore-ref clean < lines
//	    For each line "<hex string>": "<hex filepath.Clean> <hex
//	    strings.TrimSpace>" of that string.
//
//	dockerignore-ref walk ROOT IGNOREFILE
//	    Walks ROOT as BuildKit's context transfer does and prints one line
//	    per entry that ends up in the context: "<type> <hex path>", type
//	    being one of d f l p c b. Sockets and regular files emptied by the
//	    per-path check are left out (ocibuild leaves them out too).
package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/dockerignore"
	"github.com/moby/patternmatcher"
)

func unhex(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dockerignore-ref: bad hex:", s)
		os.Exit(2)
	}
	return string(b)
}

func hx(s string) string { return hex.EncodeToString([]byte(s)) }

func bit(b bool, err error) string {
	if err != nil {
		return "E"
	}
	if b {
		return "1"
	}
	return "0"
}

// lazyFailure finds the first pattern whose regular expression does not
// compile: patternmatcher compiles a pattern only when a match reaches it,
// so each one is put where it will be reached.
func lazyFailure(pats []string) int {
	for i, p := range pats {
		for _, list := range [][]string{{p}, {"**", p}} {
			pm, err := patternmatcher.New(list)
			if err != nil {
				return i
			}
			if _, err := pm.MatchesOrParentMatches("x"); err != nil {
				return i
			}
		}
	}
	return -1
}

func walkChain(pm *patternmatcher.PatternMatcher, path string) (bool, error) {
	parts := strings.Split(path, "/")
	var info patternmatcher.MatchInfo
	var m bool
	var err error
	for i := range parts {
		m, info, err = pm.MatchesUsingParentResults(strings.Join(parts[:i+1], "/"), info)
		if err != nil {
			return false, err
		}
	}
	return m, nil
}

type batchCase struct {
	text  string
	paths []string
}

func answer(w *bufio.Writer, c *batchCase) {
	if c == nil {
		return
	}
	pats, err := dockerignore.ReadAll(strings.NewReader(c.text))
	if err != nil {
		fmt.Fprintf(w, "RERR %s\n", hx(err.Error()))
		return
	}
	fmt.Fprint(w, "R")
	for _, p := range pats {
		fmt.Fprintf(w, " %s", hx(p))
	}
	fmt.Fprintln(w)
	pm, err := patternmatcher.New(pats)
	if err != nil {
		fmt.Fprintf(w, "NERR %s\n", hx(err.Error()))
		return
	}
	if i := lazyFailure(pats); i >= 0 {
		fmt.Fprintf(w, "BAD %d\n", i)
		return
	}
	fmt.Fprintln(w, "OK")
	for _, p := range c.paths {
		a, aerr := pm.MatchesOrParentMatches(p)
		b, berr := walkChain(pm, p)
		z, _, zerr := pm.MatchesUsingParentResults(p, patternmatcher.MatchInfo{})
		fmt.Fprintf(w, "A %s %s %s\n", bit(a, aerr), bit(b, berr), bit(z, zerr))
	}
}

func batch() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<28)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var cur *batchCase
	for in.Scan() {
		line := in.Text()
		switch {
		case strings.HasPrefix(line, "C "):
			answer(out, cur)
			cur = &batchCase{text: unhex(line[2:])}
		case line == "C":
			answer(out, cur)
			cur = &batchCase{}
		case strings.HasPrefix(line, "P ") && cur != nil:
			cur.paths = append(cur.paths, unhex(line[2:]))
		default:
			fmt.Fprintln(os.Stderr, "dockerignore-ref: bad request line")
			os.Exit(2)
		}
	}
	answer(out, cur)
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "dockerignore-ref:", err)
		os.Exit(2)
	}
}

// withoutTrailingGlob is fsutil's view of an exception: the pattern without
// a trailing "/**" and then without a trailing "/*".
func withoutTrailingGlob(p string) string {
	p = strings.TrimSuffix(p, "/**")
	return strings.TrimSuffix(p, "/*")
}

type dirState struct {
	path    string
	withSep string
	typ     byte
	info    patternmatcher.MatchInfo
	emitted bool
}

type entry struct {
	typ  byte
	path string
}

func typeLetter(m fs.FileMode) byte {
	switch {
	case m.IsDir():
		return 'd'
	case m&fs.ModeSymlink != 0:
		return 'l'
	case m&fs.ModeNamedPipe != 0:
		return 'p'
	case m&fs.ModeSocket != 0:
		return 's'
	case m&fs.ModeCharDevice != 0:
		return 'c'
	case m&fs.ModeDevice != 0:
		return 'b'
	}
	return 'f'
}

// contextWalk lists what BuildKit's context transfer sends: filepath.WalkDir
// order, each path matched with its parent directory's results, an excluded
// directory skipped unless an exception may match below it, and directories
// that were excluded sent late, just before the first kept path below them.
func contextWalk(root string, pm *patternmatcher.PatternMatcher) ([]entry, error) {
	onlyPrefix := true
	for _, p := range pm.Patterns() {
		if p.Exclusion() && strings.ContainsAny(withoutTrailingGlob(p.String()), "*[]?^\\") {
			onlyPrefix = false
			break
		}
	}
	var parents []*dirState
	var out []entry
	err := filepath.WalkDir(root, func(abs string, d fs.DirEntry, walkErr error) error {
		rel, err := filepath.Rel(root, abs)
		if err != nil {
			return err
		}
		if rel == "." {
			return walkErr
		}
		isDir := d != nil && d.IsDir()
		for len(parents) > 0 && !strings.HasPrefix(rel, parents[len(parents)-1].withSep) {
			parents = parents[:len(parents)-1]
		}
		var cur *dirState
		if isDir {
			cur = &dirState{path: rel, withSep: rel + "/", typ: 'd'}
		}
		m, info, err := pm.MatchesUsingParentResults(rel, parentInfo(parents))
		if err != nil {
			return err
		}
		if isDir {
			cur.info = info
		}
		if m && isDir && onlyPrefix {
			if !pm.Exclusions() {
				return filepath.SkipDir
			}
			if !exceptionBelow(pm, rel) {
				return filepath.SkipDir
			}
		}
		if walkErr != nil {
			if m && errors.Is(walkErr, fs.ErrPermission) {
				return nil
			}
			return walkErr
		}
		if m {
			if isDir {
				parents = append(parents, cur)
			}
			return nil
		}
		for _, p := range parents {
			if !p.emitted {
				p.emitted = true
				out = append(out, entry{p.typ, p.path})
			}
		}
		out = append(out, entry{typeLetter(d.Type()), rel})
		if isDir {
			cur.emitted = true
			parents = append(parents, cur)
		}
		return nil
	})
	return out, err
}

func parentInfo(parents []*dirState) patternmatcher.MatchInfo {
	if len(parents) == 0 {
		return patternmatcher.MatchInfo{}
	}
	return parents[len(parents)-1].info
}

func exceptionBelow(pm *patternmatcher.PatternMatcher, dir string) bool {
	for _, p := range pm.Patterns() {
		if p.Exclusion() && strings.HasPrefix(withoutTrailingGlob(p.String())+"/", dir+"/") {
			return true
		}
	}
	return false
}

func walk(root, ignore string) {
	var pats []string
	if f, err := os.Open(ignore); err == nil {
		pats, err = dockerignore.ReadAll(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "dockerignore-ref:", err)
			os.Exit(1)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "dockerignore-ref:", err)
		os.Exit(1)
	}
	pm, err := patternmatcher.New(pats)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dockerignore-ref:", err)
		os.Exit(1)
	}
	entries, err := contextWalk(root, pm)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dockerignore-ref:", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, e := range entries {
		if e.typ == 's' {
			continue
		}
		if e.typ == 'f' {
			if m, err := pm.MatchesOrParentMatches(e.path); err != nil || m {
				continue
			}
		}
		fmt.Fprintf(w, "%c %s\n", e.typ, hx(e.path))
	}
}

func clean() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<28)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		s := unhex(in.Text())
		fmt.Fprintf(out, "%s %s\n", hx(filepath.Clean(s)), hx(strings.TrimSpace(s)))
	}
}

func main() {
	switch {
	case len(os.Args) == 2 && os.Args[1] == "clean":
		clean()
	case len(os.Args) == 2 && os.Args[1] == "batch":
		batch()
	case len(os.Args) == 4 && os.Args[1] == "walk":
		walk(os.Args[2], os.Args[3])
	default:
		fmt.Fprintln(os.Stderr, "usage: dockerignore-ref batch | clean | walk ROOT IGNOREFILE")
		os.Exit(2)
	}
}
