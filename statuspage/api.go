package statuspage

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"
)

// apiTime is a timestamp as Statuspage writes it: UTC with milliseconds
// ("2024-05-01T10:20:30.123Z"), which some clients parse with a fixed
// layout that rejects both seconds-only and nanosecond times.
type apiTime time.Time

const apiTimeLayout = "2006-01-02T15:04:05.000Z07:00"

func (t apiTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(apiTimeLayout) + `"`), nil
}

func apiTimePtr(t time.Time) *apiTime {
	a := apiTime(t)
	return &a
}

// The JSON types below follow the Atlassian Statuspage public API v2, field
// for field, so existing widgets and tools can read linkwatch.

type apiPage struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	URL       string  `json:"url"`
	TimeZone  string  `json:"time_zone"`
	UpdatedAt apiTime `json:"updated_at"`
}

type apiStatus struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

type apiComponent struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	Status             string   `json:"status"`
	CreatedAt          apiTime  `json:"created_at"`
	UpdatedAt          apiTime  `json:"updated_at"`
	Position           int      `json:"position"`
	Description        *string  `json:"description"`
	Showcase           bool     `json:"showcase"`
	StartDate          *string  `json:"start_date"`
	GroupID            *string  `json:"group_id"`
	PageID             string   `json:"page_id"`
	Group              bool     `json:"group"`
	OnlyShowIfDegraded bool     `json:"only_show_if_degraded"`
	Components         []string `json:"components,omitempty"`
	// ResponseTime is linkwatch's own field, on destinations only:
	// Statuspage clients ignore it.
	ResponseTime *apiResponseTime `json:"response_time,omitempty"`
}

// apiResponseTime is a destination's response time over the last 24
// hours: its median and 95th percentile over the checks that got a
// response, null (no data) without any.
type apiResponseTime struct {
	Window    string `json:"window"`
	Responses int64  `json:"responses"`
	P50MS     *int64 `json:"p50_ms"`
	P95MS     *int64 `json:"p95_ms"`
}

type apiUpdate struct {
	ID                   string        `json:"id"`
	Status               string        `json:"status"`
	Body                 string        `json:"body"`
	IncidentID           string        `json:"incident_id"`
	CreatedAt            apiTime       `json:"created_at"`
	UpdatedAt            apiTime       `json:"updated_at"`
	DisplayAt            apiTime       `json:"display_at"`
	AffectedComponents   []apiAffected `json:"affected_components"`
	DeliverNotifications bool          `json:"deliver_notifications"`
	CustomTweet          *string       `json:"custom_tweet"`
	TweetID              *string       `json:"tweet_id"`
}

type apiAffected struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

type apiIncident struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	Status          string         `json:"status"`
	CreatedAt       apiTime        `json:"created_at"`
	UpdatedAt       apiTime        `json:"updated_at"`
	MonitoringAt    *apiTime       `json:"monitoring_at"`
	ResolvedAt      *apiTime       `json:"resolved_at"`
	Impact          string         `json:"impact"`
	Shortlink       string         `json:"shortlink"`
	StartedAt       apiTime        `json:"started_at"`
	PageID          string         `json:"page_id"`
	IncidentUpdates []apiUpdate    `json:"incident_updates"`
	Components      []apiComponent `json:"components"`
	// For scheduled maintenances only.
	ScheduledFor   *apiTime `json:"scheduled_for,omitempty"`
	ScheduledUntil *apiTime `json:"scheduled_until,omitempty"`
}

const pageID = "linkwatch"

// apiPage describes the status page the API answers for: every page at
// /status, one at /status/{page}. Widgets link visitors to its URL.
// pageID is the API's page id: one per scope.
func (s *Snapshot) pageID() string {
	if s.Scope != "" {
		return pageID + "-" + s.Scope
	}
	return pageID
}

func (s *Server) apiPage(snap *Snapshot) apiPage {
	p := apiPage{ID: snap.pageID(), Name: s.opts.Name, URL: s.opts.URL + "/status", TimeZone: "Etc/UTC", UpdatedAt: apiTime(snap.At)}
	if snap.Scope != "" {
		p.URL += "/" + snap.Scope
		if c, ok := snap.byKeyOf(linkwatch.PageComponent(snap.Scope)); ok {
			p.Name = c.Name + " · " + s.opts.Name
		}
	}
	return p
}

func (s *Server) apiComponents(snap *Snapshot) []apiComponent {
	out := make([]apiComponent, 0, len(snap.Components))
	for _, c := range snap.Components {
		out = append(out, s.apiComponent(snap, c))
	}
	return out
}

func (s *Server) apiComponent(snap *Snapshot, c *Component) apiComponent {
	desc := c.Description
	a := apiComponent{ID: c.ID, Name: c.Name, Status: c.Status, CreatedAt: apiTime(s.started), UpdatedAt: apiTime(snap.At), Position: c.Position,
		Description: &desc, Showcase: true, PageID: snap.pageID(), Group: len(c.Children) > 0, Components: c.Children}
	if c.GroupID != "" {
		g := c.GroupID
		a.GroupID = &g
	}
	if l := c.Latency; l != nil {
		a.ResponseTime = &apiResponseTime{Window: "24h", Responses: l.Responses}
		if l.Responses > 0 {
			p50, p95 := l.P50.Milliseconds(), l.P95.Milliseconds()
			a.ResponseTime.P50MS, a.ResponseTime.P95MS = &p50, &p95
		}
	}
	return a
}

// statusPostmortem is Statuspage's incident status once a resolved
// incident's postmortem is published.
const statusPostmortem = "postmortem"

func (s *Server) apiIncident(snap *Snapshot, v IncidentView) apiIncident {
	a := apiIncident{ID: strconv.FormatInt(v.ID, 10), Name: v.Title, Status: string(v.Status), CreatedAt: apiTime(v.StartedAt),
		UpdatedAt: apiTime(v.UpdatedAt), Impact: string(v.Impact), Shortlink: s.opts.URL + "/status#incident-" + strconv.FormatInt(v.ID, 10),
		StartedAt: apiTime(v.StartedAt), PageID: snap.pageID(), IncidentUpdates: []apiUpdate{}, Components: []apiComponent{}}
	if !v.ResolvedAt.IsZero() {
		a.ResolvedAt = apiTimePtr(v.ResolvedAt)
		if v.Postmortem.Published {
			a.Status = statusPostmortem
			if pm := v.Postmortem.UpdatedAt; pm.After(v.UpdatedAt) {
				a.UpdatedAt = apiTime(pm)
			}
		}
	}
	var affected []apiAffected
	for _, id := range v.Components {
		if c, ok := snap.Component(id); ok {
			a.Components = append(a.Components, s.apiComponent(snap, c))
			newStatus := c.Status
			if !v.Open() {
				newStatus = Operational
			}
			affected = append(affected, apiAffected{Code: c.ID, Name: c.Name, OldStatus: Operational, NewStatus: newStatus})
		}
	}
	for _, u := range v.Updates {
		if u.Status == linkwatch.StatusMonitoring && a.MonitoringAt == nil {
			a.MonitoringAt = apiTimePtr(u.CreatedAt)
		}
		at := apiTime(u.CreatedAt)
		a.IncidentUpdates = append(a.IncidentUpdates, apiUpdate{ID: updateID(u), Status: string(u.Status), Body: u.Body,
			IncidentID: a.ID, CreatedAt: at, UpdatedAt: at, DisplayAt: at,
			AffectedComponents: nonNil(affected), DeliverNotifications: true})
	}
	return a
}

func updateID(u linkwatch.Update) string {
	switch {
	case u.ID == -u.IncidentID*10-1:
		return strconv.FormatInt(u.IncidentID, 10) + "-opened"
	case u.ID == -u.IncidentID*10-2:
		return strconv.FormatInt(u.IncidentID, 10) + "-resolved"
	}
	return strconv.FormatInt(u.ID, 10)
}

func (s *Server) apiIncidents(snap *Snapshot, open, history bool) []apiIncident {
	out := []apiIncident{}
	if open {
		for _, v := range snap.Open {
			out = append(out, s.apiIncident(snap, v))
		}
	}
	if history {
		for _, v := range snap.History {
			out = append(out, s.apiIncident(snap, v))
		}
	}
	return out
}

// Which maintenances a list shows, as Statuspage's endpoints do: the
// summary lists the upcoming and in-progress ones, scheduled-maintenances
// the most recent, completed ones included.
const (
	maintCurrent = iota // scheduled and in progress
	maintAll            // and completed, at most maxMaintenances
	maintUpcoming
	maintActive
)

// maxMaintenances is how many maintenances scheduled-maintenances.json
// lists, as Statuspage's does.
const maxMaintenances = 50

func (s *Server) apiMaintenances(snap *Snapshot, which int) []apiIncident {
	windows := snap.Maintenance
	if which == maintAll {
		past := slices.Clone(snap.pastMaintenance)
		slices.Reverse(past) // the latest first
		windows = slices.Concat(windows, past)
		windows = windows[:min(len(windows), maxMaintenances)]
	}
	out := []apiIncident{}
	for _, m := range windows {
		status, updated := "scheduled", m.CreatedAt
		switch {
		case !snap.At.Before(m.EndsAt):
			status, updated = "completed", m.EndsAt
		case !snap.At.Before(m.StartsAt):
			status = "in_progress"
		}
		if (which == maintUpcoming && status != "scheduled") || (which == maintActive && status != "in_progress") {
			continue
		}
		a := apiIncident{ID: "maintenance-" + m.Ref(), Name: m.Title, Status: status, CreatedAt: apiTime(m.CreatedAt),
			UpdatedAt: apiTime(updated), Impact: "maintenance", Shortlink: s.opts.URL + "/status#maintenance-" + m.Ref(),
			StartedAt: apiTime(m.StartsAt), PageID: snap.pageID(), IncidentUpdates: []apiUpdate{}, Components: []apiComponent{},
			ScheduledFor: apiTimePtr(m.StartsAt), ScheduledUntil: apiTimePtr(m.EndsAt)}
		if status == "completed" {
			a.ResolvedAt = apiTimePtr(m.EndsAt)
		}
		for _, c := range snap.Components {
			if covers(m, c) {
				a.Components = append(a.Components, s.apiComponent(snap, c))
			}
		}
		out = append(out, a)
	}
	return out
}

// apiEndpoints are the Statuspage API v2 endpoints served, without ".json".
var apiEndpoints = []string{"summary", "status", "components", "incidents", "incidents/unresolved",
	"scheduled-maintenances", "scheduled-maintenances/upcoming", "scheduled-maintenances/active"}

// apiHandler answers one endpoint, for every page or for the page in the
// path.
func (s *Server) apiHandler(endpoint string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scope := mux.Vars(r)["page"]
		if scope != "" && !s.pageExists(scope) {
			s.apiNotFound(w, r)
			return
		}
		snap, err := s.snapshot(r.Context(), scope)
		if errors.Is(err, errNoSnapshot) {
			s.apiUnavailable(w, r)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		page := s.apiPage(snap)
		status := apiStatus{Indicator: snap.Indicator, Description: snap.Description}
		var body any
		switch endpoint {
		case "summary":
			body = map[string]any{"page": page, "components": s.apiComponents(snap), "incidents": s.apiIncidents(snap, true, false),
				"scheduled_maintenances": s.apiMaintenances(snap, maintCurrent), "status": status}
		case "status":
			body = map[string]any{"page": page, "status": status}
		case "components":
			body = map[string]any{"page": page, "components": s.apiComponents(snap)}
		case "incidents":
			body = map[string]any{"page": page, "incidents": s.apiIncidents(snap, true, true)}
		case "incidents/unresolved":
			body = map[string]any{"page": page, "incidents": s.apiIncidents(snap, true, false)}
		case "scheduled-maintenances":
			body = map[string]any{"page": page, "scheduled_maintenances": s.apiMaintenances(snap, maintAll)}
		case "scheduled-maintenances/upcoming":
			body = map[string]any{"page": page, "scheduled_maintenances": s.apiMaintenances(snap, maintUpcoming)}
		case "scheduled-maintenances/active":
			body = map[string]any{"page": page, "scheduled_maintenances": s.apiMaintenances(snap, maintActive)}
		}
		s.writeJSON(w, r, body)
	}
}

// apiNotFound answers an unknown API path with a JSON 404, in the shape
// Statuspage uses for errors.
func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Access-Control-Allow-Origin", "*")
	s.write(w, r, http.StatusNotFound, []byte(`{"error":"Not found","status":404}`+"\n"))
}

// apiUnavailable answers while there is no state to show yet (see
// errNoSnapshot) with a JSON 503 that says when to try again.
func (s *Server) apiUnavailable(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Retry-After", retryAfter)
	h.Set("Cache-Control", "no-store")
	s.write(w, r, http.StatusServiceUnavailable, []byte(`{"error":"Service unavailable","status":503}`+"\n"))
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
