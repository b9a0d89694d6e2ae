package alerting

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"linkwatch"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"linkwatch/alerting/redact"
	"linkwatch/incidents"
)

// ThreadStore remembers the Slack message that started an incident's
// thread, so updates are replies and a retry never posts it twice.
type ThreadStore interface {
	ThreadRef(ctx context.Context, incidentID int64, channel string) (string, error)
	SetThreadRef(ctx context.Context, incidentID int64, channel, ref string) error
}

// SlackOptions configure the Slack sink: an incoming webhook, or a bot
// token and channel (which threads updates under the first message).
type SlackOptions struct {
	WebhookURL    string
	BotToken      string
	Channel       string
	APIURL        string // Slack's Web API base URL; tests point it at a local server
	StatusPageURL string // the button on every message
	// Dial makes every connection (serve: the SSRF guard); nil dials plainly.
	Dial    DialFunc
	Threads ThreadStore
	// Name is the entry's name: its outbox channel is "slack:<name>" (and
	// its threads are its own); empty is the single entry "slack".
	Name string
	// Filter chooses the alerts this entry gets (a team's pages, say).
	Filter linkwatch.Filter
	// SigningSecret is the Slack app's signing secret (bot mode only): set,
	// the incident's message carries its actions (acknowledge, post an
	// update, resolve, write the postmortem), which Slack sends to
	// SlackActions signed with it.
	SigningSecret string
}

// Slack posts incident alerts as Block Kit messages with a text fallback.
type Slack struct {
	opts    SlackOptions
	api     *slack.Client
	client  *http.Client
	limiter *rate.Limiter
}

// NewSlack returns a Slack sink.
func NewSlack(opts SlackOptions) (*Slack, error) {
	if (opts.WebhookURL == "") == (opts.BotToken == "") {
		return nil, errors.New("slack: configure either webhook_url or bot_token (with channel)")
	}
	if opts.BotToken != "" && (opts.Channel == "" || opts.Threads == nil) {
		return nil, errors.New("slack: bot_token needs a channel")
	}
	if opts.SigningSecret != "" && opts.BotToken == "" {
		return nil, errors.New("slack: signing_secret needs bot_token: the actions are the bot's messages and modals")
	}
	s := &Slack{
		opts:   opts,
		client: newOutboundClient(opts.Dial, sendTimeout),
		// Slack allows about one message per second per channel.
		limiter: rate.NewLimiter(rate.Every(time.Second), 1),
	}
	if opts.BotToken != "" {
		o := []slack.Option{slack.OptionHTTPClient(s.client)}
		if opts.APIURL != "" {
			o = append(o, slack.OptionAPIURL(opts.APIURL))
		}
		s.api = slack.New(opts.BotToken, o...)
	}
	return s, nil
}

// Name identifies the channel: "slack", or "slack:<name>" for one of
// several entries.
func (s *Slack) Name() string {
	return linkwatch.SlackChannel(s.opts.Name)
}

// Filter is what this entry chose to get.
func (s *Slack) Filter() linkwatch.Filter { return s.opts.Filter }

// Send posts one alert: in bot mode, the opening message starts a thread
// that updates and the resolution reply to, and the resolution edits the
// opening message to show RESOLVED and how long it lasted.
func (s *Slack) Send(ctx context.Context, d Delivery) error {
	if err := s.limiter.Wait(ctx); err != nil {
		return &SendError{Retry: true, Err: err}
	}
	a := d.Alert
	blocks, text := slackMessage(a, s.opts.StatusPageURL, false, s.interactive() && a.Type == linkwatch.AlertOpened)
	if s.api == nil {
		err := slack.PostWebhookCustomHTTPContext(ctx, s.opts.WebhookURL, s.client, &slack.WebhookMessage{Text: text, Blocks: &slack.Blocks{BlockSet: blocks}})
		return s.classify(err)
	}
	if a.Reason == linkwatch.ReasonTest {
		// No incident: a message of its own, never a thread.
		_, _, err := s.api.PostMessageContext(ctx, s.opts.Channel, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		return s.classify(err)
	}
	ref, err := s.opts.Threads.ThreadRef(ctx, a.IncidentID, s.Name())
	if err != nil {
		return &SendError{Retry: true, Err: err}
	}
	channel, ts, _ := strings.Cut(ref, " ")
	if ref == "" {
		if a.Type != linkwatch.AlertOpened {
			// The thread starts with this alert: it carries the actions.
			blocks, text = slackMessage(a, s.opts.StatusPageURL, false, s.interactive())
		}
		channel, ts, err = s.api.PostMessageContext(ctx, s.opts.Channel, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		if err != nil {
			return s.classify(err)
		}
		if err := s.opts.Threads.SetThreadRef(ctx, a.IncidentID, s.Name(), channel+" "+ts); err != nil {
			return &SendError{Retry: true, Err: err}
		}
		if a.Type == linkwatch.AlertOpened {
			return nil
		}
	} else if a.Type == linkwatch.AlertOpened {
		return nil // already posted (a retry after a crash): never post it twice
	}
	if _, _, err := s.api.PostMessageContext(ctx, channel, slack.MsgOptionTS(ts), slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...)); err != nil {
		return s.classify(err)
	}
	// The opening message says where the incident stands, whoever changed
	// it (Slack's buttons, the admin API, the engine): resolved, and with
	// actions, who acknowledged it.
	if a.Type == linkwatch.AlertResolved || s.interactive() && a.Reason == string(linkwatch.EventAcknowledged) {
		parent, ptext := slackMessage(a, s.opts.StatusPageURL, true, s.interactive())
		if _, _, _, err := s.api.UpdateMessageContext(ctx, channel, ts, slack.MsgOptionText(ptext, false), slack.MsgOptionBlocks(parent...)); err != nil {
			return s.classify(err)
		}
	}
	return nil
}

// interactive reports whether this entry's messages carry actions: bot
// mode with the app's signing secret.
func (s *Slack) interactive() bool { return s.api != nil && s.opts.SigningSecret != "" }

// Interactive reports whether this entry's messages carry actions, which
// SlackActions serves.
func (s *Slack) Interactive() bool { return s.interactive() }

// SendStorage posts a storage event as a message of its own (no thread:
// thread references are in the database), by the incoming webhook or to
// the bot's channel.
func (s *Slack) SendStorage(ctx context.Context, e StorageEvent) error {
	if err := s.limiter.Wait(ctx); err != nil {
		return &SendError{Retry: true, Err: err}
	}
	blocks, text := slackStorageMessage(e)
	if s.api == nil {
		return s.classify(slack.PostWebhookCustomHTTPContext(ctx, s.opts.WebhookURL, s.client, &slack.WebhookMessage{Text: text, Blocks: &slack.Blocks{BlockSet: blocks}}))
	}
	_, _, err := s.api.PostMessageContext(ctx, s.opts.Channel, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
	return s.classify(err)
}

// slackStorageMessage renders a storage event, every piece of text
// escaped for mrkdwn like an incident's.
func slackStorageMessage(e StorageEvent) ([]slack.Block, string) {
	head, body := storageText(e)
	if e.Type == linkwatch.AlertStorageReachable {
		head = "✅ " + head
	} else {
		head = "🔴 " + head
	}
	head, body = escapeSlack(head), escapeSlack(body)
	md := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, clip(head, 150), false, false)),
		slack.NewSectionBlock(md(clip(body, 2900)), nil, nil),
		slack.NewContextBlock("", md("linkwatch "+escapeSlack(string(e.Type))+" · event "+escapeSlack(e.EventID))),
	}
	return blocks, head + ". " + body
}

// permanentSlackErrors are API errors that no retry will fix.
var permanentSlackErrors = map[string]bool{
	"invalid_auth": true, "not_authed": true, "account_inactive": true, "token_revoked": true,
	"channel_not_found": true, "not_in_channel": true, "is_archived": true, "invalid_blocks": true,
}

func (s *Slack) classify(err error) error {
	if err == nil {
		return nil
	}
	clean := redact.Err(err, s.opts.WebhookURL, s.opts.BotToken)
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var api slack.SlackErrorResponse
	switch {
	case errors.As(err, &rl):
		return &SendError{Retry: true, RetryAfter: rl.RetryAfter, HTTPStatus: http.StatusTooManyRequests, Err: clean}
	case errors.As(err, &sc):
		if se := classifyHTTP(sc.Code, nil, time.Now(), clean); se != nil {
			return se
		}
		return &SendError{Retry: true, HTTPStatus: sc.Code, Err: clean}
	case errors.As(err, &api):
		return &SendError{Retry: !permanentSlackErrors[api.Err], Err: clean}
	default:
		return requestFailed(err, clean)
	}
}

// slackMessage renders an alert as Block Kit blocks and a plain-text
// fallback (notifications and old clients show only the text). parent is
// the edited opening message of a resolved incident.
//
// Every piece of text that did not come from this code (titles, summaries
// quoting a destination's Location header, an operator's update, page and
// link names) is escaped for Slack's mrkdwn once, here, before it goes into
// any field: the top-level text is parsed for <!channel>, <@user> and
// <url|label> exactly as the blocks are.
func slackMessage(a linkwatch.Alert, statusURL string, parent, actions bool) ([]slack.Block, string) {
	inc := a.Incident
	title, summary := escapeSlack(inc.Title), escapeSlack(inc.Summary)
	cause := escapeSlack(string(inc.Cause))
	var head string
	switch {
	case a.Reason == linkwatch.ReasonTest:
		head = "🧪 TEST: " + title
	case a.Type == linkwatch.AlertResolved || parent && !inc.Open():
		head = fmt.Sprintf("✅ RESOLVED after %s: %s", incidents.HumanDuration(inc.ResolvedAt.Sub(inc.StartedAt)), title)
	case (parent || a.Type == linkwatch.AlertOpened) && inc.Impact == linkwatch.ImpactMinor:
		head = "🟠 Degraded: " + title
	case parent || a.Type == linkwatch.AlertOpened:
		head = "🔴 Down: " + title
	case a.Update != nil:
		head = fmt.Sprintf("📝 Update (%s): %s", escapeSlack(string(a.Update.Status)), title)
	case a.Reason == string(linkwatch.EventAcknowledged):
		head = fmt.Sprintf("👀 Acknowledged by %s: %s", escapeSlack(inc.AcknowledgedBy), title)
	default:
		head = fmt.Sprintf("🟡 Update (%s): %s", escapeSlack(strings.ReplaceAll(a.Reason, "_", " ")), title)
	}
	// Updates grouped within alerts.group_interval are one message: each
	// one's words in order.
	var updates []string
	for _, u := range a.Updates() {
		updates = append(updates, escapeSlack(clip(u.Body, 2900)))
	}
	md := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
	}
	fields := []*slack.TextBlockObject{
		md("*Cause*\n`" + cause + "`"),
		md("*Since*\n<!date^" + fmt.Sprint(inc.StartedAt.Unix()) + "^{date_short_pretty} {time}|" + inc.StartedAt.UTC().Format(time.RFC1123) + ">"),
		md("*Impact*\n" + escapeSlack(string(inc.Impact))),
		md("*Status*\n" + escapeSlack(string(inc.Status))),
	}
	if inc.Flapping {
		fields = append(fields, md("*Flapping*\nyes: it stays open until stable"))
	}
	if inc.AcknowledgedBy != "" {
		fields = append(fields, md("*Acknowledged*\nby "+escapeSlack(inc.AcknowledgedBy)))
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, clip(head, 150), false, false)),
		slack.NewSectionBlock(md(clip(summary, 2900)), fields, nil),
	}
	for i, u := range a.Updates() {
		blocks = append(blocks, slack.NewSectionBlock(md("*Update ("+escapeSlack(string(u.Status))+")*\n"+clip(updates[i], 2900)), nil, nil))
	}
	if links := affectedList(a.Added, 20); links != "" {
		blocks = append(blocks, slack.NewSectionBlock(md(fmt.Sprintf("*Now failing too (%d)*\n", len(a.Added))+clip(escapeSlack(links), 2900)), nil, nil))
	}
	if links := affectedList(inc.Affected, 10); links != "" {
		blocks = append(blocks, slack.NewSectionBlock(md("*Affected links*\n"+clip(escapeSlack(links), 2900)), nil, nil))
	}
	if f := fallbackLines(inc.Affected, 10); f != "" {
		blocks = append(blocks, slack.NewSectionBlock(md("*Fallback*\n"+clip(escapeSlack(f), 2900)), nil, nil))
	}
	var buttons []slack.BlockElement
	if actions {
		buttons = incidentButtons(inc)
	}
	if statusURL != "" {
		btn := slack.NewButtonBlockElement("status_page", "status", slack.NewTextBlockObject(slack.PlainTextType, "Status page", false, false))
		btn.URL = statusURL
		buttons = append(buttons, btn)
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slack.NewActionBlock(actionsBlockID, buttons...))
	}
	blocks = append(blocks, slack.NewContextBlock("", md(fmt.Sprintf("linkwatch incident #%d · event %s", inc.ID, escapeSlack(a.EventID)))))
	text := fmt.Sprintf("%s. Cause: %s. %s", head, cause, summary)
	if len(updates) > 0 {
		text += " Update: " + clip(strings.Join(updates, " · "), 1000)
	}
	if links := affectedList(a.Added, 10); links != "" {
		text += " Now failing too: " + escapeSlack(links) + "."
	}
	if links := affectedList(inc.Affected, 5); links != "" {
		text += " Affected: " + escapeSlack(links) + "."
	}
	if f := fallbackLines(inc.Affected, 5); f != "" {
		text += " " + strings.ReplaceAll(f, "\n", " ")
	}
	return blocks, text
}

// fallbackLines says, a line per link, where the visitors of the links
// diverted in an incident are being sent.
func fallbackLines(as []linkwatch.Affected, max int) string {
	var lines []string
	for _, a := range as {
		if !a.Diverted {
			continue
		}
		if len(lines) == max {
			lines = append(lines, "and more.")
			break
		}
		lines = append(lines, fmt.Sprintf("Visitors of %s/%s are being sent to %s.", a.Page, a.Link, a.Fallback))
	}
	return strings.Join(lines, "\n")
}

func affectedList(as []linkwatch.Affected, max int) string {
	var parts []string
	for i, a := range as {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(as)-max))
			break
		}
		parts = append(parts, a.Page+"/"+a.Link)
	}
	return strings.Join(parts, ", ")
}

// escapeSlack escapes the three characters Slack's mrkdwn treats as markup.
func escapeSlack(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
