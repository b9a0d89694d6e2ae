// Package console is the operator console at /admin: server-rendered
// pages, in the status page's style and stylesheet, for on-call engineers
// in a browser. It runs no script: every action is a form that posts, and
// goes through the same calls as the admin API (incidents/admin), with
// the signed-in operator as its "by".
//
// Security. An operator signs in with the admin token (server.admin_token)
// and a name, recorded as who did each action. The token is compared in
// constant time and never written back into a page, a URL or a log. A
// session is a random cookie value (HttpOnly, SameSite=Strict, Secure when
// served over https, Path=/admin) whose SHA-256 is its row in the
// database (storage: console_sessions), so every replica honours it and
// signing out ends it on all of them; it ends after Options.Idle without a
// request, and after Options.Lifetime whatever. Every form carries the
// session's CSRF token (the sign-in form, before a session, a token also
// set as a cookie); a form without it, or with another, is answered 403
// and changes nothing. Sign-in attempts are rate limited per client.
// Every action tried, sign-in and sign-out included, whether it succeeded
// or was refused, is written to the audit log (who, what, when, from
// where, how it ended), shown at /admin/audit and, for an incident, on its
// page; bad input in a form is refused before anything is tried, and is
// not an action.
//
// Adding a page (incidents.go and assets/incident.html are a full
// example; audit.go a small one):
//
//  1. Its template: assets/NAME.html, defining "content" (every file of
//     assets/ but layout.html is a page; the layout wraps it: head,
//     navigation, sign-out, the notice and the error). It reads a view:
//     .Data is what the handler passed, .Session the operator's session,
//     .Error and .Notice the messages. Every form that changes something
//     posts (method="post") and carries {{template "csrf" $}}; layout.html
//     also holds the partials pages share ("audit-table").
//  2. Its handlers, methods of *Console in NAME.go, of type handler:
//     func(w http.ResponseWriter, r *http.Request, s session). A page
//     renders with c.render(w, r, s, status, "NAME.html", title, data).
//     An action (a POST) finds its session checked, its CSRF token checked
//     and its form parsed (r.PostForm); it calls the admin API
//     (c.opts.Admin: the same call its JSON handler makes, with
//     s.Operator as "by"), and records what it did with c.audit(r, s,
//     entry, err), refused or not. Bad input (admin.BadInput) or a refusal
//     (linkwatch.ErrConflict) renders the form again with
//     c.renderError(w, r, s, 400 or 409, "NAME.html", title, data, msg),
//     data holding what was typed; nothing changed. Done, it answers
//     c.done(w, r, path, key): a 303 to the page, which shows notices[key]
//     (add its text there).
//  3. Its routes, in Register: c.page(s, "/path", h) for a page, and
//     c.action(s, "/path", h) for an action; its place in nav, if it has one.
package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"linkwatch"
	"linkwatch/hub"
	"linkwatch/hub/middleware"
	"linkwatch/incidents/admin"
)

// Path is where the console is served.
const Path = "/admin"

// Store is what the console keeps in the database: its sessions and its
// audit log.
type Store interface {
	CreateSession(ctx context.Context, s linkwatch.ConsoleSession) error
	Session(ctx context.Context, id string) (linkwatch.ConsoleSession, error)
	TouchSession(ctx context.Context, s linkwatch.ConsoleSession) error
	EndSession(ctx context.Context, id string) error
	Audit(ctx context.Context, e linkwatch.AuditEntry) (linkwatch.AuditEntry, error)
	AuditLog(ctx context.Context, q linkwatch.AuditQuery) ([]linkwatch.AuditEntry, error)
}

// Defaults of Options.
const (
	DefaultIdle     = 30 * time.Minute
	DefaultLifetime = 12 * time.Hour
)

// Options configure the console.
type Options struct {
	// Admin is the admin API, whose calls the console's actions make, as
	// its own handlers do.
	Admin *admin.API
	// Pages lists the configured pages' slugs (the incidents' filter);
	// nil: none offered.
	Pages func() []string
	// Replicas reads the live replicas of every region (PostgreSQL); nil:
	// one process (SQLite).
	Replicas ReplicaReader
	// Tester sends a marked test alert through a configured channel, from
	// the channels page (nil: no "send test").
	Tester ChannelTester
	// Clicks reads the clicks counted per link (nil: no clicks page).
	Clicks hub.ClickReader
	// Token is the admin token, which signs an operator in; empty turns the
	// console off (every page says how to turn it on).
	Token string
	// Secure marks the cookies Secure: the console is served over https
	// (the public URL is https, behind a proxy that ends TLS). A request
	// that arrives over TLS gets Secure cookies whatever it says.
	Secure bool
	// Idle and Lifetime end a session: Idle after its last request,
	// Lifetime after it began (defaults DefaultIdle, DefaultLifetime).
	Idle, Lifetime time.Duration
	// SignIns limits sign-in attempts per client (nil: none).
	SignIns *middleware.RateLimiter
	// Trusted are the reverse proxies whose X-Forwarded-For names the
	// client (middleware.ClientIP).
	Trusted []netip.Prefix
	// Unavailable, when set, is why the console cannot work yet (serve has
	// not reached its database): every page answers 503 saying so.
	Unavailable string
	// Now is the clock of session expiry: the database's, so replicas
	// agree (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// Console serves the operator console.
type Console struct {
	store Store
	opts  Options
	token []byte
}

// New returns the console over store.
func New(store Store, opts Options) *Console {
	if opts.Idle <= 0 {
		opts.Idle = DefaultIdle
	}
	if opts.Lifetime <= 0 {
		opts.Lifetime = DefaultLifetime
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Console{store: store, opts: opts, token: []byte(opts.Token)}
}

// Register adds the console's routes under Path to r.
func (c *Console) Register(r *mux.Router) {
	r.Handle(Path, c.guard(http.HandlerFunc(c.home)))
	s := r.PathPrefix(Path + "/").Subrouter()
	s.Use(c.guard)
	s.HandleFunc("/", c.home)
	s.HandleFunc("/static/console.css", serveCSS).Methods(http.MethodGet, http.MethodHead)
	s.HandleFunc("/signin", c.signInPage).Methods(http.MethodGet, http.MethodHead)
	s.HandleFunc("/signin", c.signIn).Methods(http.MethodPost)
	c.action(s, "/signout", c.signOut)
	c.page(s, "/incidents", c.incidentsPage)
	c.page(s, "/incidents/{id:[0-9]+}", c.incidentPage)
	c.action(s, "/incidents/{id:[0-9]+}/ack", c.acknowledge)
	c.action(s, "/incidents/{id:[0-9]+}/update", c.postUpdate)
	c.action(s, "/incidents/{id:[0-9]+}/resolve", c.resolve)
	c.action(s, "/incidents/{id:[0-9]+}/postmortem", c.postmortem)
	c.page(s, "/audit", c.auditPage)
	c.page(s, "/maintenance", c.maintenancePage)
	c.action(s, "/maintenance", c.createMaintenance)
	c.action(s, "/maintenance/recurring", c.createRecurring)
	c.action(s, "/maintenance/{id}/delete", c.deleteMaintenance)
	c.action(s, "/maintenance/recurring/{id}/delete", c.deleteRecurring)
	c.page(s, "/channels", c.channelsPage)
	c.action(s, "/channels", c.setChannel)
	c.action(s, "/channels/test", c.sendTest)
	c.page(s, "/subscriptions", c.subscriptionsPage)
	c.action(s, "/subscriptions", c.createSubscription)
	c.page(s, "/subscriptions/{id:[0-9]+}", c.subscriptionPage)
	c.action(s, "/subscriptions/{id:[0-9]+}/pause", c.pauseSubscription)
	c.action(s, "/subscriptions/{id:[0-9]+}/rotate", c.rotateSecret)
	c.action(s, "/subscriptions/{id:[0-9]+}/delete", c.deleteSubscription)
	c.action(s, "/subscriptions/{id:[0-9]+}/replay", c.replay)
	c.action(s, "/subscriptions/{id:[0-9]+}/redeliver", c.redeliver)
	c.page(s, "/clicks", c.clicksPage)
	c.page(s, "/replicas", c.replicasPage)
	// Every other path under the console: its own 404, not the hub's.
	s.PathPrefix("/").HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, session{}, http.StatusNotFound, "message.html", "Not found", "There is no console page at "+r.URL.Path+".")
	})
}

// nav is the console's navigation: a section's path and name.
var nav = []struct{ Path, Name string }{
	{Path + "/incidents", "Incidents"},
	{Path + "/maintenance", "Maintenance"},
	{Path + "/channels", "Channels"},
	{Path + "/subscriptions", "Subscriptions"},
	{Path + "/clicks", "Clicks"},
	{Path + "/replicas", "Replicas"},
	{Path + "/audit", "Audit log"},
}

// notices are the messages an action's redirect names (c.done): fixed
// texts, so a link cannot make the console say what it never did.
var notices = map[string]string{
	"signedout":            "You are signed out.",
	"acknowledged":         "Acknowledged: every channel is told you are on it.",
	"updated":              "Update posted: visitors see it on the status page now; every channel is told once the alerts' group interval has passed, with any update posted within it.",
	"noted":                "Internal note added to the timeline: visitors do not see it, and no channel is told.",
	"resolved":             "Resolved: the note is the last public update, and every channel is told.",
	"drafted":              "Postmortem saved as a draft: visitors do not see it.",
	"published":            "Postmortem published: visitors see it on the status page.",
	"maintenance-created":  "The maintenance window is scheduled.",
	"maintenance-deleted":  "The maintenance window is removed.",
	"recurring-created":    "The recurring maintenance window is scheduled.",
	"channel-enabled":      "The channel is back on: it gets the alerts made from now on.",
	"channel-disabled":     "The channel is off: it gets no alerts until it is switched back on.",
	"recurring-deleted":    "The recurring maintenance window and all its occurrences are removed.",
	"subscription-paused":  "The subscription is paused: nothing is sent to it until it is resumed.",
	"subscription-resumed": "The subscription is resumed: it gets the alerts made from now on.",
	"subscription-deleted": "The subscription is deleted: nothing more is sent to it.",
	"replayed":             "Replay queued: the matching alerts are sent again, in order.",
	"replayed-more":        "Replay queued, but more alerts matched than one replay sends: replay again from the time the audit log names to send the rest.",
	"redelivered":          "The delivery is queued again: it is sent with the same webhook-id and a new signature.",
}

// home sends the operator to the first section.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path && r.URL.Path != Path+"/" {
		http.NotFound(w, r)
		return
	}
	http.Redirect(w, r, nav[0].Path, http.StatusSeeOther)
}

// guard answers for the whole console: off without a token, 503 before
// the database is reached, and never cached.
func (c *Console) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch {
		case len(c.token) == 0:
			c.render(w, r, session{}, http.StatusNotFound, "message.html", "The console is off",
				"The operator console is off: set server.admin_token to turn it on.")
		case c.opts.Unavailable != "":
			w.Header().Set("Retry-After", "5")
			c.render(w, r, session{}, http.StatusServiceUnavailable, "message.html", "Not available yet", c.opts.Unavailable)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// session is a signed-in operator's request: the session, and the
// client it came from.
type session struct {
	linkwatch.ConsoleSession
	client string
}

// handler serves a signed-in operator's request.
type handler func(w http.ResponseWriter, r *http.Request, s session)

// page registers a page: GET or HEAD, for a signed-in operator; anyone
// else is sent to sign in.
func (c *Console) page(r *mux.Router, path string, h handler) {
	r.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.current(r)
		switch {
		case errors.Is(err, errSignedOut):
			http.Redirect(w, r, Path+"/signin", http.StatusSeeOther)
		case err != nil:
			c.fail(w, r, session{}, err)
		default:
			h(w, r, s)
		}
	})).Methods(http.MethodGet, http.MethodHead)
}

// maxForm bounds a form's body: notes are text, not uploads.
const maxForm = 64 << 10

// action registers an action: a POST of a form, by a signed-in operator,
// with the session's CSRF token. Without a session, or without the token
// or with another, it is 403 and h is not run: nothing changes.
func (c *Console) action(r *mux.Router, path string, h handler) {
	r.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			c.render(w, r, session{}, http.StatusBadRequest, "message.html", "Bad request", "The form could not be read.")
			return
		}
		s, err := c.current(r)
		switch {
		case errors.Is(err, errSignedOut):
			c.render(w, r, session{}, http.StatusForbidden, "message.html", "Signed out",
				"Your session has ended, so nothing was changed. Sign in again, then try once more.")
			return
		case err != nil:
			c.fail(w, r, session{}, err)
			return
		}
		if !sameToken(r.PostForm.Get("csrf"), s.CSRF) {
			c.render(w, r, s, http.StatusForbidden, "message.html", "Refused",
				"This form did not come from your console session (its CSRF token is missing or wrong), so nothing was changed.")
			return
		}
		h(w, r, s)
	})).Methods(http.MethodPost)
}

// sameToken compares a token from a request with the expected one in
// constant time; an empty one matches nothing.
func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// done ends an action: a 303 to path, which shows notices[notice].
func (c *Console) done(w http.ResponseWriter, r *http.Request, path, notice string) {
	if notice != "" {
		path += "?done=" + url.QueryEscape(notice)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// audit records an action of s (err: how it failed, nil: it succeeded).
// The action is done by then: a failure to record it is logged, and the
// operator is not told the action failed.
func (c *Console) audit(r *http.Request, s session, e linkwatch.AuditEntry, err error) {
	e.Actor, e.Client = s.Operator, s.client
	c.record(r, e, err)
}

// record writes e to the audit log, with the outcome err says.
func (c *Console) record(r *http.Request, e linkwatch.AuditEntry, err error) {
	e.Outcome = "ok"
	if err != nil {
		e.Outcome = outcome(err)
	}
	if _, werr := c.store.Audit(context.WithoutCancel(r.Context()), e); werr != nil {
		c.opts.Log.ErrorContext(r.Context(), "console: record an action in the audit log", "action", e.Action, "actor", e.Actor, "err", werr)
	}
}

// outcome says in the audit log how an action failed.
func outcome(err error) string {
	switch {
	case errors.Is(err, linkwatch.ErrConflict):
		return "refused: " + strings.TrimSuffix(err.Error(), ": "+linkwatch.ErrConflict.Error())
	case errors.Is(err, linkwatch.ErrNotFound):
		return "refused: " + err.Error()
	}
	return "failed: " + err.Error()
}

// view is what every template renders.
type view struct {
	Title   string
	Session *linkwatch.ConsoleSession // nil when signed out
	CSRF    string                    // the token the page's forms carry
	Nav     []struct{ Path, Name string }
	Current string // the path of the section shown
	Notice  string
	Error   string
	Data    any
}

// render writes the page name (assets/name) with title and data, for s
// (the zero session: signed out), with the notice its URL names.
func (c *Console) render(w http.ResponseWriter, r *http.Request, s session, status int, name, title string, data any) {
	c.write(w, r, s, status, name, view{Title: title, Notice: notices[r.URL.Query().Get("done")], Data: data})
}

// renderError writes the page name again with the error msg above its
// form: bad input (status 400), or an action refused (409); data holds
// what was typed, so nothing is lost.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, s session, status int, name, title string, data any, msg string) {
	c.write(w, r, s, status, name, view{Title: title, Error: msg, Data: data})
}

func (c *Console) write(w http.ResponseWriter, r *http.Request, s session, status int, name string, v view) {
	v.Nav = nav
	if s.ID != "" {
		v.Session, v.CSRF = &s.ConsoleSession, s.CSRF
	}
	for _, n := range nav {
		if r.URL.Path == n.Path || strings.HasPrefix(r.URL.Path, n.Path+"/") {
			v.Current = n.Path
		}
	}
	t, ok := pages[name]
	if !ok {
		panic("console: no template " + name)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		c.opts.Log.ErrorContext(r.Context(), "console: render", "page", name, "err", err)
		http.Error(w, "the console could not show this page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, b.String())
	}
}

// fail answers an error the operator cannot fix by changing a form (the
// database is out of reach): 503, logged with the cause, not shown.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s session, err error) {
	c.opts.Log.ErrorContext(r.Context(), "console", "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "5")
	c.render(w, r, s, http.StatusServiceUnavailable, "message.html", "Not available",
		"The console cannot read or write its database right now; nothing was changed. Try again in a moment.")
}

//go:embed assets
var assets embed.FS

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 Jan 2006 15:04:05 UTC")
	},
	"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"covers":      covers,
	"filterWords": filterWords,
	// labelled passes a sub-template v with the id of what labels it.
	"labelled": func(by string, v any) struct {
		By string
		V  any
	} {
		return struct {
			By string
			V  any
		}{by, v}
	},
	// result is a piece of evidence that is a check's result, or nil.
	"result": func(v any) *linkwatch.Result {
		if r, ok := v.(linkwatch.Result); ok {
			return &r
		}
		return nil
	},
}

// pages are the templates, each page's own with the layout, by file name.
var pages = func() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/layout.html"))
	names, err := fs.Glob(assets, "assets/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		if path.Base(n) == "layout.html" {
			continue
		}
		out[path.Base(n)] = template.Must(template.Must(layout.Clone()).ParseFS(assets, n))
	}
	return out
}()

var consoleCSS, _ = fs.ReadFile(assets, "assets/console.css")

func serveCSS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	if r.Method != http.MethodHead {
		_, _ = w.Write(consoleCSS)
	}
}

// hashID is a session's id in the database: the SHA-256 of its cookie's
// value, so the table gives no one a session.
func hashID(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}
