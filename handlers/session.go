package handlers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/recontact/recontact"
)

// Browser sessions. The cookie is "nonce.expiry.mac", signed with a key
// derived from the admin token: it carries no secret, needs no table, works
// on every instance, and rotating ADMIN_TOKEN signs everybody out. The CSRF
// token is a second MAC over the nonce, so it is per session and stateless.

const (
	sessionCookie = "recontact_session"
	sessionTTL    = 12 * time.Hour
	csrfField     = "csrf"         // form field
	csrfHeader    = "X-CSRF-Token" // header, for scripts using the cookie
	ctxSession    = "recontact.session"
)

type session struct {
	nonce   string
	expires time.Time
	csrf    string
}

// sessionState remembers sessions signed out on this instance until they
// would have expired anyway, so a copied cookie stops working at sign-out.
type sessionState struct {
	mu      sync.Mutex
	revoked map[string]time.Time
}

func (st *sessionState) revoke(nonce string, until, now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.revoked == nil {
		st.revoked = map[string]time.Time{}
	}
	for n, t := range st.revoked {
		if now.After(t) {
			delete(st.revoked, n)
		}
	}
	st.revoked[nonce] = until
}

func (st *sessionState) isRevoked(nonce string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	_, ok := st.revoked[nonce]
	return ok
}

func (h *Handler) sessionMAC(parts ...string) string {
	key := sha256.Sum256([]byte("recontact session v1\x00" + h.AdminToken))
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (h *Handler) newSession() session {
	var b [18]byte
	_, _ = rand.Read(b[:])
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	exp := h.Now().Add(sessionTTL).Truncate(time.Second)
	return session{nonce: nonce, expires: exp, csrf: h.sessionMAC("csrf", nonce)}
}

func (h *Handler) cookieValue(s session) string {
	exp := strconv.FormatInt(s.expires.Unix(), 10)
	return s.nonce + "." + exp + "." + h.sessionMAC("session", s.nonce, exp)
}

// readSession returns the request's valid session, if any.
func (h *Handler) readSession(r *http.Request) (session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || h.AdminToken == "" {
		return session{}, false
	}
	nonce, rest, ok1 := strings.Cut(ck.Value, ".")
	exp, mac, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 {
		return session{}, false
	}
	want := h.sessionMAC("session", nonce, exp)
	if subtle.ConstantTimeCompare([]byte(mac), []byte(want)) != 1 {
		return session{}, false
	}
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !h.Now().Before(time.Unix(sec, 0)) || h.sess.isRevoked(nonce) {
		return session{}, false
	}
	return session{nonce: nonce, expires: time.Unix(sec, 0), csrf: h.sessionMAC("csrf", nonce)}, true
}

// csrfOK checks the token a cookie-authenticated change must carry. SameSite
// already keeps other sites' forms from sending the cookie; this covers
// browsers and proxies where it does not.
func csrfOK(r *http.Request, s session) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		got = r.PostFormValue(csrfField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// authorize accepts the bearer token, or a valid session cookie with the
// CSRF token on anything but GET and HEAD. A refusal is an error for fail:
// 401 without credentials, 403 for a session request lacking the CSRF token.
func (h *Handler) authorize(c *gin.Context) error {
	if h.AdminToken == "" {
		return recontact.Errorf(recontact.EUnauthorized, "admin access is not configured")
	}
	if tok := bearer(c.Request); tok != "" {
		if h.tokenOK(tok) {
			return nil
		}
		return recontact.Errorf(recontact.EUnauthorized, "missing or wrong admin token (Authorization: Bearer …)")
	}
	s, ok := h.readSession(c.Request)
	if !ok {
		return recontact.Errorf(recontact.EUnauthorized, "missing or wrong admin token (Authorization: Bearer …) or session")
	}
	if !safeMethod(c.Request.Method) && !csrfOK(c.Request, s) {
		return errCSRF
	}
	c.Set(ctxSession, s)
	return nil
}

var errCSRF = recontact.Errorf(recontact.EUnauthorized, "missing or wrong CSRF token ("+csrfHeader+" header or "+csrfField+" form field)")

// deny answers a refused authorize: a CSRF failure is 403 (the caller is
// signed in but the request is not one of ours), everything else fail's 401.
func (h *Handler) deny(c *gin.Context, err error) {
	if err == errCSRF {
		c.Set(ctxErrorCode, "forbidden")
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": recontact.ErrorMessage(err)})
		return
	}
	h.fail(c, err)
}

// requirePage guards HTML pages: without a session the browser is sent to
// the sign-in form, which brings it back afterwards.
func (h *Handler) requirePage(c *gin.Context) {
	err := h.authorize(c)
	switch {
	case err == nil:
		c.Next()
	case safeMethod(c.Request.Method):
		c.Redirect(http.StatusSeeOther, "/signin?next="+url.QueryEscape(c.Request.URL.RequestURI()))
		c.Abort()
	default:
		h.deny(c, err)
	}
}

func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (h *Handler) setSessionCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		Secure: secureRequest(c.Request), HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// localPath keeps the after-sign-in redirect on this site ("//evil" and
// "/\evil" are other hosts to a browser).
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, `/\`) {
		return "/"
	}
	return p
}

type signinPage struct {
	Next, Error string
}

func (h *Handler) signinForm(c *gin.Context) {
	if _, ok := h.readSession(c.Request); ok {
		c.Redirect(http.StatusSeeOther, localPath(c.Query("next")))
		return
	}
	h.render(c, http.StatusOK, "signin.html", signinPage{Next: localPath(c.Query("next"))})
}

// signin checks the posted admin token; the token travels only in the POST
// body, never in a URL.
func (h *Handler) signin(c *gin.Context) {
	next := localPath(c.PostForm("next"))
	if h.AdminToken == "" || !h.tokenOK(c.PostForm("token")) {
		// A wrong guess costs the guesser a second.
		select {
		case <-time.After(time.Second):
		case <-c.Request.Context().Done():
		}
		h.render(c, http.StatusUnauthorized, "signin.html", signinPage{Next: next, Error: "That is not the admin token."})
		return
	}
	s := h.newSession()
	h.setSessionCookie(c, h.cookieValue(s), int(sessionTTL/time.Second))
	c.Redirect(http.StatusSeeOther, next)
}

func (h *Handler) signout(c *gin.Context) {
	if v, ok := c.Get(ctxSession); ok {
		s := v.(session)
		h.sess.revoke(s.nonce, s.expires, h.Now())
	}
	h.setSessionCookie(c, "", -1)
	c.Redirect(http.StatusSeeOther, "/signin")
}
