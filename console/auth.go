package console

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a signed-in person may do.
type Role int

// The roles, each allowing what the one before allows.
const (
	// Viewer reads flags, history and evaluations.
	Viewer Role = iota + 1
	// Editor also changes flags: create, edit, copy, delete, revert.
	Editor
	// Admin also manages accounts and settings (the admin token has it).
	Admin
)

// String is the role's name as the users file spells it.
func (r Role) String() string {
	switch r {
	case Viewer:
		return "viewer"
	case Editor:
		return "editor"
	case Admin:
		return "admin"
	}
	return "none"
}

// ParseRole reads a role name: viewer, editor or admin.
func ParseRole(s string) (Role, error) {
	switch s {
	case "viewer":
		return Viewer, nil
	case "editor":
		return Editor, nil
	case "admin":
		return Admin, nil
	}
	return 0, fmt.Errorf("role %q: want viewer, editor or admin", s)
}

// User is one account: a name, a role and a bcrypt password hash.
type User struct {
	// Name is who the person is; it is the audit actor of their changes.
	Name string
	// Role is what they may do.
	Role Role
	// Hash is the bcrypt hash of their password ("$2a$…", "$2b$…" or
	// "$2y$…"), as golang.org/x/crypto/bcrypt or htpasswd -B makes it.
	Hash []byte
}

// maxUsersFile bounds the users file read by [LoadUsers].
const maxUsersFile = 1 << 20

// LoadUsers reads a users file: one account per line as
// "name:role:bcrypt-hash" (role viewer, editor or admin), blank lines and
// lines starting with '#' ignored. An error names the line and the field.
func LoadUsers(path string) ([]User, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	defer f.Close()
	users, err := ParseUsers(io.LimitReader(f, maxUsersFile+1))
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return users, nil
}

// ParseUsers reads accounts in the users-file format of [LoadUsers].
func ParseUsers(r io.Reader) ([]User, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(data) > maxUsersFile {
		return nil, fmt.Errorf("larger than %d bytes", maxUsersFile)
	}
	var users []User
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxUsersFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("line %d: want name:role:bcrypt-hash", n)
		}
		name, roleName, hash := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2])
		if !validUserName(name) {
			return nil, fmt.Errorf("line %d: name: 1–64 letters, digits, '.', '_', '-' or '@'", n)
		}
		if seen[name] {
			return nil, fmt.Errorf("line %d: name %q appears twice", n, name)
		}
		role, err := ParseRole(roleName)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("line %d: hash of %q is not a bcrypt hash: %w", n, name, err)
		}
		seen[name] = true
		users = append(users, User{Name: name, Role: role, Hash: []byte(hash)})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return users, nil
}

func validUserName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)
		if !ok {
			return false
		}
	}
	return true
}

// HashPassword returns the bcrypt hash of password for a users file.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// session is one signed-in person.
type session struct {
	user    string
	role    Role
	csrf    string
	expires time.Time
}

const (
	sessionCookie = "redisflags_session"
	// maxSessions bounds the sessions kept in memory; the oldest go first.
	maxSessions = 10000
)

// sessions are kept in memory: a restart signs everyone out.
type sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	now func() time.Time
	m   map[string]*session
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *sessions) create(user string, role Role) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= maxSessions {
		s.pruneLocked(now)
	}
	id := randomToken()
	ses := &session{user: user, role: role, csrf: randomToken(), expires: now.Add(s.ttl)}
	s.m[id] = ses
	return id, ses
}

// pruneLocked drops expired sessions and, when still full, the one that
// expires first.
func (s *sessions) pruneLocked(now time.Time) {
	var oldest string
	for id, ses := range s.m {
		if now.After(ses.expires) {
			delete(s.m, id)
			continue
		}
		if oldest == "" || ses.expires.Before(s.m[oldest].expires) {
			oldest = id
		}
	}
	if len(s.m) >= maxSessions && oldest != "" {
		delete(s.m, oldest)
	}
}

func (s *sessions) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ses, ok := s.m[id]
	if !ok {
		return nil
	}
	if s.now().After(ses.expires) {
		delete(s.m, id)
		return nil
	}
	c := *ses
	return &c
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// limiter bounds login attempts: at most burst failures per key (client
// address, and separately user name) per window.
type limiter struct {
	mu     sync.Mutex
	now    func() time.Time
	window time.Duration
	burst  int
	m      map[string]*attempts
}

type attempts struct {
	n     int
	start time.Time
}

// maxLimiterKeys bounds the limiter's memory.
const maxLimiterKeys = 100000

func (l *limiter) allowed(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.m[key]
	if !ok {
		return true
	}
	if l.now().Sub(a.start) > l.window {
		delete(l.m, key)
		return true
	}
	return a.n < l.burst
}

func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.m) >= maxLimiterKeys {
		for k, a := range l.m {
			if now.Sub(a.start) > l.window {
				delete(l.m, k)
			}
		}
		if len(l.m) >= maxLimiterKeys {
			return // full of fresh failures: the allowed check still refuses them
		}
	}
	a, ok := l.m[key]
	if !ok || now.Sub(a.start) > l.window {
		l.m[key] = &attempts{n: 1, start: now}
		return
	}
	a.n++
}

// dummyHash is compared against when the user does not exist, so that an
// unknown name takes as long to refuse as a wrong password.
// It is made on first use, not when the program starts.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.DefaultCost)
	return h
})

// errBadLogin is the one message a failed sign-in gets.
var errBadLogin = errors.New("unknown user or wrong password")

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// identity is who makes a request: a session, or the admin token.
type identity struct {
	user  string
	role  Role
	csrf  string // empty for the admin token, which needs none
	token bool
}

// identify returns the request's identity, or nil when there is none.
func (c *Console) identify(r *http.Request) *identity {
	if c.tokenHash != nil {
		if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			sum := sha256.Sum256([]byte(h))
			if subtle.ConstantTimeCompare(sum[:], c.tokenHash[:]) == 1 {
				return &identity{user: "admin-token", role: Admin, token: true}
			}
			return nil
		}
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	ses := c.sessions.get(ck.Value)
	if ses == nil {
		return nil
	}
	return &identity{user: ses.user, role: ses.role, csrf: ses.csrf}
}

// checkCSRF reports whether a state-changing request carries the session's
// CSRF token (form field "csrf" or header X-CSRF-Token). The admin token
// needs none: it is not sent by browsers on their own.
func checkCSRF(id *identity, r *http.Request) bool {
	if id.token {
		return true
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(id.csrf)) == 1
}

func (c *Console) setSessionCookie(w http.ResponseWriter, r *http.Request, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    id,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   c.cfg.secure || r.TLS != nil,
	})
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if c.identify(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login", page{Title: "Sign in", Next: safeNext(r.URL.Query().Get("next"))})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	name := strings.TrimSpace(r.PostFormValue("user"))
	password := r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	addr := clientAddr(r)
	fail := func(status int, msg string) {
		c.render(w, r, status, "login", page{Title: "Sign in", Next: next, Error: msg, Form: map[string]string{"user": name}})
	}
	if !c.limit.allowed("addr:"+addr) || !c.limit.allowed("user:"+name) {
		w.Header().Set("Retry-After", fmt.Sprint(int(c.limit.window.Seconds())))
		fail(http.StatusTooManyRequests, "Too many failed sign-ins: wait a few minutes and try again.")
		return
	}
	u, ok := c.users[name]
	hash := dummyHash()
	if ok {
		hash = u.Hash
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil || !ok || len(password) > 72 {
		c.limit.fail("addr:" + addr)
		c.limit.fail("user:" + name)
		c.log.Info("console: sign-in refused", "user", name, "addr", addr)
		fail(http.StatusUnauthorized, errBadLogin.Error()+".")
		return
	}
	id, _ := c.sessions.create(u.Name, u.Role)
	c.setSessionCookie(w, r, id, int(c.sessions.ttl.Seconds()))
	c.log.Info("console: signed in", "user", u.Name, "role", u.Role.String())
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		c.sessions.drop(ck.Value)
	}
	c.setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a post-login redirect on this site: a path, never
// "//host" or a URL.
func safeNext(s string) string {
	if s == "" || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n") {
		return "/"
	}
	return s
}
