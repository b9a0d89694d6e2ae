package statuspage

import (
	"net/http"
	"strconv"
	"time"

	"linkwatch/incidents"
)

// The JSON types below follow the Atlassian Statuspage public API v2, field
// for field, so existing widgets and tools can read linkwatch.

type apiPage struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	TimeZone  string    `json:"time_zone"`
	UpdatedAt time.Time `json:"updated_at"`
}

type apiStatus struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

type apiComponent struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	Status             string    `json:"status"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	Position           int       `json:"position"`
	Description        *string   `json:"description"`
	Showcase           bool      `json:"showcase"`
	StartDate          *string   `json:"start_date"`
	GroupID            *string   `json:"group_id"`
	PageID             string    `json:"page_id"`
	Group              bool      `json:"group"`
	OnlyShowIfDegraded bool      `json:"only_show_if_degraded"`
	Components         []string  `json:"components,omitempty"`
}

type apiUpdate struct {
	ID                   string        `json:"id"`
	Status               string        `json:"status"`
	Body                 string        `json:"body"`
	IncidentID           string        `json:"incident_id"`
	CreatedAt            time.Time     `json:"created_at"`
	UpdatedAt            time.Time     `json:"updated_at"`
	DisplayAt            time.Time     `json:"display_at"`
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
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	MonitoringAt    *time.Time     `json:"monitoring_at"`
	ResolvedAt      *time.Time     `json:"resolved_at"`
	Impact          string         `json:"impact"`
	Shortlink       string         `json:"shortlink"`
	StartedAt       time.Time      `json:"started_at"`
	PageID          string         `json:"page_id"`
	IncidentUpdates []apiUpdate    `json:"incident_updates"`
	Components      []apiComponent `json:"components"`
	// For scheduled maintenances only.
	ScheduledFor   *time.Time `json:"scheduled_for,omitempty"`
	ScheduledUntil *time.Time `json:"scheduled_until,omitempty"`
}

const pageID = "linkwatch"

func (s *Server) apiPage(snap *Snapshot) apiPage {
	return apiPage{ID: pageID, Name: s.opts.Name, URL: s.opts.URL + "/status", TimeZone: "Etc/UTC", UpdatedAt: snap.At}
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
	a := apiComponent{ID: c.ID, Name: c.Name, Status: c.Status, CreatedAt: s.started, UpdatedAt: snap.At, Position: c.Position,
		Description: &desc, Showcase: true, PageID: pageID, Group: len(c.Children) > 0, Components: c.Children}
	if c.GroupID != "" {
		g := c.GroupID
		a.GroupID = &g
	}
	return a
}

func (s *Server) apiIncident(snap *Snapshot, v IncidentView) apiIncident {
	a := apiIncident{ID: strconv.FormatInt(v.ID, 10), Name: v.Title, Status: string(v.Status), CreatedAt: v.StartedAt,
		UpdatedAt: v.UpdatedAt, Impact: string(v.Impact), Shortlink: s.opts.URL + "/status#incident-" + strconv.FormatInt(v.ID, 10),
		StartedAt: v.StartedAt, PageID: pageID, IncidentUpdates: []apiUpdate{}, Components: []apiComponent{}}
	if !v.ResolvedAt.IsZero() {
		t := v.ResolvedAt
		a.ResolvedAt = &t
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
		if u.Status == incidents.StatusMonitoring && a.MonitoringAt == nil {
			t := u.CreatedAt
			a.MonitoringAt = &t
		}
		a.IncidentUpdates = append(a.IncidentUpdates, apiUpdate{ID: updateID(u), Status: string(u.Status), Body: u.Body,
			IncidentID: a.ID, CreatedAt: u.CreatedAt, UpdatedAt: u.CreatedAt, DisplayAt: u.CreatedAt,
			AffectedComponents: nonNil(affected), DeliverNotifications: true})
	}
	return a
}

func updateID(u incidents.Update) string {
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

func (s *Server) apiMaintenances(snap *Snapshot) []apiIncident {
	out := []apiIncident{}
	for _, m := range snap.Maintenance {
		status := "scheduled"
		if !snap.At.Before(m.StartsAt) {
			status = "in_progress"
		}
		from, until := m.StartsAt, m.EndsAt
		a := apiIncident{ID: "maintenance-" + strconv.FormatInt(m.ID, 10), Name: m.Title, Status: status, CreatedAt: m.CreatedAt,
			UpdatedAt: m.CreatedAt, Impact: "maintenance", Shortlink: s.opts.URL + "/status#maintenance-" + strconv.FormatInt(m.ID, 10),
			StartedAt: m.StartsAt, PageID: pageID, IncidentUpdates: []apiUpdate{}, Components: []apiComponent{},
			ScheduledFor: &from, ScheduledUntil: &until}
		for _, c := range snap.Components {
			if m.Component == "" || m.Component == c.ID {
				a.Components = append(a.Components, s.apiComponent(snap, c))
			}
		}
		out = append(out, a)
	}
	return out
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	snap, err := s.snapshot(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := s.apiPage(snap)
	status := apiStatus{Indicator: snap.Indicator, Description: snap.Description}
	var body any
	switch r.URL.Path {
	case "/api/v2/summary.json":
		body = map[string]any{"page": page, "components": s.apiComponents(snap), "incidents": s.apiIncidents(snap, true, false),
			"scheduled_maintenances": s.apiMaintenances(snap), "status": status}
	case "/api/v2/status.json":
		body = map[string]any{"page": page, "status": status}
	case "/api/v2/components.json":
		body = map[string]any{"page": page, "components": s.apiComponents(snap)}
	case "/api/v2/incidents.json":
		body = map[string]any{"page": page, "incidents": s.apiIncidents(snap, true, true)}
	case "/api/v2/incidents/unresolved.json":
		body = map[string]any{"page": page, "incidents": s.apiIncidents(snap, true, false)}
	case "/api/v2/scheduled-maintenances.json":
		body = map[string]any{"page": page, "scheduled_maintenances": s.apiMaintenances(snap)}
	default:
		http.NotFound(w, r)
		return
	}
	s.writeJSON(w, r, body)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
