// Package admin is the admin API under /api/admin/, for on-call engineers:
// incidents (acknowledge, updates, resolve by hand, postmortems),
// maintenance windows, the delivery log and the alert channels.
package admin

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"linkwatch"

	"github.com/gorilla/mux"
)

// Store is what the admin API needs from storage.
type Store interface {
	ListIncidents(ctx context.Context, q linkwatch.IncidentQuery) ([]linkwatch.Incident, error)
	Incident(ctx context.Context, id int64) (linkwatch.Incident, error)
	IncidentEvents(ctx context.Context, id int64) ([]linkwatch.Event, error)
	IncidentUpdates(ctx context.Context, id int64) ([]linkwatch.Update, error)
	IncidentEvidence(ctx context.Context, id int64) ([]json.RawMessage, error)
	EditPostmortem(ctx context.Context, id int64, pm linkwatch.Postmortem) (linkwatch.Incident, error)
	CreateMaintenance(ctx context.Context, m linkwatch.Maintenance) (linkwatch.Maintenance, error)
	ListMaintenance(ctx context.Context, since time.Time) ([]linkwatch.Maintenance, error)
	DeleteMaintenance(ctx context.Context, id int64) error
	CreateRecurringMaintenance(ctx context.Context, r linkwatch.RecurringMaintenance) (linkwatch.RecurringMaintenance, error)
	ListRecurringMaintenance(ctx context.Context) ([]linkwatch.RecurringMaintenance, error)
	DeleteRecurringMaintenance(ctx context.Context, id int64) error
	ChannelStates(ctx context.Context, names []string) ([]linkwatch.ChannelState, error)
	EnableChannel(ctx context.Context, name string) error
	DisableChannel(ctx context.Context, name, reason string) error
	SubscriptionStore
	EmailSubscriberStore
}

// Operator is what an on-call engineer asks of the incident engine: to
// acknowledge an incident, resolve an open one by hand, post a public
// update or an internal note. The engine owns open incidents and makes
// every alert, so the admin API asks it rather than writing to the store.
type Operator interface {
	Acknowledge(ctx context.Context, id int64, by string) (linkwatch.Incident, error)
	Resolve(ctx context.Context, id int64, by, note string) (linkwatch.Incident, error)
	PostUpdate(ctx context.Context, id int64, by string, status linkwatch.IncidentStatus, body string) (linkwatch.Update, error)
	Note(ctx context.Context, id int64, by, body string) (linkwatch.Event, error)
}

// Options configure the admin API.
type Options struct {
	// Token is the bearer token; empty turns the API off: every request is
	// refused, never let through.
	Token    string
	Operator Operator // nil: no acknowledgements, updates nor resolutions by hand
	Channels []string // the configured alert channels, by name
	// Extra are more GET endpoints under /api/admin/, by path below it
	// ("/clicks"), behind the same token: another package's reports.
	Extra map[string]http.Handler
	// Catalog says which pages and links are configured, so a maintenance
	// window or a subscription's filters cannot name one that does not
	// exist (and would mute or send nothing); nil accepts any.
	Catalog linkwatch.Catalog
	// CheckURL checks a subscription's URL when it is made: a valid
	// http(s) URL the SSRF guard allows. nil: subscriptions cannot be made.
	CheckURL func(ctx context.Context, rawURL string) error
	// NewSecret makes a subscription's signing secret (whsec_...).
	NewSecret func() string
	// Now is the clock of maintenance windows and replays (default
	// time.Now).
	Now func() time.Time
	// Unavailable, when set, is why the API cannot answer yet (serve has
	// not reached its database, or not migrated it): every admin endpoint
	// answers 503 saying so, once the token is checked, rather than a
	// store error that names a missing table.
	Unavailable string
	Log         *slog.Logger
}

// maxAdminBody bounds request bodies: notes are text, not uploads.
const maxAdminBody = 64 << 10

// API is the admin API under /api/admin/, for on-call engineers.
type API struct {
	store     Store
	token     []byte
	operator  Operator
	channels  []string
	extra     map[string]http.Handler
	catalog   linkwatch.Catalog
	checkURL  func(context.Context, string) error
	newSecret func() string
	log       *slog.Logger
	now       func() time.Time
	// unavailable: see Options.Unavailable.
	unavailable string
}

// New returns the admin API.
func New(store Store, opts Options) *API {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &API{store: store, token: []byte(opts.Token), operator: opts.Operator, channels: opts.Channels,
		extra: opts.Extra, catalog: opts.Catalog, checkURL: opts.CheckURL, newSecret: opts.NewSecret, log: opts.Log, now: opts.Now,
		unavailable: opts.Unavailable}
}

// Register adds the admin routes to r.
func (a *API) Register(r *mux.Router) {
	s := r.PathPrefix("/api/admin").Subrouter()
	s.Use(a.authenticate)
	if a.unavailable != "" {
		s.Use(func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "5")
				writeError(w, http.StatusServiceUnavailable, "", a.unavailable)
			})
		})
	}
	s.Handle("/incidents", methods{http.MethodGet: a.listIncidents})
	s.Handle("/incidents/{id}", methods{http.MethodGet: a.showIncident})
	s.Handle("/incidents/{id}/ack", methods{http.MethodPost: a.acknowledge})
	s.Handle("/incidents/{id}/updates", methods{http.MethodPost: a.postUpdate})
	s.Handle("/incidents/{id}/postmortem", methods{http.MethodPut: a.editPostmortem})
	s.Handle("/incidents/{id}/resolve", methods{http.MethodPost: a.resolve})
	s.Handle("/maintenance", methods{http.MethodGet: a.listMaintenance, http.MethodPost: a.createMaintenance})
	s.Handle("/maintenance/recurring", methods{http.MethodGet: a.listRecurring, http.MethodPost: a.createRecurring})
	s.Handle("/maintenance/recurring/{id}", methods{http.MethodDelete: a.noBody(a.deleteRecurring)})
	s.Handle("/maintenance/{id}", methods{http.MethodDelete: a.noBody(a.deleteMaintenance)})
	s.Handle("/deliveries", methods{http.MethodGet: a.listDeliveries})
	s.Handle("/deliveries/{id}/redeliver", methods{http.MethodPost: a.noBody(a.redeliver)})
	s.Handle("/subscriptions", methods{http.MethodGet: a.listSubscriptions, http.MethodPost: a.createSubscription})
	s.Handle("/subscriptions/{id}", methods{http.MethodGet: a.showSubscription, http.MethodPatch: a.patchSubscription,
		http.MethodDelete: a.noBody(a.deleteSubscription)})
	s.Handle("/subscriptions/{id}/rotate", methods{http.MethodPost: a.noBody(a.rotateSecret)})
	s.Handle("/subscriptions/{id}/verify", methods{http.MethodPost: a.noBody(a.verify)})
	s.Handle("/subscriptions/{id}/replay", methods{http.MethodPost: a.noBody(a.replay)})
	s.Handle("/email-subscribers", methods{http.MethodGet: a.exportEmailSubscribers})
	s.Handle("/email-subscribers/counts", methods{http.MethodGet: a.emailSubscriberCounts})
	s.Handle("/email-subscribers/{id}", methods{http.MethodDelete: a.noBody(a.deleteEmailSubscriber)})
	s.Handle("/channels", methods{http.MethodGet: a.listChannels, http.MethodPost: a.setChannel})
	for path, h := range a.extra {
		s.Handle(path, methods{http.MethodGet: h.ServeHTTP})
	}
	// Every other path under the prefix, /api/admin itself included: an
	// API client gets JSON, never the hub's HTML 404.
	s.PathPrefix("").HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "no such admin endpoint")
	})
}

// methods dispatches on the request method and answers 405 with Allow
// otherwise (done here rather than with mux's Methods, whose 405 handling
// does not combine with a subrouter's catch-all).
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	allow := make([]string, 0, len(m))
	for k := range m {
		allow = append(allow, k)
	}
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, "", r.Method+" is not allowed here")
}

func (a *API) authenticate(next http.Handler) http.Handler {
	return a.Authenticate("the admin API", next)
}

// Authenticate lets through to next only the requests that bear the
// admin token: the admin API's own check, for an endpoint of another
// package behind the same token (/metrics). Without a token, what is
// named is off: 404, saying what turns it on.
func (a *API) Authenticate(what string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(a.token) == 0 {
			writeError(w, http.StatusNotFound, "", what+" is off: set server.admin_token to turn it on")
			return
		}
		got, ok := bearerToken(r.Header.Get("Authorization"))
		// Constant-time, so response timing does not reveal the token.
		if !ok || subtle.ConstantTimeCompare([]byte(got), a.token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="linkwatch admin"`)
			writeError(w, http.StatusUnauthorized, "", "a valid Authorization: Bearer token is required")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerToken returns the token of an Authorization header of the Bearer
// scheme. The scheme is compared without case (RFC 9110, section 11.1:
// "bearer" and "BEARER" are Bearer), and one or more spaces separate it
// from the token (RFC 6750, section 2.1). Every API under the admin
// prefix (the clicks and replicas APIs included) authenticates through it.
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	return token, token != ""
}

// fieldError is a 400 naming the offending field.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, field, msg string) {
	body := map[string]string{"error": msg}
	if field != "" {
		body["field"] = field
	}
	writeJSON(w, status, body)
}

// fail maps an error to its status: 400 for bad input, 404, 409, else 500
// (logged, with a generic message: internals are not for the client).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.field, fe.Error())
	case errors.Is(err, linkwatch.ErrNotFound):
		writeError(w, http.StatusNotFound, "", err.Error())
	case errors.Is(err, linkwatch.ErrConflict):
		writeError(w, http.StatusConflict, "", strings.TrimSuffix(err.Error(), ": "+linkwatch.ErrConflict.Error()))
	case errors.Is(err, ErrNoEngine), errors.Is(err, ErrNoSubscriptions):
		writeError(w, http.StatusServiceUnavailable, "", err.Error())
	default:
		a.log.ErrorContext(r.Context(), "admin API", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "", "internal error")
	}
}

func pathID(r *http.Request) (int64, error) {
	raw := mux.Vars(r)["id"]
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, &fieldError{"id", fmt.Sprintf("%q is not a positive integer id", raw)}
	}
	return id, nil
}

// decode reads a request body into v: the one reader of JSON bodies in
// the admin API, for every endpoint that takes one. The body must be a
// single JSON object (null, a list, a string, a number or a boolean is
// refused: null would decode into nothing, and a PUT of it would wipe
// what it replaces), with known fields only, nothing after it, at most
// maxAdminBody bytes, and Content-Type application/json if one is given.
// Every error is a 400 naming the field at fault, or "(body)".
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	raw, err := readBody(w, r)
	if err != nil {
		return err
	}
	return parseBody(raw, v)
}

// noBody wraps the handler of an endpoint that takes no body (a DELETE, an
// action named by its path): a request may send none, or an empty JSON
// object; any other body (null, a list, a field) is refused as decode
// refuses it, with a 400, before the action changes anything.
func (a *API) noBody(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, err := readBody(w, r)
		if err == nil && len(bytes.TrimLeft(raw, " \t\r\n")) > 0 {
			err = parseBody(raw, &struct{}{})
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		h(w, r)
	}
}

// readBody reads a request body of at most maxAdminBody bytes, whose
// Content-Type, if one is given, is application/json.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		// Parsed, not prefix-matched: APPLICATION/JSON is JSON, and
		// application/jsonx is not.
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, &fieldError{"(body)", "Content-Type must be application/json"}
		}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &fieldError{"(body)", fmt.Sprintf("larger than %d bytes", maxAdminBody)}
		}
		return nil, &fieldError{"(body)", "could not be read"}
	}
	return raw, nil
}

// parseBody decodes raw into v as decode says.
func parseBody(raw []byte, v any) error {
	switch start := bytes.TrimLeft(raw, " \t\r\n"); {
	case len(start) == 0:
		return &fieldError{"(body)", "a JSON object is required"}
	case start[0] != '{':
		return &fieldError{"(body)", "must be a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute) && ute.Field == "":
			return &fieldError{"(body)", "must be a JSON object"}
		case errors.As(err, &ute):
			return &fieldError{ute.Field, "must be " + jsonKind(ute.Type)}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return &fieldError{"(body)", "not valid JSON: it ends early"}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			if name == "" || strings.ContainsAny(name, " \t\r\n") {
				return &fieldError{"(body)", "unknown field " + strconv.Quote(clipText(name, 100))}
			}
			return &fieldError{fieldPath(raw, name), "unknown field"}
		default:
			return &fieldError{"(body)", "not valid JSON: " + err.Error()}
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &fieldError{"(body)", "must hold a single JSON object, and nothing after it"}
	}
	return nil
}

// fieldPath names where an unknown field is in a body ("filters.page"),
// which the JSON decoder's error does not say: the shallowest object key
// spelled name, or name itself if none is found.
func fieldPath(raw []byte, name string) string {
	type level struct {
		prefix string
		obj    map[string]json.RawMessage
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return name
	}
	for queue := []level{{"", top}}; len(queue) > 0; queue = queue[1:] {
		l := queue[0]
		if _, ok := l.obj[name]; ok {
			return l.prefix + name
		}
		keys := slices.Sorted(maps.Keys(l.obj))
		for _, k := range keys {
			var inner map[string]json.RawMessage
			if json.Unmarshal(l.obj[k], &inner) == nil {
				queue = append(queue, level{l.prefix + k + ".", inner})
			}
		}
	}
	return name
}

// jsonTime is a time in a request body. A value that is not an RFC 3339
// string is noted rather than failing the whole decode, so the error can
// name its field (time.Time's own error does not).
type jsonTime struct {
	time.Time
	bad bool
}

func (t *jsonTime) UnmarshalJSON(b []byte) error {
	if err := t.Time.UnmarshalJSON(b); err != nil || string(b) == "null" {
		t.Time, t.bad = time.Time{}, err != nil
	}
	return nil
}

// jsonKind says in JSON's words, not Go's, what a field holds.
func jsonKind(t reflect.Type) string {
	if t == reflect.TypeOf(time.Time{}) {
		return "an RFC 3339 time such as 2026-05-01T10:00:00Z"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	default:
		return "an object"
	}
}

// checkLine validates a one-line text field (a title, a name): no line
// breaks, which would forge lines in logs and plain-text outputs.
func checkLine(field, s string, required bool, max int) error {
	if err := checkText(field, s, required, max); err != nil {
		return err
	}
	if strings.ContainsAny(s, "\r\n\u2028\u2029") {
		return &fieldError{field, "must be a single line"}
	}
	return nil
}

// checkText validates a free-text field.
func checkText(field, s string, required bool, max int) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return &fieldError{field, "is required"}
	case len(s) > max:
		return &fieldError{field, fmt.Sprintf("must be at most %d bytes", max)}
	case !utf8.ValidString(s):
		return &fieldError{field, "must be valid UTF-8"}
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' && r != '\r' }):
		return &fieldError{field, "must not contain control characters"}
	}
	return nil
}

func (a *API) listIncidents(w http.ResponseWriter, r *http.Request) {
	var q linkwatch.IncidentQuery
	v := r.URL.Query()
	if s := v.Get("open"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			a.fail(w, r, &fieldError{"open", "must be true or false"})
			return
		}
		q.Open = &b
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			a.fail(w, r, &fieldError{"limit", "must be an integer from 1 to 500"})
			return
		}
		q.Limit = n
	}
	q.Page, q.Cause = v.Get("page"), linkwatch.Cause(v.Get("cause"))
	list, err := a.ListIncidents(r.Context(), q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": list})
}

func (a *API) showIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.Incident(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// evidenceJSON is the stored evidence in a Result's one JSON form
// (durations in milliseconds, named _ms): rows written before it hold
// nanoseconds, which a Result reads. A row that is no Result is shown as
// stored.
func evidenceJSON(raw []json.RawMessage) []any {
	out := make([]any, 0, len(raw))
	for _, b := range raw {
		var r linkwatch.Result
		if err := json.Unmarshal(b, &r); err != nil {
			out = append(out, b)
			continue
		}
		out = append(out, r)
	}
	return out
}

func (a *API) acknowledge(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var body struct {
		By string `json:"by"`
	}
	if err := decode(w, r, &body); err != nil {
		a.fail(w, r, err)
		return
	}
	a.answer(w, r, http.StatusOK)(a.Acknowledge(r.Context(), id, body.By))
}

// postUpdate posts a public update, or with "internal": true an internal
// note (no status: a note changes nothing visitors see).
func (a *API) postUpdate(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var body struct {
		Status   linkwatch.IncidentStatus `json:"status"`
		Body     string                   `json:"body"`
		By       string                   `json:"by"`
		Internal bool                     `json:"internal"`
	}
	if err := decode(w, r, &body); err != nil {
		a.fail(w, r, err)
		return
	}
	if body.Internal {
		if body.Status != "" {
			a.fail(w, r, &fieldError{"status", "must not be set for an internal note: it changes nothing visitors see"})
			return
		}
		a.answer(w, r, http.StatusCreated)(a.PostNote(r.Context(), id, body.By, body.Body))
		return
	}
	a.answer(w, r, http.StatusCreated)(a.PostUpdate(r.Context(), id, body.By, body.Status, body.Body))
}

// answer writes what a call returned with the status ok, or its error.
func (a *API) answer(w http.ResponseWriter, r *http.Request, ok int) func(v any, err error) {
	return func(v any, err error) {
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, ok, v)
	}
}

// resolve closes an open incident by hand: a link removed while it failed,
// an outage fixed where the prober cannot see it. The note becomes a public
// update and goes to every channel with the resolution (a regional note's
// to none: notes never alert). Any replica resolves any incident.
func (a *API) resolve(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var body struct {
		By   string `json:"by"`
		Note string `json:"note"`
	}
	if err := decode(w, r, &body); err != nil {
		a.fail(w, r, err)
		return
	}
	a.answer(w, r, http.StatusOK)(a.Resolve(r.Context(), id, body.By, body.Note))
}

// firstField returns the first field error of a joined error.
func firstField(err error) error {
	var fe *fieldError
	if errors.As(err, &fe) {
		return fe
	}
	return err
}

func (a *API) listChannels(w http.ResponseWriter, r *http.Request) {
	list, err := a.Channels(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": list})
}

// Channels returns the configured alert channels' states: enabled or
// not (when and why it was switched off), deliveries by status.
func (a *API) Channels(ctx context.Context) ([]linkwatch.ChannelState, error) {
	list, err := a.store.ChannelStates(ctx, a.channels)
	return nonNil(list), err
}

// setChannel switches a channel on or off.
func (a *API) setChannel(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name    string `json:"name"`
		Enabled *bool  `json:"enabled"`
		Reason  string `json:"reason"`
	}
	if err := decode(w, r, &body); err != nil {
		a.fail(w, r, err)
		return
	}
	if body.Enabled == nil && body.Name != "" && slices.Contains(a.channels, body.Name) {
		a.fail(w, r, &fieldError{"enabled", "is required (true or false)"})
		return
	}
	st, err := a.SetChannel(r.Context(), body.Name, body.Enabled != nil && *body.Enabled, body.Reason)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// SetChannel switches a configured channel on or off (reason: why, for
// off), and returns its state. A channel switched back on gets the alerts
// made from then on; what it missed is not replayed.
func (a *API) SetChannel(ctx context.Context, name string, enabled bool, reason string) (linkwatch.ChannelState, error) {
	var err error
	switch {
	case name == "":
		err = &fieldError{"name", "is required"}
	case !slices.Contains(a.channels, name):
		err = &fieldError{"name", fmt.Sprintf("%q is not a configured channel (configured: %s)", clipText(name, 100), strings.Join(a.channels, ", "))}
	default:
		err = checkLine("reason", reason, false, 500)
	}
	if err != nil {
		return linkwatch.ChannelState{}, err
	}
	if enabled {
		err = a.store.EnableChannel(ctx, name)
	} else {
		why := "disabled by an operator"
		if strings.TrimSpace(reason) != "" {
			why += ": " + reason
		}
		err = a.store.DisableChannel(ctx, name, why)
	}
	if err != nil {
		return linkwatch.ChannelState{}, err
	}
	list, err := a.store.ChannelStates(ctx, []string{name})
	if err != nil {
		return linkwatch.ChannelState{}, err
	}
	a.log.Info("alert channel switched by an operator", "channel", name, "enabled", enabled)
	return list[0], nil
}

// clipText shortens s for an error message.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func (a *API) editPostmortem(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var pm linkwatch.Postmortem
	if err := decode(w, r, &pm); err != nil {
		a.fail(w, r, err)
		return
	}
	a.answer(w, r, http.StatusOK)(a.EditPostmortem(r.Context(), id, pm))
}

func (a *API) listMaintenance(w http.ResponseWriter, r *http.Request) {
	list, err := a.Maintenance(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"maintenance": list})
}

// maxMaintenance bounds a window, so a typo cannot silence alerts for years.
const maxMaintenance = 7 * 24 * time.Hour

// maxMaintenanceLead bounds how far ahead a window may start: a year 9999
// typo is an error, not a window nobody will see coming.
const maxMaintenanceLead = 366 * 24 * time.Hour

func (a *API) createMaintenance(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Title     string   `json:"title"`
		Component string   `json:"component"`
		StartsAt  jsonTime `json:"starts_at"`
		EndsAt    jsonTime `json:"ends_at"`
	}
	if err := decode(w, r, &body); err != nil {
		a.fail(w, r, err)
		return
	}
	var err error
	switch {
	case body.StartsAt.bad:
		err = &fieldError{"starts_at", "must be " + jsonKind(reflect.TypeOf(time.Time{}))}
	case body.EndsAt.bad:
		err = &fieldError{"ends_at", "must be " + jsonKind(reflect.TypeOf(time.Time{}))}
	}
	var m linkwatch.Maintenance
	if err == nil {
		m, err = a.CreateMaintenance(r.Context(), MaintenanceRequest{Title: body.Title, Component: body.Component, StartsAt: body.StartsAt.Time, EndsAt: body.EndsAt.Time})
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, m)
}

// MaintenanceRequest asks for a one-off maintenance window.
type MaintenanceRequest struct {
	Title, Component string
	StartsAt, EndsAt time.Time
}

// CreateMaintenance checks and stores a one-off maintenance window, for
// every way one is made (the admin API, the console).
func (a *API) CreateMaintenance(ctx context.Context, req MaintenanceRequest) (linkwatch.Maintenance, error) {
	m, err := a.CheckMaintenance(req)
	if err != nil {
		return m, err
	}
	return a.store.CreateMaintenance(ctx, m)
}

// CheckMaintenance validates a one-off window: an error names the field
// that is wrong.
func (a *API) CheckMaintenance(req MaintenanceRequest) (linkwatch.Maintenance, error) {
	now := a.now()
	err := checkLine("title", req.Title, true, 200)
	switch {
	case err != nil:
	case a.checkComponent(req.Component) != nil:
		err = a.checkComponent(req.Component)
	case req.StartsAt.IsZero():
		err = &fieldError{"starts_at", "is required (RFC 3339)"}
	case req.StartsAt.After(now.Add(maxMaintenanceLead)):
		err = &fieldError{"starts_at", fmt.Sprintf("must be within %s from now", maxMaintenanceLead)}
	case req.EndsAt.IsZero():
		err = &fieldError{"ends_at", "is required (RFC 3339)"}
	case !req.EndsAt.After(req.StartsAt):
		err = &fieldError{"ends_at", "must be after starts_at"}
	case !req.EndsAt.After(now):
		err = &fieldError{"ends_at", "is in the past"}
	case req.EndsAt.Sub(req.StartsAt) > maxMaintenance:
		err = &fieldError{"ends_at", fmt.Sprintf("a window may last at most %s", maxMaintenance)}
	}
	return linkwatch.Maintenance{Title: req.Title, Component: req.Component, StartsAt: req.StartsAt.UTC(), EndsAt: req.EndsAt.UTC()}, err
}

// checkComponent checks what a maintenance window covers.
func (a *API) checkComponent(component string) error {
	kind, page, known := linkwatch.ParseComponent(component)
	switch {
	case !known || checkText("component", component, false, 2100) != nil:
		return &fieldError{"component", `must be empty (everything), "hub", "prober", "page:<slug>", "host:<host>" or "dest:<url>"`}
	case kind == linkwatch.ComponentPage && a.catalog != nil && !a.catalog.HasPage(page):
		return &fieldError{"component", fmt.Sprintf("no page %q is configured", clipText(page, 100))}
	}
	return nil
}

func (a *API) deleteMaintenance(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.DeleteMaintenance(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
