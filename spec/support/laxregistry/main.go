// A registry for the specs that trusts its clients and misbehaves on
// request: blobs are stored under the digest the client names, never
// checked, and manifests are taken as they come. The first component of a
// repository name picks a behaviour for the rest of it (the storage is
// shared: "drip/team/app" serves what was pushed to "team/app"):
//
//	drip/     blob bodies trickle at 3 bytes/s, forever
//	endless/  blob bodies go on past their size, forever
//	busy/     the first request of each method answers 429 Retry-After: 1,
//	          and so does any retry that comes sooner than asked
//	down/     every request answers 503
//	away/     every request answers 503 Retry-After: 7200
//	reset/    the first upload request with a body keeps half of it, then
//	          the connection is closed without an answer
//	limit/    a request body over 1 MiB is refused with 413 unread
//	pages/    a tags list answers at most 2 tags a page, with a Link to
//	          the next (every tags list answers in pages, sorted, after
//	          `last`, at most `n`)
//
// One JSON line per request goes to -log. Standard library only; built by
// spec/support/registry.lua at test time.
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type manifest struct {
	ctype string
	body  []byte
}

type server struct {
	mu        sync.Mutex
	blobs     map[string][]byte
	manifests map[string]manifest // repo@digest and repo:tag
	uploads   map[string][]byte
	seen      map[string]bool      // busy: methods refused once, per repo
	until     map[string]time.Time // busy: when a refused request may come back
	reset     map[string]bool      // reset: uploads cut once
	logf      *os.File
}

type entry struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query"`
	Range  string `json:"range"`
	Status int    `json:"status"`
	Note   string `json:"note,omitempty"`
	Bytes  int64  `json:"bytes"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	logPath := flag.String("log", "", "request log (JSON lines)")
	flag.Parse()
	s := &server{blobs: map[string][]byte{}, manifests: map[string]manifest{}, uploads: map[string][]byte{},
		seen: map[string]bool{}, until: map[string]time.Time{}, reset: map[string]bool{}, logf: os.Stderr}
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			log.Fatal(err)
		}
		s.logf = f
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("lax registry listening on %s", ln.Addr())
	log.Fatal(http.Serve(ln, s))
}

func (s *server) write(e *entry) {
	line, _ := json.Marshal(e)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logf.Write(append(line, '\n'))
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// The repository, the rest of the path after it, and the behaviour.
func split(p string) (repo, kind, rest, mode string) {
	p = strings.TrimPrefix(p, "/v2/")
	for _, k := range []string{"/blobs/uploads/", "/blobs/", "/manifests/"} {
		if i := strings.Index(p, k); i > 0 {
			repo, kind, rest = p[:i], strings.Trim(k, "/"), p[i+len(k):]
			break
		}
	}
	if strings.HasSuffix(p, "/blobs/uploads") {
		repo, kind = strings.TrimSuffix(p, "/blobs/uploads"), "blobs/uploads"
	}
	if strings.HasSuffix(p, "/tags/list") {
		repo, kind = strings.TrimSuffix(p, "/tags/list"), "tags"
	}
	if i := strings.IndexByte(repo, '/'); i > 0 {
		switch m := repo[:i]; m {
		case "drip", "endless", "busy", "down", "away", "reset", "limit", "pages":
			return repo[i+1:], kind, rest, m
		}
	}
	return repo, kind, rest, ""
}

func fail(w http.ResponseWriter, e *entry, status int, code, msg string) {
	e.Status = status
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := &entry{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Range: r.Header.Get("Content-Range")}
	defer s.write(e)
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	if r.URL.Path == "/v2/" || r.URL.Path == "/v2" {
		e.Status = 200
		w.Write([]byte("{}"))
		return
	}
	repo, kind, rest, mode := split(r.URL.Path)
	if repo == "" {
		fail(w, e, 404, "NAME_UNKNOWN", "no such route")
		return
	}
	if s.refuse(w, r, e, repo, mode) {
		return
	}
	switch kind {
	case "blobs/uploads":
		s.upload(w, r, e, repo, rest, mode)
	case "blobs":
		s.blob(w, r, e, rest, mode)
	case "manifests":
		s.manifest(w, r, e, repo, rest)
	case "tags":
		s.tags(w, r, e, repo, mode)
	default:
		fail(w, e, 404, "NAME_UNKNOWN", "no such route")
	}
}

// The behaviours that answer before anything is read: true when answered.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, e *entry, repo, mode string) bool {
	switch mode {
	case "down":
		fail(w, e, 503, "UNAVAILABLE", "down for the spec")
		return true
	case "away":
		w.Header().Set("Retry-After", "7200")
		fail(w, e, 503, "UNAVAILABLE", "away for the spec")
		return true
	case "limit":
		if r.ContentLength > 1<<20 {
			e.Status = 413
			w.WriteHeader(413)
			w.Write([]byte("<html><head><title>413 Request Entity Too Large</title></head></html>"))
			return true
		}
	case "busy":
		key := repo + " " + r.Method
		s.mu.Lock()
		first, early := !s.seen[key], time.Now().Before(s.until[key])
		if first || early {
			s.seen[key] = true
			s.until[key] = time.Now().Add(time.Second)
		}
		s.mu.Unlock()
		if first || early {
			if early {
				e.Note = "early"
			}
			w.Header().Set("Retry-After", "1")
			fail(w, e, 429, "TOOMANYREQUESTS", "slow down")
			return true
		}
	}
	return false
}

// The upload's own path, for Location: a POST names the uploads folder.
func location(w http.ResponseWriter, r *http.Request, id string) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	if strings.HasSuffix(p, "/blobs/uploads") {
		p += "/" + id
	}
	w.Header().Set("Location", p)
}

func (s *server) upload(w http.ResponseWriter, r *http.Request, e *entry, repo, id, mode string) {
	if r.Method == http.MethodPost {
		if d := r.URL.Query().Get("digest"); d != "" {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				e.Note = "incomplete body: " + err.Error()
				return
			}
			s.mu.Lock()
			s.blobs[d] = body
			s.mu.Unlock()
			e.Status = 201
			w.Header().Set("Docker-Content-Digest", d)
			w.WriteHeader(201)
			return
		}
		id = newID()
		s.mu.Lock()
		s.uploads[id] = []byte{}
		s.mu.Unlock()
		location(w, r, id)
		w.Header().Set("Range", "0-0")
		e.Status = 202
		w.WriteHeader(202)
		return
	}
	s.mu.Lock()
	data, ok := s.uploads[id]
	s.mu.Unlock()
	if !ok {
		fail(w, e, 404, "BLOB_UPLOAD_UNKNOWN", "no such upload")
		return
	}
	switch r.Method {
	case http.MethodGet:
		status(w, e, r, len(data))
	case http.MethodPatch, http.MethodPut:
		if mode == "reset" && r.ContentLength > 1 && s.cutOnce(id) {
			s.cut(w, r, e, id, data)
			return
		}
		if cr := r.Header.Get("Content-Range"); cr != "" {
			var a, b int
			if _, err := fmt.Sscanf(cr, "%d-%d", &a, &b); err != nil || a != len(data) {
				fail(w, e, 416, "BLOB_UPLOAD_INVALID", "chunk out of order")
				return
			}
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			e.Note = "incomplete body: " + err.Error()
			return
		}
		e.Bytes = int64(len(body))
		data = append(data, body...)
		s.mu.Lock()
		s.uploads[id] = data
		s.mu.Unlock()
		if r.Method == http.MethodPatch {
			location(w, r, id)
			status(w, e, r, len(data))
			e.Status = 202
			return
		}
		d := r.URL.Query().Get("digest") // taken on trust: the point of this registry
		s.mu.Lock()
		s.blobs[d] = data
		delete(s.uploads, id)
		s.mu.Unlock()
		e.Status = 201
		w.Header().Set("Docker-Content-Digest", d)
		w.WriteHeader(201)
	default:
		fail(w, e, 405, "UNSUPPORTED", "method")
	}
}

func (s *server) cutOnce(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reset[id] {
		return false
	}
	s.reset[id] = true
	return true
}

// Keeps the first half of the body, then drops the connection unanswered.
func (s *server) cut(w http.ResponseWriter, r *http.Request, e *entry, id string, data []byte) {
	half := make([]byte, r.ContentLength/2)
	n, _ := io.ReadFull(r.Body, half)
	s.mu.Lock()
	s.uploads[id] = append(data, half[:n]...)
	s.mu.Unlock()
	e.Note, e.Bytes = "cut", int64(n)
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0) // a reset, not a clean close
			}
			c.Close()
		}
	}
}

func status(w http.ResponseWriter, e *entry, r *http.Request, n int) {
	end := n - 1
	if end < 0 {
		end = 0
	}
	w.Header().Set("Range", fmt.Sprintf("0-%d", end))
	w.Header().Set("Location", r.URL.Path)
	if r.Method == http.MethodGet {
		e.Status = 204
		w.WriteHeader(204)
	} else {
		w.WriteHeader(202)
	}
}

func (s *server) blob(w http.ResponseWriter, r *http.Request, e *entry, d, mode string) {
	s.mu.Lock()
	data, ok := s.blobs[d]
	s.mu.Unlock()
	if !ok {
		fail(w, e, 404, "BLOB_UNKNOWN", "no such blob")
		return
	}
	w.Header().Set("Docker-Content-Digest", d)
	w.Header().Set("Content-Type", "application/octet-stream")
	e.Status = 200
	switch {
	case r.Method == http.MethodHead:
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(200)
	case mode == "drip":
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(200)
		for i := 0; ; i += 3 {
			drop := []byte{data[i%len(data)], data[(i+1)%len(data)], data[(i+2)%len(data)]}
			if _, err := w.Write(drop); err != nil {
				e.Note = "client left"
				return
			}
			w.(http.Flusher).Flush()
			e.Bytes += 3
			time.Sleep(time.Second)
		}
	case mode == "endless":
		w.WriteHeader(200)
		n, err := w.Write(data)
		e.Bytes += int64(n)
		more := make([]byte, 64<<10)
		for err == nil {
			n, err = w.Write(more)
			e.Bytes += int64(n)
		}
		e.Note = "client left"
	default:
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(200)
		w.Write(data)
		e.Bytes = int64(len(data))
	}
}

func (s *server) manifest(w http.ResponseWriter, r *http.Request, e *entry, repo, ref string) {
	switch r.Method {
	case http.MethodPut:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			e.Note = "incomplete body: " + err.Error()
			return
		}
		d := digestOf(body)
		m := manifest{ctype: r.Header.Get("Content-Type"), body: body}
		s.mu.Lock()
		s.manifests[repo+"@"+d] = m
		s.manifests[repo+":"+ref] = m
		s.mu.Unlock()
		e.Status = 201
		w.Header().Set("Docker-Content-Digest", d)
		w.WriteHeader(201)
	case http.MethodGet, http.MethodHead:
		key := repo + ":" + ref
		if strings.HasPrefix(ref, "sha256:") {
			key = repo + "@" + ref
		}
		s.mu.Lock()
		m, ok := s.manifests[key]
		s.mu.Unlock()
		if !ok {
			fail(w, e, 404, "MANIFEST_UNKNOWN", "no such manifest")
			return
		}
		w.Header().Set("Content-Type", m.ctype)
		w.Header().Set("Docker-Content-Digest", digestOf(m.body))
		w.Header().Set("Content-Length", strconv.Itoa(len(m.body)))
		e.Status = 200
		w.WriteHeader(200)
		if r.Method == http.MethodGet {
			w.Write(m.body)
		}
	default:
		fail(w, e, 405, "UNSUPPORTED", "method")
	}
}

// The tags of repo after `last`, sorted, at most `n` (and 2 in pages/),
// with a Link to the next page when there are more.
func (s *server) tags(w http.ResponseWriter, r *http.Request, e *entry, repo, mode string) {
	q := r.URL.Query()
	last := q.Get("last")
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n <= 0 {
		n = 1000
	}
	if mode == "pages" && n > 2 {
		n = 2
	}
	var all []string
	s.mu.Lock()
	for k := range s.manifests {
		if strings.HasPrefix(k, repo+":") && k[len(repo)+1:] > last {
			all = append(all, k[len(repo)+1:])
		}
	}
	s.mu.Unlock()
	sort.Strings(all)
	if len(all) > n {
		all = all[:n]
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {all[n-1]}}
		w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, next.Encode()))
	}
	body, _ := json.Marshal(map[string]interface{}{"name": repo, "tags": all})
	w.Header().Set("Content-Type", "application/json")
	e.Status = 200
	w.Write(body)
}
