package alerting

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"linkwatch"
)

// MailOptions configure the SMTP server status page subscribers' mails go
// through (alerts.email).
type MailOptions struct {
	Host string
	Port int
	// Security is "starttls" (required, not opportunistic), "tls"
	// (implicit TLS, usually port 465) or "none" (a relay on loopback only;
	// the config refuses it for any other host).
	Security       string
	User, Password string
	From           string // the From address
	// SiteName is the status page's name, in subjects and bodies; URL the
	// hub's public URL, which every link in a mail starts with.
	SiteName, URL string
	// TLS is the TLS configuration (nil: the system's roots); tests give
	// their own server's certificate.
	TLS *tls.Config
	// PageLinks returns the destination URLs of a page's links, so a
	// host's or a destination's maintenance window reaches the subscribers
	// of the pages that link there (linkwatch.Maintenance.OnPage); nil:
	// no page has any.
	PageLinks func(page string) []string
}

// Mailer sends mails through one SMTP server with wneessen/go-mail: it
// builds the MIME (multipart text and HTML, headers encoded), speaks SMTP
// with STARTTLS or implicit TLS, and authenticates. One connection per
// mail: mails are few (an incident's changes, grouped), and a connection
// left open would meet the server's idle timeout between them.
type Mailer struct {
	opts MailOptions
}

// NewMailer returns a mailer for opts.
func NewMailer(opts MailOptions) (*Mailer, error) {
	if opts.Host == "" || opts.From == "" {
		return nil, errors.New("email: host and from are required")
	}
	if _, err := linkwatch.ParseEmailAddress(opts.From); err != nil {
		return nil, fmt.Errorf("email: from: %w", err)
	}
	switch opts.Security {
	case "starttls", "tls", "none":
	default:
		return nil, fmt.Errorf("email: security %q: use starttls, tls or none", opts.Security)
	}
	opts.URL = strings.TrimSuffix(opts.URL, "/")
	return &Mailer{opts: opts}, nil
}

func (m *Mailer) client() (*gomail.Client, error) {
	o := m.opts
	tlsConf := o.TLS
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsConf = tlsConf.Clone()
	tlsConf.ServerName = o.Host
	opts := []gomail.Option{gomail.WithPort(o.Port), gomail.WithTimeout(sendTimeout), gomail.WithTLSConfig(tlsConf)}
	switch o.Security {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if o.User != "" {
		opts = append(opts, gomail.WithUsername(o.User), gomail.WithPassword(o.Password), gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover))
	}
	return gomail.NewClient(o.Host, opts...)
}

// mail is one message to one address.
type mail struct {
	to, subject, text, html string
	messageID               string
	unsubscribe             string // the one-click URL (RFC 8058), or ""
}

// send sends one mail. Its error never holds the address or the server's
// own words (which often repeat it): a *SendError with the SMTP codes. A
// permanent refusal of the recipient (5xx to RCPT TO) is Disable, for this
// address alone; any other failure is the server's or the network's, and
// is retried, so one bad address never stops the channel and a broken
// server never marks the subscribers.
func (m *Mailer) send(ctx context.Context, ml mail) error {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(m.opts.From); err != nil {
		return &SendError{Err: errors.New("email: the from address is refused")}
	}
	if err := msg.To(ml.to); err != nil {
		return &SendError{Disable: true, Err: errors.New("email: the address cannot be written in a mail")}
	}
	msg.Subject(ml.subject)
	msg.SetDate()
	msg.SetMessageIDWithValue(ml.messageID)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	if ml.unsubscribe != "" {
		msg.SetGenHeader(gomail.HeaderListUnsubscribe, "<"+ml.unsubscribe+">")
		msg.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	msg.SetBodyString(gomail.TypeTextPlain, ml.text)
	msg.AddAlternativeString(gomail.TypeTextHTML, ml.html)
	c, err := m.client()
	if err != nil {
		return &SendError{Err: fmt.Errorf("email: %w", err)}
	}
	return classifySMTP(c.DialAndSendWithContext(ctx, msg))
}

// classifySMTP turns go-mail's error into a *SendError free of the
// address and of the server's text.
func classifySMTP(err error) error {
	if err == nil {
		return nil
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		code, enh := se.ErrorCode(), se.EnhancedStatusCode()
		what := fmt.Sprintf("email: %s failed", se.Reason)
		if code != 0 {
			what = fmt.Sprintf("%s: SMTP %d %s", what, code, enh)
		}
		return &SendError{Retry: code < 500 || se.Reason != gomail.ErrSMTPRcptTo,
			Disable: code >= 500 && se.Reason == gomail.ErrSMTPRcptTo, HTTPStatus: code, Err: errors.New(strings.TrimSpace(what))}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return &SendError{Retry: true, Err: errors.New("email: the mail server did not answer in time")}
	}
	return &SendError{Retry: true, Err: errors.New("email: cannot reach the mail server or talk to it (connection, TLS or authentication)")}
}

// link returns the URL of path with a subscriber's token.
func (m *Mailer) link(path, token string) string {
	return m.opts.URL + path + "?token=" + token
}

// EmailSink delivers the outbox to one confirmed subscriber: its channel
// is linkwatch.EmailChannel(id), one delivery per alert, retried like
// every channel's. Only what linkwatch.Mailed lets through is sent, and
// only its page's incidents when it chose one; the rest is settled as
// filtered.
type EmailSink struct {
	m   *Mailer
	sub linkwatch.EmailSubscriber
}

// NewEmailSink returns the sink of a confirmed subscriber.
func NewEmailSink(m *Mailer, s linkwatch.EmailSubscriber) *EmailSink { return &EmailSink{m: m, sub: s} }

// Name is the subscriber's channel.
func (e *EmailSink) Name() string { return e.sub.Channel() }

// Filter is the subscriber's scope: its page, or every page.
func (e *EmailSink) Filter() linkwatch.Filter {
	f := linkwatch.Filter{Events: append(slices.Clone(linkwatch.AlertTypes), linkwatch.AlertPostmortem)}
	if e.sub.Page != "" {
		f.Pages = []string{e.sub.Page}
	}
	return f
}

// Wants reports whether the subscriber gets a mail of a at all: a
// maintenance alert only when its window is on the subscriber's page.
func (e *EmailSink) Wants(a linkwatch.Alert, followed bool) bool {
	if !linkwatch.Mailed(a, followed) {
		return false
	}
	if a.Type.IsMaintenance() {
		var dests []string
		if e.sub.Page != "" && e.m.opts.PageLinks != nil {
			dests = e.m.opts.PageLinks(e.sub.Page)
		}
		return a.Maintenance.OnPage(e.sub.Page, dests)
	}
	return true
}

// Send mails one alert, narrowed to the subscriber's scope.
func (e *EmailSink) Send(ctx context.Context, d Delivery) error {
	manage := linkwatch.NewEmailToken(e.sub, linkwatch.TokenManage, time.Time{})
	mailOf := e.m.incidentMail
	if d.Alert.Type.IsMaintenance() {
		mailOf = e.m.maintenanceMail
	}
	ml, err := mailOf(e.sub, d.Alert, manage)
	if err != nil {
		return &SendError{Err: err}
	}
	return e.m.send(ctx, ml)
}

// SendConfirmation mails s its confirmation link, or, when it is already
// confirmed, its manage link: a visitor who asks again learns nothing
// from the form, and the mailbox's owner gets the way to change or leave.
func (m *Mailer) SendConfirmation(ctx context.Context, s linkwatch.EmailSubscriber, now time.Time) error {
	v := mailView{Site: m.opts.SiteName, Scope: m.scope(s.Page), StatusURL: m.statusURL(s.Page)}
	if s.Confirmed() {
		v.Subject = "Your subscription to " + m.opts.SiteName
		v.Manage = m.link(linkwatch.EmailManagePath, linkwatch.NewEmailToken(s, linkwatch.TokenManage, time.Time{}))
	} else {
		v.Subject = "Confirm your subscription to " + m.opts.SiteName
		v.Confirm = m.link(linkwatch.EmailConfirmPath, linkwatch.NewEmailToken(s, linkwatch.TokenConfirm, now.Add(linkwatch.EmailConfirmFor)))
		v.ConfirmFor = "24 hours"
	}
	ml, err := m.render(s.Address, v, fmt.Sprintf("<confirm.%d.%d@linkwatch>", s.ID, s.RequestedAt.Unix()))
	if err != nil {
		return &SendError{Err: err}
	}
	return m.send(ctx, ml)
}

// incidentMail is the mail of an alert to s; manage is its manage token.
func (m *Mailer) incidentMail(s linkwatch.EmailSubscriber, a linkwatch.Alert, manage string) (mail, error) {
	inc := a.Incident
	v := mailView{Site: m.opts.SiteName, Scope: m.scope(s.Page), StatusURL: m.statusURL(s.Page),
		Manage: m.link(linkwatch.EmailManagePath, manage), Unsubscribe: m.link(linkwatch.EmailUnsubscribePath, manage),
		Title: inc.Title, Status: statusWord(inc.Status), Summary: inc.Summary}
	switch a.Type {
	case linkwatch.AlertResolved:
		v.Status = statusWord(linkwatch.StatusResolved)
	case linkwatch.AlertPostmortem:
		v.Status = "Postmortem"
	}
	// Updates grouped within alerts.group_interval are one mail: each
	// one's words in order, under the newest one's status.
	for _, u := range a.Updates() {
		v.Updates = append(v.Updates, field{statusWord(u.Status), u.Body})
		v.Status = statusWord(u.Status)
	}
	for _, l := range inc.Affected {
		v.Affected = append(v.Affected, l.Page+"/"+l.Link)
	}
	if pm := inc.Postmortem; (a.Type == linkwatch.AlertResolved || a.Type == linkwatch.AlertPostmortem) && pm.Published {
		// The status page's words (statuspage/assets/status.html).
		v.Postmortem = []field{{"Primary cause", pm.PrimaryCause}, {"Contributing factors", pm.ContributingFactors},
			{"Why it wasn't caught", pm.WhyNotCaught}, {"Notes", pm.Notes}}
	}
	v.Subject = fmt.Sprintf("[%s] %s: %s", m.opts.SiteName, v.Status, inc.Title)
	ml, err := m.render(s.Address, v, fmt.Sprintf("<%s.%d@linkwatch>", a.EventID, s.ID))
	ml.unsubscribe = v.Unsubscribe
	return ml, err
}

// maintenanceMail is the mail of a maintenance alert to s, in the status
// page's words for a window: scheduled, in progress, completed; or
// cancelled.
func (m *Mailer) maintenanceMail(s linkwatch.EmailSubscriber, a linkwatch.Alert, manage string) (mail, error) {
	w := a.Maintenance
	if w == nil {
		return mail{}, errors.New("email: a maintenance alert without its window")
	}
	v := mailView{Site: m.opts.SiteName, Scope: m.scope(s.Page), StatusURL: m.statusURL(s.Page),
		Manage: m.link(linkwatch.EmailManagePath, manage), Unsubscribe: m.link(linkwatch.EmailUnsubscribePath, manage),
		Title: w.Title, Window: maintenanceSpan(*w), Covers: maintenanceCovers(w.Component)}
	switch a.Type {
	case linkwatch.AlertMaintenanceScheduled:
		v.Status = "Scheduled maintenance"
	case linkwatch.AlertMaintenanceStarted:
		v.Status = "Maintenance in progress"
	case linkwatch.AlertMaintenanceCancelled:
		v.Status = "Maintenance cancelled"
	default:
		v.Status = "Maintenance completed"
	}
	v.Subject = fmt.Sprintf("[%s] %s: %s", m.opts.SiteName, v.Status, w.Title)
	ml, err := m.render(s.Address, v, fmt.Sprintf("<%s.%d@linkwatch>", a.EventID, s.ID))
	ml.unsubscribe = v.Unsubscribe
	return ml, err
}

// maintenanceSpan says when a window runs, in UTC as the feeds do.
func maintenanceSpan(w linkwatch.Maintenance) string {
	const layout = "Mon 2 Jan 2006 15:04 UTC"
	return "From " + w.StartsAt.UTC().Format(layout) + " to " + w.EndsAt.UTC().Format(layout)
}

// maintenanceCovers names what a window covers, as the status page does
// without its catalog: everything, the hub, or the page, host or URL.
func maintenanceCovers(component string) string {
	kind, value, _ := linkwatch.ParseComponent(component)
	switch kind {
	case linkwatch.ComponentAll:
		return "every component"
	case linkwatch.ComponentHub:
		return "the link hub"
	}
	return value
}

// statusWord is an incident status as the status page writes it.
func statusWord(s linkwatch.IncidentStatus) string {
	if s == "" {
		return "Investigating"
	}
	return strings.ToUpper(string(s[:1])) + string(s[1:])
}

func (m *Mailer) scope(page string) string {
	if page == "" {
		return "every page of " + m.opts.SiteName
	}
	return "the page " + page
}

func (m *Mailer) statusURL(page string) string {
	if page == "" {
		return m.opts.URL + "/status"
	}
	return m.opts.URL + "/status/" + page
}

type field struct{ Name, Value string }

// mailView is what a mail says, in text and in HTML.
type mailView struct {
	Subject, Site, Scope, StatusURL string
	Confirm, ConfirmFor, Manage     string
	Unsubscribe                     string
	Title, Status, Summary          string
	// Updates are the operator's public updates a mail carries, oldest
	// first: their status (Name) and words (Value).
	Updates        []field
	Window, Covers string // a maintenance window's span and what it covers
	Affected       []string
	Postmortem     []field
}

func (m *Mailer) render(to string, v mailView, messageID string) (mail, error) {
	var text, html strings.Builder
	if err := mailText.Execute(&text, v); err != nil {
		return mail{}, fmt.Errorf("email: render: %w", err)
	}
	if err := mailHTML.Execute(&html, v); err != nil {
		return mail{}, fmt.Errorf("email: render: %w", err)
	}
	return mail{to: to, subject: v.Subject, text: text.String(), html: html.String(), messageID: messageID}, nil
}
