package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"linkwatch"

	"github.com/slack-go/slack"

	"linkwatch/incidents/admin"
)

// The block and action ids of the incident message's buttons and of the
// modals they open: what Slack sends back to SlackActions.
const (
	actionsBlockID   = "incident_actions"
	actionAck        = "incident_ack"
	actionUpdate     = "incident_update"
	actionResolve    = "incident_resolve"
	actionPostmortem = "incident_postmortem"
)

// nonceTTL is how long a served request's signature is remembered: longer
// than the five minutes either side of now that slack-go's verifier lets
// a timestamp be, so a replay is refused for as long as it could pass.
const nonceTTL = 11 * time.Minute

// maxInteractionBody bounds a request from Slack: a modal's state is a
// few fields of text.
const maxInteractionBody = 256 << 10

// actionTimeout bounds the work done for one request after Slack has
// had its answer: an engine call, a modal, a reply.
const actionTimeout = 30 * time.Second

// resolvedNote is the public update a resolution from Slack carries: the
// status page says the incident is over, not who pressed the button.
const resolvedNote = "This incident has been resolved."

// incidentButtons are the actions of an incident's message: on an open
// incident, acknowledge (until someone has), post an update and resolve;
// on every incident, write the postmortem. Each carries the incident's id.
func incidentButtons(inc linkwatch.Incident) []slack.BlockElement {
	id := strconv.FormatInt(inc.ID, 10)
	button := func(action, label string) *slack.ButtonBlockElement {
		return slack.NewButtonBlockElement(action, id, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
	}
	var out []slack.BlockElement
	if inc.Open() {
		if inc.AcknowledgedAt.IsZero() {
			out = append(out, button(actionAck, "Acknowledge").WithStyle(slack.StylePrimary))
		}
		out = append(out, button(actionUpdate, "Post update"),
			button(actionResolve, "Resolve").WithConfirm(slack.NewConfirmationBlockObject(plain("Resolve this incident?"),
				plain("It is closed for every channel and the status page, even if its links still fail (the next failures open a new one)."),
				plain("Resolve"), plain("Cancel"))))
	}
	return append(out, button(actionPostmortem, "Write postmortem"))
}

// IncidentActions are the incident actions Slack's buttons and modals
// take: the admin API's calls (*admin.API), which validate and act
// through the engine, as the API's handlers and the console do.
type IncidentActions interface {
	Acknowledge(ctx context.Context, id int64, by string) (linkwatch.Incident, error)
	Resolve(ctx context.Context, id int64, by, note string) (linkwatch.Incident, error)
	PostUpdate(ctx context.Context, id int64, by string, status linkwatch.IncidentStatus, body string) (linkwatch.Update, error)
	PostNote(ctx context.Context, id int64, by, body string) (linkwatch.Event, error)
	EditPostmortem(ctx context.Context, id int64, pm linkwatch.Postmortem) (linkwatch.Incident, error)
}

// ActionStore is what Slack's actions read from storage: the incident as
// stored (for its modal), and the requests already served.
type ActionStore interface {
	Incident(ctx context.Context, id int64) (linkwatch.Incident, error)
	ClaimNonce(ctx context.Context, nonce string, ttl time.Duration) (bool, error)
}

// SlackActionsOptions configure SlackActions.
type SlackActionsOptions struct {
	// Apps are the Slack entries whose messages carry actions (bot mode
	// with a signing secret): a request is theirs if it is signed with
	// their secret, and answered with their bot.
	Apps []*Slack
	// Actions are nil until the incident engine runs (requests are then
	// answered 503).
	Actions IncidentActions
	Store   ActionStore
	Log     *slog.Logger
}

// SlackActions serves Slack's interactivity requests: the incident
// message's buttons and the modals they open. Every request is verified
// with an app's signing secret (slack-go's verifier: HMAC compared in
// constant time, timestamps more than five minutes away refused), then
// refused if it was served before (its signature is a nonce in the
// database, so on every replica), then answered at once: Slack waits
// three seconds. The work (the engine's call, a modal, an explanation)
// is done after the answer, and its failures are explained to the user
// alone (an ephemeral message), never as a 500.
type SlackActions struct {
	opts   SlackActionsOptions
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewSlackActions returns the handler of Slack's interactivity requests.
func NewSlackActions(opts SlackActionsOptions) *SlackActions {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &SlackActions{opts: opts, ctx: ctx, cancel: cancel}
}

// Close waits for the work of the requests already answered, then stops.
func (h *SlackActions) Close() {
	h.wg.Wait()
	h.cancel()
}

func (h *SlackActions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case len(h.opts.Apps) == 0:
		http.Error(w, "Slack actions are off: set alerts.slack.signing_secret (bot mode) to turn them on", http.StatusNotFound)
		return
	case h.opts.Actions == nil || h.opts.Store == nil:
		w.Header().Set("Retry-After", "5")
		http.Error(w, "the incident engine is not running yet: try again", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInteractionBody))
	if err != nil {
		http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	app, err := h.verify(r.Header, body)
	if err != nil {
		h.opts.Log.Warn("slack: refused an interaction request", "err", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	fresh, err := h.opts.Store.ClaimNonce(r.Context(), r.Header.Get("X-Slack-Signature"), nonceTTL)
	if err != nil {
		h.opts.Log.Error("slack: cannot check an interaction request for a replay", "err", err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "linkwatch cannot reach its database: try again", http.StatusServiceUnavailable)
		return
	}
	if !fresh {
		h.opts.Log.Warn("slack: refused a replayed interaction request")
		http.Error(w, "this request was served before: a replay", http.StatusUnauthorized)
		return
	}
	form, err := parseForm(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form), &cb); err != nil {
		http.Error(w, "payload is not an interaction", http.StatusBadRequest)
		return
	}
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		if len(cb.ActionCallback.BlockActions) == 0 {
			break
		}
		act := *cb.ActionCallback.BlockActions[0]
		if act.ActionID == "status_page" {
			break // a link: Slack opens it
		}
		h.later(func(ctx context.Context) { h.blockAction(ctx, app, &cb, act) })
	case slack.InteractionTypeViewSubmission:
		h.submission(w, app, &cb)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// verify returns the app whose signing secret signed the request.
func (h *SlackActions) verify(header http.Header, body []byte) (*Slack, error) {
	var last error = errors.New("no Slack app with a signing secret is configured")
	for _, app := range h.opts.Apps {
		sv, err := slack.NewSecretsVerifier(header, app.opts.SigningSecret)
		switch {
		case errors.Is(err, slack.ErrExpiredTimestamp):
			return nil, errors.New("the request's timestamp is more than five minutes away: stale")
		case errors.Is(err, slack.ErrMissingHeaders):
			return nil, errors.New("the request is not signed (X-Slack-Signature, X-Slack-Request-Timestamp)")
		case err != nil:
			last = errors.New("the request's signature is malformed")
			continue
		}
		_, _ = sv.Write(body)
		if sv.Ensure() == nil {
			return app, nil
		}
		last = errors.New("the request's signature is wrong")
	}
	return nil, last
}

// parseForm returns the payload of an application/x-www-form-urlencoded
// body, as Slack sends every interaction.
func parseForm(body []byte) (string, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil || v.Get("payload") == "" {
		return "", errors.New("the body must be a form with a payload")
	}
	return v.Get("payload"), nil
}

// later runs fn after the request is answered, within actionTimeout.
func (h *SlackActions) later(fn func(ctx context.Context)) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		ctx, cancel := context.WithTimeout(h.ctx, actionTimeout)
		defer cancel()
		fn(ctx)
	}()
}

// slackUser is who an action was taken by, as recorded (by): the user's
// name and Slack id, on one line.
func slackUser(u slack.User) string {
	name := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, u.Name)
	id := clip(strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, u.ID), 40)
	if name == "" {
		return "Slack user " + id
	}
	return clip(name, 100) + " (Slack " + id + ")"
}

// blockAction runs one button of an incident's message.
func (h *SlackActions) blockAction(ctx context.Context, app *Slack, cb *slack.InteractionCallback, act slack.BlockAction) {
	id, err := strconv.ParseInt(act.Value, 10, 64)
	if err != nil || id <= 0 {
		h.explain(ctx, app, cb, "", "This button names no linkwatch incident.")
		return
	}
	by := slackUser(cb.User)
	switch act.ActionID {
	case actionAck:
		_, err = h.opts.Actions.Acknowledge(ctx, id, by)
	case actionResolve:
		_, err = h.opts.Actions.Resolve(ctx, id, by, resolvedNote)
	case actionUpdate, actionPostmortem:
		var inc linkwatch.Incident
		if inc, err = h.opts.Store.Incident(ctx, id); err != nil {
			break
		}
		if act.ActionID == actionUpdate && !inc.Open() {
			err = fmt.Errorf("incident %d is resolved: there is nothing to update; write its postmortem instead: %w", id, linkwatch.ErrConflict)
			break
		}
		meta := modalMeta{Incident: id, Channel: cb.Container.ChannelID, Thread: threadOf(cb)}
		view := updateModal(inc, meta)
		if act.ActionID == actionPostmortem {
			view = postmortemModal(inc, meta)
		}
		if _, err = app.api.OpenViewContext(ctx, cb.TriggerID, view); err != nil {
			h.opts.Log.Error("slack: cannot open a modal", "incident", id, "err", app.classify(err))
			h.explain(ctx, app, cb, "", "linkwatch could not open the form: Slack refused it. Try again, or use the admin API.")
			return
		}
	default:
		h.explain(ctx, app, cb, "", "linkwatch does not know this button.")
		return
	}
	if err != nil {
		h.explain(ctx, app, cb, "", h.why(ctx, id, err))
		return
	}
	h.opts.Log.Info("slack: incident action", "incident", id, "action", act.ActionID, "by", by)
}

// threadOf is the ts of the incident's opening message, where its thread
// is: the message the button is on.
func threadOf(cb *slack.InteractionCallback) string {
	if cb.Container.ThreadTs != "" {
		return cb.Container.ThreadTs
	}
	return cb.Container.MessageTs
}

// why explains to the user why an action was refused, in linkwatch's
// words: the engine's refusals (a resolved or unknown incident, an
// acknowledgement made already) as they are; other failures are logged
// and not detailed.
func (h *SlackActions) why(ctx context.Context, id int64, err error) string {
	switch {
	case errors.Is(err, linkwatch.ErrNotFound):
		return fmt.Sprintf("linkwatch has no incident #%d.", id)
	case errors.Is(err, linkwatch.ErrConflict):
		msg := strings.TrimSuffix(err.Error(), ": "+linkwatch.ErrConflict.Error())
		return "Not done: " + msg + "."
	case isBadInput(err):
		return "Not done: " + err.Error() + "."
	default:
		h.opts.Log.ErrorContext(ctx, "slack: incident action failed", "incident", id, "err", err)
		return "linkwatch could not do that (an internal error, logged). Try again, or use the admin API."
	}
}

// explain tells the user who acted, and only them, why nothing happened:
// through the response_url of a button's request, or an ephemeral
// message in channel for a modal's.
func (h *SlackActions) explain(ctx context.Context, app *Slack, cb *slack.InteractionCallback, channel, text string) {
	var err error
	text = escapeSlack(text)
	if cb.ResponseURL != "" {
		err = slack.PostWebhookCustomHTTPContext(ctx, cb.ResponseURL, app.client, &slack.WebhookMessage{
			Text: text, ResponseType: slack.ResponseTypeEphemeral, ReplaceOriginal: false})
	} else if channel != "" {
		_, err = app.api.PostEphemeralContext(ctx, channel, cb.User.ID, slack.MsgOptionText(text, false))
	}
	if err != nil {
		h.opts.Log.Warn("slack: cannot explain a refused action", "err", app.classify(err))
	}
}

// modalMeta is a modal's private metadata: which incident, and where to
// answer.
type modalMeta struct {
	Incident int64  `json:"incident"`
	Channel  string `json:"channel,omitempty"`
	Thread   string `json:"thread,omitempty"`
}

// The modals' callback ids and their fields' block ids (named as the
// admin API's fields, so its validation errors land on them).
const (
	updateCallback     = "incident_update"
	postmortemCallback = "incident_postmortem"
	fieldBody          = "body"
	fieldStatus        = "status"
	fieldVisibility    = "visibility"
	fieldPublish       = "publish"
)

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func option(value, label, description string) *slack.OptionBlockObject {
	var d *slack.TextBlockObject
	if description != "" {
		d = plain(description)
	}
	return slack.NewOptionBlockObject(value, plain(label), d)
}

func textInput(blockID, label, initial string, optional bool, max int) *slack.InputBlock {
	el := slack.NewPlainTextInputBlockElement(nil, blockID)
	el.Multiline, el.InitialValue, el.MaxLength = true, initial, max
	in := slack.NewInputBlock(blockID, plain(label), nil, el)
	in.Optional = optional
	return in
}

func metaOf(m modalMeta) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// updateModal asks for an update: its text, public (the status page and
// every channel, with a status) or internal (the timeline only).
func updateModal(inc linkwatch.Incident, meta modalMeta) slack.ModalViewRequest {
	statuses := []*slack.OptionBlockObject{
		option(string(linkwatch.StatusInvestigating), "Investigating", ""),
		option(string(linkwatch.StatusIdentified), "Identified", ""),
		option(string(linkwatch.StatusMonitoring), "Monitoring", ""),
	}
	status := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, fieldStatus, statuses...)
	status.InitialOption = statuses[0]
	for _, o := range statuses {
		if o.Value == string(inc.Status) {
			status.InitialOption = o
		}
	}
	public := option("public", "Public", "on the status page, and sent to every channel")
	vis := slack.NewRadioButtonsBlockElement(fieldVisibility, public, option("internal", "Internal", "on the incident's timeline only"))
	vis.InitialOption = public
	statusBlock := slack.NewInputBlock(fieldStatus, plain("Status (public updates)"), nil, status)
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: updateCallback, PrivateMetadata: metaOf(meta),
		Title: plain(clip(fmt.Sprintf("Update #%d", inc.ID), 24)), Submit: plain("Post"), Close: plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*"+escapeSlack(clip(inc.Title, 2900))+"*", false, false), nil, nil),
			textInput(fieldBody, "Update", "", false, 3000),
			slack.NewInputBlock(fieldVisibility, plain("Who sees it"), nil, vis),
			statusBlock,
		}},
	}
}

// postmortemModal asks for the postmortem, filled with what is written
// so far: primary cause, contributing factors, why it was not caught,
// notes, and whether to publish it on the status page.
func postmortemModal(inc linkwatch.Incident, meta modalMeta) slack.ModalViewRequest {
	pm := inc.Postmortem
	draft := option("draft", "Save as draft", "kept for on-call, not shown")
	publish := option("publish", "Publish", "shown on the status page")
	choice := slack.NewRadioButtonsBlockElement(fieldPublish, draft, publish)
	choice.InitialOption = draft
	if pm.Published {
		choice.InitialOption = publish
	}
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: postmortemCallback, PrivateMetadata: metaOf(meta),
		Title: plain(clip(fmt.Sprintf("Postmortem #%d", inc.ID), 24)), Submit: plain("Save"), Close: plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*"+escapeSlack(clip(inc.Title, 2900))+"*", false, false), nil, nil),
			textInput("primary_cause", "Primary cause", pm.PrimaryCause, true, 3000),
			textInput("contributing_factors", "Contributing factors", pm.ContributingFactors, true, 3000),
			textInput("why_not_caught", "Why it wasn't caught", pm.WhyNotCaught, true, 3000),
			textInput("notes", "Notes", pm.Notes, true, 3000),
			slack.NewInputBlock(fieldPublish, plain("Draft or publish"), nil, choice),
		}},
	}
}

// submission handles a modal's submission: its fields are checked at
// once, with the admin API's checks, and a bad one is shown on its field
// in the modal (response_action errors); a good one closes the modal, and
// the action runs after the answer.
func (h *SlackActions) submission(w http.ResponseWriter, app *Slack, cb *slack.InteractionCallback) {
	var meta modalMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.Incident <= 0 {
		w.WriteHeader(http.StatusOK) // not a modal of ours: closed, nothing done
		return
	}
	value := func(block string) string {
		if cb.View.State == nil {
			return ""
		}
		a := cb.View.State.Values[block][block]
		if a.SelectedOption.Value != "" {
			return a.SelectedOption.Value
		}
		return a.Value
	}
	by := slackUser(cb.User)
	var act func(ctx context.Context) error
	var err error
	switch cb.View.CallbackID {
	case updateCallback:
		body := value(fieldBody)
		if value(fieldVisibility) == "internal" {
			if err = admin.CheckNote(by, body); err == nil {
				act = func(ctx context.Context) error {
					if _, err := h.opts.Actions.PostNote(ctx, meta.Incident, by, body); err != nil {
						return err
					}
					h.noteInThread(ctx, app, meta, by, body)
					return nil
				}
			}
			break
		}
		status := linkwatch.IncidentStatus(value(fieldStatus))
		if err = admin.CheckUpdate(status, body); err == nil {
			act = func(ctx context.Context) error {
				_, err := h.opts.Actions.PostUpdate(ctx, meta.Incident, by, status, body)
				return err
			}
		}
	case postmortemCallback:
		pm := linkwatch.Postmortem{PrimaryCause: value("primary_cause"), ContributingFactors: value("contributing_factors"),
			WhyNotCaught: value("why_not_caught"), Notes: value("notes"), Published: value(fieldPublish) == "publish"}
		if err = admin.CheckPostmortem(pm); err == nil {
			act = func(ctx context.Context) error {
				_, err := h.opts.Actions.EditPostmortem(ctx, meta.Incident, pm)
				return err
			}
		}
	default:
		w.WriteHeader(http.StatusOK)
		return
	}
	if err != nil {
		field, msg, _ := admin.BadInput(err)
		if field == "by" {
			field = fieldBody // the user's name cannot be fixed in the form
		}
		writeViewErrors(w, map[string]string{field: clip(msg, 150)})
		return
	}
	h.later(func(ctx context.Context) {
		if err := act(ctx); err != nil {
			h.explain(ctx, app, cb, meta.Channel, h.why(ctx, meta.Incident, err))
			return
		}
		h.opts.Log.Info("slack: incident action", "incident", meta.Incident, "action", cb.View.CallbackID, "by", by)
	})
	w.WriteHeader(http.StatusOK)
}

// noteInThread posts an internal update to the incident's thread, where
// on-call reads: it goes to no other channel.
func (h *SlackActions) noteInThread(ctx context.Context, app *Slack, meta modalMeta, by, body string) {
	if meta.Channel == "" || meta.Thread == "" {
		return
	}
	text := fmt.Sprintf("🗒 Internal update by %s: %s", escapeSlack(by), escapeSlack(clip(body, 2900)))
	if _, _, err := app.api.PostMessageContext(ctx, meta.Channel, slack.MsgOptionTS(meta.Thread), slack.MsgOptionText(text, false)); err != nil {
		h.opts.Log.Warn("slack: cannot post an internal update to its thread", "incident", meta.Incident, "err", app.classify(err))
	}
}

func writeViewErrors(w http.ResponseWriter, errs map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(slack.NewErrorsViewSubmissionResponse(errs))
}

// isBadInput reports whether err is the admin API's refusal of a value.
func isBadInput(err error) bool {
	_, _, ok := admin.BadInput(err)
	return ok
}
