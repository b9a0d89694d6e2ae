package console

import (
	"crypto/rand"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"linkwatch"
	"linkwatch/hub/middleware"
)

const (
	// sessionCookie holds a session's value (its id's preimage).
	sessionCookie = "linkwatch_console"
	// signInCookie holds the sign-in form's CSRF token, before a session.
	signInCookie = "linkwatch_console_signin"
	// maxName bounds an operator's name.
	maxName = 100
)

// signInForm is what the sign-in page shows: the name typed (never the
// token) and the form's CSRF token.
type signInForm struct {
	Name, CSRF string
}

// signInPage shows the sign-in form, or sends a signed-in operator on.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if _, err := c.current(r); err == nil {
		http.Redirect(w, r, nav[0].Path, http.StatusSeeOther)
		return
	}
	c.render(w, r, session{}, http.StatusOK, "signin.html", "Sign in", signInForm{CSRF: c.signInToken(w, r)})
}

// signInToken returns the sign-in form's CSRF token: the one its cookie
// holds, or a new one set as the cookie. A forged form from another site
// cannot know it, and cannot read or set the cookie.
func (c *Console) signInToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(signInCookie); err == nil && len(ck.Value) >= 26 {
		return ck.Value
	}
	v := rand.Text()
	http.SetCookie(w, c.cookie(r, signInCookie, v, Path+"/signin", 3600))
	return v
}

// signIn checks a sign-in: rate limited per client, then the form's CSRF
// token, the name, and the admin token. Every attempt that gets that far
// is written to the audit log; the token typed never is.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	client := middleware.ClientIP(r, c.opts.Trusted)
	if l := c.opts.SignIns; l != nil {
		if ok, wait := l.Allow(l.Client(client)); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			c.render(w, r, session{}, http.StatusTooManyRequests, "message.html", "Too many attempts",
				"Too many sign-in attempts from your address. Wait a minute, then try again.")
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.render(w, r, session{}, http.StatusBadRequest, "message.html", "Bad request", "The form could not be read.")
		return
	}
	ck, err := r.Cookie(signInCookie)
	if err != nil || !sameToken(r.PostForm.Get("csrf"), ck.Value) {
		c.render(w, r, session{}, http.StatusForbidden, "message.html", "Refused",
			"This sign-in form did not come from this console (its CSRF token is missing or wrong). Open the sign-in page and try again.")
		return
	}
	form := signInForm{Name: strings.TrimSpace(r.PostForm.Get("name")), CSRF: ck.Value}
	if msg := checkName(form.Name); msg != "" {
		c.renderError(w, r, session{}, http.StatusBadRequest, "signin.html", "Sign in", form, msg)
		return
	}
	entry := linkwatch.AuditEntry{Actor: form.Name, Action: "signin", Client: client}
	if !sameToken(r.PostForm.Get("token"), string(c.token)) {
		c.record(r, entry, errors.New("wrong admin token"))
		c.renderError(w, r, session{}, http.StatusUnauthorized, "signin.html", "Sign in", form,
			"That is not the admin token. Check server.admin_token, and try again.")
		return
	}
	value := rand.Text() + rand.Text() // 260 bits
	now := c.opts.Now().UTC()
	s := linkwatch.ConsoleSession{ID: hashID(value), Operator: form.Name, CSRF: rand.Text(), Client: client,
		CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(c.opts.Lifetime)}
	if err := c.store.CreateSession(r.Context(), s); err != nil {
		c.fail(w, r, session{}, err)
		return
	}
	c.record(r, entry, nil)
	http.SetCookie(w, c.cookie(r, signInCookie, "", Path+"/signin", -1))
	http.SetCookie(w, c.cookie(r, sessionCookie, value, Path, 0))
	http.Redirect(w, r, nav[0].Path, http.StatusSeeOther)
}

// checkName says what is wrong with an operator's name, or "".
func checkName(name string) string {
	switch {
	case name == "":
		return "Your name is required: it is recorded with everything you do here."
	case len(name) > maxName:
		return "Your name must be at most " + strconv.Itoa(maxName) + " bytes."
	case strings.ContainsFunc(name, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == unicode.ReplacementChar
	}):
		return "Your name must be one line of text, without control characters."
	}
	return ""
}

// signOut ends the session everywhere: its row is deleted, so no replica
// honours the cookie again.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s session) {
	err := c.store.EndSession(r.Context(), s.ID)
	c.audit(r, s, linkwatch.AuditEntry{Action: "signout"}, err)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.SetCookie(w, c.cookie(r, sessionCookie, "", Path, -1))
	c.done(w, r, Path+"/signin", "signedout")
}

// cookie is one of the console's cookies: HttpOnly, SameSite=Strict,
// Secure over https; maxAge 0 lasts as long as the browser (the session's
// expiry is the database's), -1 deletes it.
func (c *Console) cookie(r *http.Request, name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.opts.Secure || r.TLS != nil}
}

// errSignedOut is a request without a live session: no cookie, or one
// whose session was signed out, expired or never existed.
var errSignedOut = errors.New("not signed in")

// current returns the session of a request, or errSignedOut, or the
// database's error. A session past its idle or absolute expiry is ended
// (deleted) here; a live one is marked seen, at most every touchEvery,
// so the idle expiry counts from its last request (give or take that).
func (c *Console) current(r *http.Request) (session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return session{}, errSignedOut
	}
	ctx := r.Context()
	st, err := c.store.Session(ctx, hashID(ck.Value))
	switch {
	case errors.Is(err, linkwatch.ErrNotFound):
		return session{}, errSignedOut
	case err != nil:
		return session{}, err
	}
	now := c.opts.Now().UTC()
	if !now.Before(st.ExpiresAt) || now.Sub(st.SeenAt) >= c.opts.Idle {
		if err := c.store.EndSession(ctx, st.ID); err != nil {
			c.opts.Log.WarnContext(ctx, "console: end an expired session", "err", err)
		}
		return session{}, errSignedOut
	}
	if now.Sub(st.SeenAt) >= min(time.Minute, c.opts.Idle/10) {
		st.SeenAt = now
		switch err := c.store.TouchSession(ctx, st); {
		case errors.Is(err, linkwatch.ErrNotFound): // signed out meanwhile
			return session{}, errSignedOut
		case err != nil:
			return session{}, err
		}
	}
	return session{ConsoleSession: st, client: middleware.ClientIP(r, c.opts.Trusted)}, nil
}

// Sign-in attempts a client may make: signInBurst at once, then one every
// signInEvery.
const (
	signInBurst = 5
	signInEvery = 12 * time.Second
)

// NewSignInLimiter returns the rate limit of sign-in attempts per client
// (Options.SignIns): five at once, then one every 12 seconds. A client is
// an IPv4 address, or its IPv6 network of ipv6Prefix bits.
func NewSignInLimiter(ipv6Prefix int) *middleware.RateLimiter {
	return middleware.NewRateLimiter(1/signInEvery.Seconds(), signInBurst, ipv6Prefix)
}
