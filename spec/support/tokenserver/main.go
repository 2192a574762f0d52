// A registry token server for the specs, shaped like Gitea's: GET
// /v2/token with Basic credentials (or none) returns an RS256 JWT that
// distribution 2.8 accepts (the signing certificate chain rides in the
// header's x5c). Users own the namespace named after their lower-cased
// name; elsewhere they, and anonymous callers, may only pull. Standard
// library only; built by spec/support/registry.lua at test time.
package main

import (
	"bufio"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

type server struct {
	key     *rsa.PrivateKey
	x5c     []string
	users   map[string]string
	issuer  string
	service string
	ttl     time.Duration

	mu  sync.Mutex
	log *os.File
}

// One line of the request log (JSON). Never holds a password.
type entry struct {
	Time    string   `json:"time"`
	Method  string   `json:"method"`
	Path    string   `json:"path"`
	Query   string   `json:"query"`
	Service string   `json:"service"`
	Scopes  []string `json:"scopes"`
	User    string   `json:"user"`
	Status  int      `json:"status"`
	Granted []access `json:"granted"`
	Error   string   `json:"error,omitempty"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	keyPath := flag.String("key", "", "PEM RSA private key that signs the tokens")
	certPath := flag.String("cert", "", "PEM certificate chain of the key, leaf first")
	usersPath := flag.String("users", "", "users file: one user:password a line")
	issuer := flag.String("issuer", "ocibuild-spec-token-issuer", "iss claim")
	service := flag.String("service", "container_registry", "aud claim")
	ttl := flag.Int("ttl", 300, "token lifetime in seconds")
	logPath := flag.String("log", "", "request log (JSON lines); stderr when empty")
	flag.Parse()

	s := &server{issuer: *issuer, service: *service, ttl: time.Duration(*ttl) * time.Second}
	var err error
	if s.key, err = readKey(*keyPath); err != nil {
		log.Fatal(err)
	}
	if s.x5c, err = readChain(*certPath); err != nil {
		log.Fatal(err)
	}
	if s.users, err = readUsers(*usersPath); err != nil {
		log.Fatal(err)
	}
	s.log = os.Stderr
	if *logPath != "" {
		if s.log, err = os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("token server listening on %s", ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/token", s.token)
	log.Fatal(http.Serve(ln, mux))
}

func readKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an RSA key", path)
	}
	return rk, nil
}

// The chain as x5c wants it: standard base64 of each DER certificate.
func readChain(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var chain []string
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			chain = append(chain, base64.StdEncoding.EncodeToString(block.Bytes))
		}
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return chain, nil
}

func readUsers(path string) (map[string]string, error) {
	users := map[string]string{}
	if path == "" {
		return users, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, ':'); i > 0 {
			users[line[:i]] = line[i+1:]
		}
	}
	return users, sc.Err()
}

func (s *server) write(e *entry) {
	e.Time = time.Now().UTC().Format(time.RFC3339Nano)
	line, _ := json.Marshal(e)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log.Write(append(line, '\n'))
}

func (s *server) token(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	e := &entry{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Service: q.Get("service"),
		Scopes: []string{}, Granted: []access{}}
	defer s.write(e)
	for _, p := range q["scope"] {
		// Clients send several scope parameters, or several scopes in one,
		// separated by spaces.
		e.Scopes = append(e.Scopes, strings.Fields(p)...)
	}
	if r.Method != http.MethodGet {
		// Gitea has no OAuth2 POST flow: 404.
		e.Status, e.Error = http.StatusNotFound, "only GET is supported"
		w.WriteHeader(e.Status)
		return
	}
	user, pass, hasAuth := r.BasicAuth()
	e.User = user
	if r.Header.Get("Authorization") != "" && !hasAuth {
		e.Status, e.Error = http.StatusUnauthorized, "unsupported Authorization scheme"
		unauthorized(w, e.Error)
		return
	}
	if hasAuth {
		want, ok := s.users[user]
		if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(pass)) != 1 {
			e.Status, e.Error = http.StatusUnauthorized, "wrong user name or password"
			unauthorized(w, e.Error)
			return
		}
	}
	for _, sc := range e.Scopes {
		if a, ok := s.grant(user, sc); ok {
			e.Granted = append(e.Granted, a)
		}
	}
	tok, now, err := s.sign(user, e.Granted)
	if err != nil {
		e.Status, e.Error = http.StatusInternalServerError, err.Error()
		http.Error(w, err.Error(), e.Status)
		return
	}
	e.Status = http.StatusOK
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]interface{}{
		"token":        tok,
		"access_token": tok,
		"expires_in":   int(s.ttl / time.Second),
		"issued_at":    now.Format(time.RFC3339),
	})
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(map[string]interface{}{
		"errors": []map[string]string{{"code": "UNAUTHORIZED", "message": msg}},
	})
}

// What user (empty: anonymous) gets of one scope "type:name:actions": the
// intersection of the actions asked for and the actions allowed. The name
// may hold a host:port colon, so type ends at the first colon and the
// actions start after the last.
func (s *server) grant(user, scope string) (access, bool) {
	first, last := strings.IndexByte(scope, ':'), strings.LastIndexByte(scope, ':')
	if first < 0 || last == first {
		return access{}, false
	}
	a := access{Type: scope[:first], Name: scope[first+1 : last], Actions: []string{}}
	if i := strings.IndexByte(a.Type, '('); i >= 0 {
		a.Type = a.Type[:i] // a resource class, as in repository(plugin)
	}
	allowed := map[string]bool{}
	if a.Type == "repository" {
		allowed["pull"] = true
		owner := a.Name
		if i := strings.IndexByte(owner, '/'); i >= 0 {
			owner = owner[:i]
		}
		if user != "" && owner == strings.ToLower(user) {
			allowed["push"] = true
		}
	}
	seen := map[string]bool{}
	for _, act := range strings.Split(scope[last+1:], ",") {
		if allowed[act] && !seen[act] {
			seen[act] = true
			a.Actions = append(a.Actions, act)
		}
	}
	sort.Strings(a.Actions)
	return a, true
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (s *server) sign(user string, granted []access) (string, time.Time, error) {
	now := time.Now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", now, err
	}
	header, err := json.Marshal(map[string]interface{}{"typ": "JWT", "alg": "RS256", "x5c": s.x5c})
	if err != nil {
		return "", now, err
	}
	claims, err := json.Marshal(map[string]interface{}{
		"iss": s.issuer, "sub": user, "aud": s.service,
		"exp": now.Add(s.ttl).Unix(), "nbf": now.Unix(), "iat": now.Unix(),
		"jti": hex.EncodeToString(jti), "access": granted,
	})
	if err != nil {
		return "", now, err
	}
	signed := b64url(header) + "." + b64url(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", now, errors.New("signing: " + err.Error())
	}
	return signed + "." + b64url(sig), now, nil
}
