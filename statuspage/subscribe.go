package statuspage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"linkwatch"
	"linkwatch/hub"
	"linkwatch/hub/middleware"
)

// Subscribers is what the email subscription pages need from storage.
type Subscribers interface {
	// RequestEmailSubscription records a request and makes a confirmation
	// mail due (at most one per address an hour); its error is the
	// store's, or a full queue of pending confirmations
	// (linkwatch.ErrEmailPendingFull).
	RequestEmailSubscription(ctx context.Context, address, page string, maxPending int) error
	EmailSubscriber(ctx context.Context, id int64) (linkwatch.EmailSubscriber, error)
	ConfirmEmailSubscriber(ctx context.Context, id int64) (linkwatch.EmailSubscriber, error)
	SetEmailScope(ctx context.Context, id int64, page string) error
	DeleteEmailSubscriber(ctx context.Context, id int64) error
}

// SubscribeOptions turn on the email subscription form (alerts.email).
type SubscribeOptions struct {
	Store Subscribers
	// Off lists the pages whose form is turned off (pages[].subscribe:
	// false); the whole hub's form is on /status.
	Off map[string]bool
	// Limiter limits subscription requests per client (ClientIP with
	// Trusted); confirmations are limited per address by the store.
	Limiter *middleware.RateLimiter
	Trusted []netip.Prefix
}

// The form's rate per client: a burst of 5, then one request every two
// minutes. A person subscribes once; a script trying addresses is slowed
// to a crawl, and each address gets one mail an hour at most anyway.
const (
	subscribeBurst = 5
	subscribeEvery = 2 * time.Minute
)

// NewSubscribeLimiter returns the form's per-client limiter; an IPv6
// client is its network of ipv6Prefix bits (server.rate_limit.ipv6_prefix).
func NewSubscribeLimiter(ipv6Prefix int) *middleware.RateLimiter {
	return middleware.NewRateLimiter(1/subscribeEvery.Seconds(), subscribeBurst, ipv6Prefix)
}

// formOn reports whether scope's status page shows the form.
func (s *Server) formOn(scope string) bool {
	o := s.opts.Subscribe
	return o != nil && !o.Off[scope]
}

// registerSubscribe adds the subscription routes: the form's target, its
// JSON twin, and the pages the mails link to. They exist whether or not
// mail is configured (the route table is one), and answer 404 when it is
// not.
func (s *Server) registerSubscribe(r *mux.Router) {
	post := func(path string, h http.HandlerFunc) { r.HandleFunc(path, h).Methods(http.MethodPost) }
	both := func(path string, h http.HandlerFunc) {
		r.HandleFunc(path, h).Methods(http.MethodGet, http.MethodHead, http.MethodPost)
	}
	post("/status/subscribe", s.serveSubscribe)
	post("/api/v2/subscribers.json", s.serveSubscribeJSON)
	both(linkwatch.EmailConfirmPath, s.serveConfirm)
	both(linkwatch.EmailManagePath, s.serveManage)
	both(linkwatch.EmailUnsubscribePath, s.serveUnsubscribe)
}

// subPage is what a subscription page shows.
type subPage struct {
	Name, Heading, Message string
	Form                   string // "", "subscribe", "confirm", "manage" or "unsubscribe"
	Action, Token, Page    string
	Invalid                string
	Pages                  []*hub.Page
}

func (s *Server) renderSub(w http.ResponseWriter, r *http.Request, status int, v subPage) {
	v.Name = s.opts.Name
	var buf bytes.Buffer
	if err := pageTemplate.ExecuteTemplate(&buf, "subpage", v); err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	s.write(w, r, status, buf.Bytes())
}

// requested is the answer to every accepted request, whether the address
// is new, pending or subscribed: the page never tells which.
const requested = "If this address can receive our mail, a message is on its way. Open the link in it to confirm; nothing else is sent until you do."

// maxForm bounds a request's body: an address and a page slug.
const maxForm = 4 << 10

// subscribeError is a refused request: its status, the field at fault
// ("" for none) and the words for the visitor.
type subscribeError struct {
	status     int
	field, msg string
	retryAfter time.Duration
}

// subscribe is the one rule of the form and its JSON twin.
func (s *Server) subscribe(r *http.Request, email, page string) *subscribeError {
	o := s.opts.Subscribe
	if o == nil {
		return &subscribeError{status: http.StatusNotFound, msg: "email subscriptions are not offered here"}
	}
	if page != "" && !s.pageExists(page) {
		return &subscribeError{status: http.StatusBadRequest, field: "page", msg: "no such page"}
	}
	if o.Off[page] {
		return &subscribeError{status: http.StatusNotFound, field: "page", msg: "this page offers no email subscription"}
	}
	if o.Limiter != nil {
		if ok, wait := o.Limiter.Allow(o.Limiter.Client(middleware.ClientIP(r, o.Trusted))); !ok {
			return &subscribeError{status: http.StatusTooManyRequests, msg: "too many requests from your network: try again later", retryAfter: wait}
		}
	}
	addr, err := linkwatch.ParseEmailAddress(email)
	if err != nil {
		return &subscribeError{status: http.StatusBadRequest, field: "email", msg: "enter an email address like name@example.com"}
	}
	if err := o.Store.RequestEmailSubscription(r.Context(), addr, page, linkwatch.MaxPendingEmail); err != nil {
		if errors.Is(err, linkwatch.ErrEmailPendingFull) { // the same for every address
			return &subscribeError{status: http.StatusServiceUnavailable, msg: "we cannot take new subscriptions right now: try again in an hour", retryAfter: time.Hour}
		}
		// The store's error may hold the address (a constraint's
		// message): logged without it.
		s.opts.Log.ErrorContext(r.Context(), "status page: email subscription request could not be stored")
		return &subscribeError{status: http.StatusServiceUnavailable, msg: "we cannot take subscriptions right now: try again later", retryAfter: time.Minute}
	}
	return nil
}

func (s *Server) serveSubscribe(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.renderSub(w, r, http.StatusBadRequest, subPage{Heading: "Subscribe to updates", Form: "subscribe", Invalid: "the form could not be read: send it again"})
		return
	}
	page := r.PostForm.Get("page")
	if e := s.subscribe(r, r.PostForm.Get("email"), page); e != nil {
		retryAfterHeader(w, e.retryAfter)
		v := subPage{Heading: "Subscribe to updates", Message: e.msg}
		if e.field == "email" && s.formOn(page) {
			v.Message, v.Form, v.Page, v.Invalid = "", "subscribe", page, e.msg
		}
		s.renderSub(w, r, e.status, v)
		return
	}
	s.renderSub(w, r, http.StatusOK, subPage{Heading: "Check your inbox", Message: requested, Page: page})
}

// serveSubscribeJSON is the form as an API: {"email": ..., "page": ...}
// answered 202 {"message": ...}, or an error {"error": {"field", "message"}}.
func (s *Server) serveSubscribeJSON(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email string `json:"email"`
		Page  string `json:"page"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxForm))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		writeJSONStatus(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"message": "the body must be one JSON object: {\"email\": ..., \"page\": ...}"}})
		return
	}
	if e := s.subscribe(r, body.Email, body.Page); e != nil {
		retryAfterHeader(w, e.retryAfter)
		writeJSONStatus(w, e.status, map[string]any{"error": map[string]string{"field": e.field, "message": e.msg}})
		return
	}
	writeJSONStatus(w, http.StatusAccepted, map[string]string{"message": requested})
}

func writeJSONStatus(w http.ResponseWriter, status int, body any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func retryAfterHeader(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
}

// subscriber returns the subscriber a request's token names, checked: of
// kind, signed with its key, not expired. Every failure is one answer.
func (s *Server) subscriber(r *http.Request, kind linkwatch.EmailTokenKind) (linkwatch.EmailSubscriber, string, bool) {
	o := s.opts.Subscribe
	if o == nil {
		return linkwatch.EmailSubscriber{}, "", false
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(nil, r.Body, maxForm)
		_ = r.ParseForm()
	}
	token := r.FormValue("token")
	t, err := linkwatch.ParseEmailToken(token)
	if err != nil || t.Kind != kind {
		return linkwatch.EmailSubscriber{}, "", false
	}
	sub, err := o.Store.EmailSubscriber(r.Context(), t.ID)
	if err != nil {
		if !errors.Is(err, linkwatch.ErrNotFound) {
			s.opts.Log.ErrorContext(r.Context(), "status page: read email subscriber", "subscriber", t.ID, "err", err)
		}
		return linkwatch.EmailSubscriber{}, "", false
	}
	if t.Verify(sub, s.now()) != nil {
		return linkwatch.EmailSubscriber{}, "", false
	}
	return sub, token, true
}

func (s *Server) badLink(w http.ResponseWriter, r *http.Request) {
	s.renderSub(w, r, http.StatusNotFound, subPage{Heading: "This link does not work", Message: linkwatch.ErrEmailToken.Error() + "."})
}

func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	s.opts.Log.ErrorContext(r.Context(), "status page: email subscription", "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", retryAfter)
	s.renderSub(w, r, http.StatusServiceUnavailable, subPage{Heading: "Try again later", Message: "Your request could not be recorded right now."})
}

// serveConfirm shows a button that confirms (GET: mail scanners open links
// without a person) and confirms on POST.
func (s *Server) serveConfirm(w http.ResponseWriter, r *http.Request) {
	sub, token, ok := s.subscriber(r, linkwatch.TokenConfirm)
	if !ok {
		s.badLink(w, r)
		return
	}
	if r.Method != http.MethodPost {
		s.renderSub(w, r, http.StatusOK, subPage{Heading: "Confirm your subscription", Form: "confirm",
			Action: linkwatch.EmailConfirmPath, Token: token, Page: sub.Page, Message: "Confirm to get updates about " + s.scopeWords(sub.Page) + "."})
		return
	}
	sub, err := s.opts.Subscribe.Store.ConfirmEmailSubscriber(r.Context(), sub.ID)
	if err != nil {
		if errors.Is(err, linkwatch.ErrNotFound) {
			s.badLink(w, r)
			return
		}
		s.storeFailed(w, r, err)
		return
	}
	s.renderManage(w, r, http.StatusOK, sub, "You are subscribed to updates about "+s.scopeWords(sub.Page)+". You can change that or leave here, or from any mail.")
}

func (s *Server) renderManage(w http.ResponseWriter, r *http.Request, status int, sub linkwatch.EmailSubscriber, msg string) {
	s.renderSub(w, r, status, subPage{Heading: "Your subscription", Form: "manage", Action: linkwatch.EmailManagePath,
		Token: linkwatch.NewEmailToken(sub, linkwatch.TokenManage, time.Time{}), Page: sub.Page, Message: msg, Pages: s.opts.Catalog().Pages()})
}

func (s *Server) scopeWords(page string) string {
	if p, ok := s.opts.Catalog().Page(page); ok && page != "" {
		return p.Title
	}
	return "every page of " + s.opts.Name
}

// serveManage changes the scope or leaves.
func (s *Server) serveManage(w http.ResponseWriter, r *http.Request) {
	sub, _, ok := s.subscriber(r, linkwatch.TokenManage)
	if !ok || !sub.Confirmed() {
		s.badLink(w, r)
		return
	}
	if r.Method != http.MethodPost {
		s.renderManage(w, r, http.StatusOK, sub, "You get updates about "+s.scopeWords(sub.Page)+".")
		return
	}
	store := s.opts.Subscribe.Store
	switch r.PostForm.Get("action") {
	case "leave":
		s.leave(w, r, sub)
	case "scope":
		page := r.PostForm.Get("page")
		if page != "" && !s.pageExists(page) {
			s.renderManage(w, r, http.StatusBadRequest, sub, "No such page: choose one of the list.")
			return
		}
		if err := store.SetEmailScope(r.Context(), sub.ID, page); err != nil {
			s.storeFailed(w, r, err)
			return
		}
		sub.Page = page
		s.renderManage(w, r, http.StatusOK, sub, "Saved: you get updates about "+s.scopeWords(page)+".")
	default:
		s.renderManage(w, r, http.StatusOK, sub, "Choose what to get, or leave.")
	}
}

func (s *Server) leave(w http.ResponseWriter, r *http.Request, sub linkwatch.EmailSubscriber) {
	if err := s.opts.Subscribe.Store.DeleteEmailSubscriber(r.Context(), sub.ID); err != nil && !errors.Is(err, linkwatch.ErrNotFound) {
		s.storeFailed(w, r, err)
		return
	}
	s.renderSub(w, r, http.StatusOK, subPage{Heading: "You are unsubscribed", Message: "Your address is deleted: you get no more mail from us."})
}

// serveUnsubscribe is the List-Unsubscribe URL: a POST (RFC 8058's
// one-click, "List-Unsubscribe=One-Click", or the button) deletes the
// subscriber; a GET shows the button.
func (s *Server) serveUnsubscribe(w http.ResponseWriter, r *http.Request) {
	sub, token, ok := s.subscriber(r, linkwatch.TokenManage)
	if !ok {
		if r.Method == http.MethodPost {
			// Already gone (a second click, a mail client's retry): the
			// visitor's wish holds.
			s.renderSub(w, r, http.StatusOK, subPage{Heading: "You are unsubscribed", Message: "This address gets no mail from us."})
			return
		}
		s.badLink(w, r)
		return
	}
	if r.Method != http.MethodPost {
		s.renderSub(w, r, http.StatusOK, subPage{Heading: "Unsubscribe", Form: "unsubscribe", Action: linkwatch.EmailUnsubscribePath,
			Token: token, Page: sub.Page, Message: "Stop getting updates about " + s.scopeWords(sub.Page) + ", and delete your address?"})
		return
	}
	s.leave(w, r, sub)
}
