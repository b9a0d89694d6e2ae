package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"linkwatch"
)

// upcomingShown is how many occurrences a recurring window's listing
// shows.
const upcomingShown = 3

// RecurringView is a recurring window as the admin API and the console
// show it: its duration in Go's words ("1h0m0s") and its next
// occurrences, the one in progress first.
type RecurringView struct {
	ID        int64                   `json:"id"`
	Title     string                  `json:"title"`
	Component string                  `json:"component"`
	Schedule  string                  `json:"schedule"`
	Duration  string                  `json:"duration"`
	CreatedAt time.Time               `json:"created_at"`
	Next      []linkwatch.Maintenance `json:"next"`
}

func viewRecurring(r linkwatch.RecurringMaintenance, now time.Time) RecurringView {
	return RecurringView{ID: r.ID, Title: r.Title, Component: r.Component, Schedule: r.Schedule, Duration: r.Duration.String(),
		CreatedAt: r.CreatedAt, Next: nonNil(r.Upcoming(now, upcomingShown))}
}

func (a *API) listRecurring(w http.ResponseWriter, r *http.Request) {
	list, err := a.RecurringMaintenance(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"recurring": list})
}

// RecurringMaintenance returns the recurring windows, oldest first, each
// with its next three occurrences.
func (a *API) RecurringMaintenance(ctx context.Context) ([]RecurringView, error) {
	list, err := a.store.ListRecurringMaintenance(ctx)
	if err != nil {
		return nil, err
	}
	now := a.now()
	out := make([]RecurringView, 0, len(list))
	for _, m := range list {
		out = append(out, viewRecurring(m, now))
	}
	return out, nil
}

// Maintenance returns the windows in progress and to come, one-off ones
// and the occurrences of recurring ones (storage's ListMaintenance).
func (a *API) Maintenance(ctx context.Context) ([]linkwatch.Maintenance, error) {
	list, err := a.store.ListMaintenance(ctx, a.now())
	return nonNil(list), err
}

// DeleteMaintenance removes a one-off window.
func (a *API) DeleteMaintenance(ctx context.Context, id int64) error {
	return a.store.DeleteMaintenance(ctx, id)
}

// DeleteRecurring removes a recurring window and all its occurrences.
func (a *API) DeleteRecurring(ctx context.Context, id int64) error {
	return a.store.DeleteRecurringMaintenance(ctx, id)
}

func (a *API) createRecurring(w http.ResponseWriter, r *http.Request) {
	var body RecurringRequest
	if err := decode(w, r, &body); err != nil {
		a.fail(w, r, err)
		return
	}
	m, err := a.CreateRecurring(r.Context(), body)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewRecurring(m, a.now()))
}

// RecurringRequest asks for a recurring maintenance window.
type RecurringRequest struct {
	Title     string `json:"title"`
	Component string `json:"component"`
	// Schedule is a cron expression (robfig/cron's standard parser), in
	// UTC unless it starts with CRON_TZ=<IANA zone>.
	Schedule string `json:"schedule"`
	// Duration is how long each occurrence lasts, as Go writes durations
	// ("1h", "90m"): whole minutes, at most maxMaintenance, and no longer
	// than the shortest time between two starts.
	Duration string `json:"duration"`
}

// CreateRecurring checks and stores a recurring maintenance window, for
// every way one is made (the admin API, the console); a bad field is an
// error naming it (CheckRecurring), and nothing is stored.
func (a *API) CreateRecurring(ctx context.Context, req RecurringRequest) (linkwatch.RecurringMaintenance, error) {
	m, err := a.CheckRecurring(req)
	if err != nil {
		return m, err
	}
	return a.store.CreateRecurringMaintenance(ctx, m)
}

// CheckRecurring validates a recurring window: an error names the field
// that is wrong.
func (a *API) CheckRecurring(req RecurringRequest) (linkwatch.RecurringMaintenance, error) {
	m := linkwatch.RecurringMaintenance{Title: req.Title, Component: req.Component, Schedule: strings.TrimSpace(req.Schedule)}
	if err := checkLine("title", req.Title, true, 200); err != nil {
		return m, err
	}
	if err := a.checkComponent(req.Component); err != nil {
		return m, err
	}
	if err := checkLine("schedule", req.Schedule, true, 200); err != nil {
		return m, err
	}
	schedule, err := linkwatch.ParseSchedule(m.Schedule)
	if err != nil {
		return m, &fieldError{"schedule", "is not a cron expression such as 0 2 * * SUN: " + err.Error()}
	}
	if strings.TrimSpace(req.Duration) == "" {
		return m, &fieldError{"duration", `is required, such as "1h" or "90m"`}
	}
	m.Duration, err = time.ParseDuration(strings.TrimSpace(req.Duration))
	switch {
	case err != nil:
		return m, &fieldError{"duration", fmt.Sprintf(`%q is not a duration such as "1h" or "90m"`, clipText(req.Duration, 40))}
	case m.Duration <= 0:
		return m, &fieldError{"duration", "must be positive"}
	case m.Duration%time.Minute != 0:
		return m, &fieldError{"duration", "must be whole minutes, as the schedule is"}
	case m.Duration > maxMaintenance:
		return m, &fieldError{"duration", fmt.Sprintf("a window may last at most %s", maxMaintenance)}
	}
	if gap, first, next := linkwatch.ShortestGap(schedule, a.now()); !first.IsZero() && m.Duration > gap {
		return m, &fieldError{"duration", fmt.Sprintf("an occurrence would overlap the next: the schedule starts at %s and again at %s, %s later",
			first.Format(time.RFC3339), next.Format(time.RFC3339), gap)}
	}
	return m, nil
}

func (a *API) deleteRecurring(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.DeleteRecurring(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
