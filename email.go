package linkwatch

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// EmailSubscriber is a status page visitor who asked for mails about the
// incidents and maintenance of one page ("" for every page). Its address
// is shown to nobody but the operators' admin API: never on a public page,
// in a log line, an error or a webhook. Leaving deletes the row.
type EmailSubscriber struct {
	ID      int64  `json:"id"`
	Address string `json:"address"`
	Page    string `json:"page"` // "" for every page
	// Key signs the subscriber's links (EmailToken): made at random with
	// the row and gone with it, so a deleted subscription's links are dead.
	Key         []byte    `json:"-"`
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
	// ConfirmDue is set while a confirmation mail (or, for a confirmed
	// subscriber who asked again, a mail with the manage link) is to be
	// sent, at ConfirmNextAt; failed attempts are retried like deliveries.
	// RequestedAt is the last time one was asked for: at most one an hour.
	ConfirmDue      bool      `json:"-"`
	ConfirmAttempts int       `json:"-"`
	ConfirmFirstAt  time.Time `json:"-"`
	ConfirmNextAt   time.Time `json:"-"`
	RequestedAt     time.Time `json:"requested_at"`
	// BouncedAt and BounceReason: the mail server refused the address for
	// good (a 5xx); its channel is switched off, no other.
	BouncedAt    time.Time `json:"bounced_at,omitzero"`
	BounceReason string    `json:"bounce_reason,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// Confirmed reports whether the subscriber answered its confirmation mail:
// nothing else is ever sent to an address that did not.
func (s EmailSubscriber) Confirmed() bool { return !s.ConfirmedAt.IsZero() }

// Channel is the subscriber's outbox channel name.
func (s EmailSubscriber) Channel() string { return EmailChannel(s.ID) }

// EmailChannelPrefix starts every email subscriber's channel name.
const EmailChannelPrefix = "email:"

// EmailChannel is the outbox channel of email subscriber id: one delivery
// per subscriber and alert, shown in the delivery log as "email:<id>".
func EmailChannel(id int64) string { return EmailChannelPrefix + strconv.FormatInt(id, 10) }

// EmailSubscriberOf returns the subscriber id of a channel name, if it is one.
func EmailSubscriberOf(channel string) (int64, bool) {
	s, ok := strings.CutPrefix(channel, EmailChannelPrefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0 && strconv.FormatInt(id, 10) == s
}

// Limits of the visitors' subscriptions.
const (
	// EmailConfirmEvery: an address gets at most one confirmation mail in
	// it, however often the form is sent.
	EmailConfirmEvery = time.Hour
	// EmailConfirmFor is how long a confirmation link works; a pending
	// subscription older than twice that is deleted.
	EmailConfirmFor = 24 * time.Hour
	// MaxPendingEmail bounds the subscriptions waiting for confirmation:
	// beyond it, the form takes no new address until some expire.
	MaxPendingEmail = 1000
	// maxAddress is RFC 5321's longest path, less its angle brackets.
	maxAddress = 254
)

// ErrEmailPendingFull is a request for a new address while
// MaxPendingEmail subscriptions wait for confirmation.
var ErrEmailPendingFull = errors.New("too many subscriptions are waiting for confirmation: try again later")

// ErrEmailAddress is an address the form refuses.
var ErrEmailAddress = errors.New("not an email address")

// ParseEmailAddress returns the address a visitor typed, checked with
// net/mail and in the one form it is stored in (lower case, so an address
// is one subscriber however it is typed): a bare addr-spec, no display
// name, no comments, a domain with a dot and no IP literal. Its error
// never repeats the input.
func ParseEmailAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxAddress {
		return "", ErrEmailAddress
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", ErrEmailAddress
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if at < 1 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, "[") || !isHostName(strings.ToLower(domain)) {
		return "", ErrEmailAddress
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r == 0x7f || r >= 0x80 }) {
		return "", ErrEmailAddress // spaces and non-ASCII: SMTPUTF8 is not asked of every server
	}
	return strings.ToLower(s), nil
}

// NewEmailKey returns a fresh key for a subscriber's links.
func NewEmailKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// EmailTokenKind is what a link of a subscriber's mails does.
type EmailTokenKind string

const (
	// TokenConfirm confirms a subscription; it expires after EmailConfirmFor.
	TokenConfirm EmailTokenKind = "c"
	// TokenManage changes the scope or leaves (the unsubscribe links); it
	// works as long as the subscription does.
	TokenManage EmailTokenKind = "m"
)

// EmailToken is a signed link token: kind, subscriber id, expiry (Unix
// seconds; 0 for none, a manage token's) and the MAC of the three with
// the subscriber's key. It carries no address.
type EmailToken struct {
	Kind    EmailTokenKind
	ID      int64
	Expires int64
	MAC     []byte
}

// ErrEmailToken is a link token that is malformed, forged or expired.
var ErrEmailToken = errors.New("this link is not valid: it is mistyped, expired, or its subscription was removed")

// NewEmailToken signs a token of kind for subscriber s, expiring at
// expires (zero: never, for TokenManage).
func NewEmailToken(s EmailSubscriber, kind EmailTokenKind, expires time.Time) string {
	t := EmailToken{Kind: kind, ID: s.ID}
	if !expires.IsZero() {
		t.Expires = expires.Unix()
	}
	t.MAC = t.mac(s.Key)
	return fmt.Sprintf("%s.%d.%d.%s", t.Kind, t.ID, t.Expires, base64.RawURLEncoding.EncodeToString(t.MAC))
}

func (t EmailToken) mac(key []byte) []byte {
	return MAC(key, strconv.FormatInt(t.ID, 10), strconv.FormatInt(t.Expires, 10), []byte(t.Kind))
}

// ParseEmailToken reads a token's parts; Verify checks it against the
// subscriber it names.
func ParseEmailToken(s string) (EmailToken, error) {
	if len(s) > 128 {
		return EmailToken{}, ErrEmailToken
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return EmailToken{}, ErrEmailToken
	}
	t := EmailToken{Kind: EmailTokenKind(parts[0])}
	var err error
	t.ID, err = strconv.ParseInt(parts[1], 10, 64)
	if err != nil || t.ID <= 0 || strconv.FormatInt(t.ID, 10) != parts[1] {
		return EmailToken{}, ErrEmailToken
	}
	t.Expires, err = strconv.ParseInt(parts[2], 10, 64)
	if err != nil || t.Expires < 0 || strconv.FormatInt(t.Expires, 10) != parts[2] {
		return EmailToken{}, ErrEmailToken
	}
	switch {
	case t.Kind == TokenConfirm && t.Expires == 0, t.Kind == TokenManage && t.Expires != 0,
		t.Kind != TokenConfirm && t.Kind != TokenManage:
		return EmailToken{}, ErrEmailToken
	}
	t.MAC, err = base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || len(t.MAC) != 32 {
		return EmailToken{}, ErrEmailToken
	}
	return t, nil
}

// Verify reports whether t was signed for s and, for an expiring kind, is
// still valid at now.
func (t EmailToken) Verify(s EmailSubscriber, now time.Time) error {
	if s.ID != t.ID || len(s.Key) == 0 || !hmac.Equal(t.MAC, t.mac(s.Key)) {
		return ErrEmailToken
	}
	if t.Expires != 0 && !now.Before(time.Unix(t.Expires, 0)) {
		return ErrEmailToken
	}
	return nil
}

// Mailed reports whether a visitor subscribed to the status page gets a
// mail of alert a; followed says whether it was mailed an earlier alert of
// the incident, or for a window's cancellation its scheduled one. It gets
// a maintenance window the status page shows (not the prober's) being
// scheduled, starting and ending, when it is on its page
// (Maintenance.OnPage), and cancelled when it was told it was scheduled;
// and an incident the status page shows (not
// linkwatch's own, like prober_offline) opening, getting a public update
// from an operator, or resolving. Automatic updates (cause changed,
// flapping, fallbacks) and acknowledgements are for on-call, not
// visitors, with one exception: links joining an incident the subscriber
// has not heard of (its page's links joined another page's incident) are,
// for it, the incident opening.
func Mailed(a Alert, followed bool) bool {
	if a.Type.IsMaintenance() {
		// A cancellation is news only to whom the window was announced.
		return a.Maintenance != nil && a.Maintenance.Component != ProberComponent && (a.Type != AlertMaintenanceCancelled || followed)
	}
	if a.Incident.Kind.Internal() || a.Incident.Kind == KindRegional {
		return false
	}
	switch a.Type {
	case AlertOpened, AlertResolved:
		return true
	case AlertPostmortem:
		return a.Incident.Postmortem.Published
	case AlertUpdated:
		return a.Reason == string(EventUpdatePosted) && a.Update != nil || a.Reason == string(EventTargetAdded) && !followed
	}
	return false
}

// The status page's subscription paths: statuspage serves them, and every
// mail links to them.
const (
	EmailConfirmPath     = "/status/subscription/confirm"
	EmailManagePath      = "/status/subscription/manage"
	EmailUnsubscribePath = "/status/subscription/unsubscribe"
)
