// A front for docker-registry that answers as Gitea's container registry
// does where Gitea differs (routers/api/packages/container of go-gitea):
//
//   - a PATCH after the upload's first bytes needs Content-Range (400
//     BLOB_UPLOAD_INVALID "Stream uploads after first write are not
//     allowed"), and one that does not start where the upload ends is
//     out of order (416);
//   - a manifest over -manifest-limit bytes (Gitea: 10 MiB) is 413, one
//     whose Content-Type is neither application/vnd.docker.* nor
//     application/vnd.oci.* is 400, and an index whose entries are not all
//     image manifests is 400 MANIFEST_INVALID;
//   - the status of an upload (GET) counts the bytes received in its Range
//     ("0-N" for N bytes) where the protocol, and docker-registry, give
//     the offset of the last one ("0-(N-1)");
//   - an upload's URL stays good whatever happened to it (docker-registry
//     carries the upload's state in a _state parameter that goes stale
//     when a transfer breaks: the latest one is put back here);
//   - two PUTs of a manifest by the same reference at once: the one that
//     comes second waits for the first and answers 500 "package version
//     already exists", storing nothing (the first holds the reference for
//     -hold after it is done, so that runners pushing at once meet there).
//
// The token endpoint (GET only) is the token server's; nginx sends
// /v2/token there. For specs that need an incident on cue, POST
// /_front/break-next-patch (the next PATCH goes upstream half, then its
// connection is reset), /_front/skew-next-patch (the next PATCH answers
// 416 unread) and /_front/fail-next-manifest (the next manifest PUT goes
// upstream, then answers 500). Standard library only; built by
// spec/support/registry.lua at test time.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

type front struct {
	up    *url.URL
	proxy *httputil.ReverseProxy
	limit int64
	hold  time.Duration

	mu     sync.Mutex
	refs   map[string]*sync.Mutex // repo:reference -> held while a PUT runs
	knobs  map[string]bool
	states map[string]string // upload path -> the registry's latest _state
	logf   *os.File
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	upstream := flag.String("upstream", "", "the registry, http://HOST:PORT")
	limit := flag.Int64("manifest-limit", 10<<20, "largest manifest taken, in bytes")
	hold := flag.Duration("hold", 200*time.Millisecond, "how long a manifest PUT keeps its reference after it is done")
	logPath := flag.String("log", "", "log of the answers given here (one line each)")
	flag.Parse()
	up, err := url.Parse(*upstream)
	if err != nil || up.Host == "" {
		log.Fatalf("bad -upstream %q", *upstream)
	}
	f := &front{up: up, proxy: httputil.NewSingleHostReverseProxy(up), limit: *limit, hold: *hold,
		refs: map[string]*sync.Mutex{}, knobs: map[string]bool{}, states: map[string]string{}, logf: os.Stderr}
	f.proxy.ModifyResponse = func(res *http.Response) error {
		f.remember(res.Header.Get("Location"))
		return giteaRange(res)
	}
	if *logPath != "" {
		if f.logf, err = os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("gitea front listening on %s for %s", ln.Addr(), up)
	log.Fatal(http.Serve(ln, f))
}

func (f *front) note(r *http.Request, status int, why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(f.logf, "%s %s %d %s\n", r.Method, r.URL.Path, status, why)
}

func (f *front) apiError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	f.note(r, status, msg)
	// the body is read to its end first, as Gitea does: a proxy still
	// sending it would otherwise see the connection drop and answer 502
	io.Copy(io.Discard, io.LimitReader(r.Body, 256<<20))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]interface{}{
		"errors": []map[string]string{{"code": code, "message": msg}},
	})
}

// Takes a knob armed by a spec: true once.
func (f *front) knob(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	on := f.knobs[name]
	delete(f.knobs, name)
	return on
}

// Keeps the _state of an upload's Location.
func (f *front) remember(loc string) {
	u, err := url.Parse(loc)
	if err != nil || !strings.Contains(u.Path, "/blobs/uploads/") || u.Query().Get("_state") == "" {
		return
	}
	f.mu.Lock()
	f.states[u.Path] = u.Query().Get("_state")
	f.mu.Unlock()
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	f.mu.Lock()
	st, known := f.states[p]
	f.mu.Unlock()
	if known {
		q := r.URL.Query()
		q.Set("_state", st)
		r.URL.RawQuery = q.Encode()
	}
	switch {
	case strings.HasPrefix(p, "/_front/") && r.Method == http.MethodPost:
		f.mu.Lock()
		f.knobs[strings.TrimPrefix(p, "/_front/")] = true
		f.mu.Unlock()
		w.WriteHeader(204)
	case r.Method == http.MethodPatch && strings.Contains(p, "/blobs/uploads/"):
		f.patch(w, r)
	case r.Method == http.MethodPut && strings.Contains(p, "/manifests/"):
		f.putManifest(w, r)
	default:
		f.proxy.ServeHTTP(w, r)
	}
}

// How many bytes the upload holds, asked of the registry ("0-0" is read
// as none: chunks here are never a single byte).
func (f *front) uploaded(r *http.Request) (int64, error) {
	u := *f.up
	u.Path, u.RawQuery = r.URL.Path, r.URL.RawQuery
	req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	req.Host = r.Host
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	if res.StatusCode != 204 {
		return 0, fmt.Errorf("upload status: HTTP %d", res.StatusCode)
	}
	var a, b int64
	if _, err := fmt.Sscanf(res.Header.Get("Range"), "%d-%d", &a, &b); err != nil {
		return 0, err
	}
	if b == 0 {
		return 0, nil
	}
	return b + 1, nil
}

func (f *front) patch(w http.ResponseWriter, r *http.Request) {
	if f.knob("skew-next-patch") {
		f.apiError(w, r, 416, "BLOB_UPLOAD_INVALID", "chunk out of order (on cue)")
		return
	}
	size, err := f.uploaded(r)
	if err != nil {
		f.proxy.ServeHTTP(w, r) // the registry's own answer (404 for an unknown upload)
		return
	}
	cr := r.Header.Get("Content-Range")
	if cr == "" && size != 0 {
		f.apiError(w, r, 400, "BLOB_UPLOAD_INVALID", "Stream uploads after first write are not allowed")
		return
	}
	if cr != "" {
		var a, b int64
		if _, err := fmt.Sscanf(cr, "%d-%d", &a, &b); err != nil {
			f.apiError(w, r, 400, "BLOB_UPLOAD_INVALID", "bad Content-Range")
			return
		}
		if a != size {
			f.apiError(w, r, 416, "BLOB_UPLOAD_INVALID", fmt.Sprintf("chunk starts at %d, the upload holds %d", a, size))
			return
		}
	}
	if f.knob("break-next-patch") && r.ContentLength > 1 {
		f.breakPatch(w, r)
		return
	}
	f.proxy.ServeHTTP(w, r)
}

// Sends half the chunk upstream, then resets the client's connection.
func (f *front) breakPatch(w http.ResponseWriter, r *http.Request) {
	half := r.ContentLength / 2
	body := make([]byte, half)
	n, _ := io.ReadFull(r.Body, body)
	u := *f.up
	u.Path, u.RawQuery = r.URL.Path, r.URL.RawQuery
	req, _ := http.NewRequest(http.MethodPatch, u.String(), bytes.NewReader(body[:n]))
	req.Header = r.Header.Clone()
	req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", startOf(r), startOf(r)+int64(n)-1))
	req.ContentLength = int64(n)
	req.Host = r.Host
	if res, err := http.DefaultClient.Do(req); err == nil {
		f.remember(res.Header.Get("Location"))
		res.Body.Close()
	}
	f.note(r, 0, fmt.Sprintf("broken after %d bytes", n))
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
		}
	}
}

// An upload's status as Gitea words it: the bytes received, not the
// offset of the last one ("0-0" stays: docker-registry says so for none).
func giteaRange(res *http.Response) error {
	if res.Request.Method != http.MethodGet || res.StatusCode != 204 ||
		!strings.Contains(res.Request.URL.Path, "/blobs/uploads/") {
		return nil
	}
	var a, b int64
	if _, err := fmt.Sscanf(res.Header.Get("Range"), "%d-%d", &a, &b); err == nil && b > 0 {
		res.Header.Set("Range", fmt.Sprintf("0-%d", b+1))
	}
	return nil
}

func startOf(r *http.Request) int64 {
	var a, b int64
	fmt.Sscanf(r.Header.Get("Content-Range"), "%d-%d", &a, &b)
	return a
}

func isImageManifest(mt string) bool {
	return strings.EqualFold(mt, "application/vnd.oci.image.manifest.v1+json") ||
		strings.EqualFold(mt, "application/vnd.docker.distribution.manifest.v2+json")
}

func isIndex(mt string) bool {
	return strings.EqualFold(mt, "application/vnd.oci.image.index.v1+json") ||
		strings.EqualFold(mt, "application/vnd.docker.distribution.manifest.list.v2+json")
}

// The lock of a repository's reference.
func (f *front) ref(r *http.Request) *sync.Mutex {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.refs[r.URL.Path]
	if m == nil {
		m = &sync.Mutex{}
		f.refs[r.URL.Path] = m
	}
	return m
}

func (f *front) putManifest(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, f.limit+1))
	if err != nil {
		f.apiError(w, r, 500, "UNKNOWN", err.Error())
		return
	}
	if int64(len(body)) > f.limit {
		f.apiError(w, r, 413, "MANIFEST_INVALID", "Manifest exceeds maximum size")
		return
	}
	mt := r.Header.Get("Content-Type")
	if !strings.HasPrefix(mt, "application/vnd.docker.") && !strings.HasPrefix(mt, "application/vnd.oci.") {
		f.apiError(w, r, 400, "MANIFEST_INVALID", "MediaType not recognized")
		return
	}
	if isIndex(mt) {
		var idx struct {
			Manifests []struct {
				MediaType string `json:"mediaType"`
			} `json:"manifests"`
		}
		if json.Unmarshal(body, &idx) != nil {
			f.apiError(w, r, 400, "MANIFEST_INVALID", "manifest invalid")
			return
		}
		for _, m := range idx.Manifests {
			if !isImageManifest(m.MediaType) {
				f.apiError(w, r, 400, "MANIFEST_INVALID", "manifest invalid")
				return
			}
		}
	}
	lock := f.ref(r)
	if !lock.TryLock() {
		lock.Lock() // the other PUT's version is in: this one's insert fails
		lock.Unlock()
		f.apiError(w, r, 500, "UNKNOWN", "package version already exists")
		return
	}
	defer lock.Unlock()
	failNext := f.knob("fail-next-manifest")
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	rec := &recorder{header: http.Header{}}
	f.proxy.ServeHTTP(rec, r)
	time.Sleep(f.hold)
	if failNext && rec.status/100 == 2 {
		f.apiError(w, r, 500, "UNKNOWN", "package version already exists (on cue)")
		return
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	w.Write(rec.body.Bytes())
}

// The registry's answer, kept until the reference is let go.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int)   { r.status = s }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
