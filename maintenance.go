package linkwatch

import "time"

// Maintenance is a window in which checks run and are recorded but no
// incident alerts go out. An empty Component means every component.
type Maintenance struct {
	ID        int64     `json:"id"`
	Title     string    `json:"title"`
	Component string    `json:"component"` // "" (global), "hub", "page:<slug>", "host:<host>" or "dest:<url>"
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedAt time.Time `json:"created_at"`
}

// Covers reports whether the window is active at t for any of components.
func (m Maintenance) Covers(t time.Time, components []string) bool {
	if t.Before(m.StartsAt) || !t.Before(m.EndsAt) {
		return false
	}
	if m.Component == "" {
		return true
	}
	for _, c := range components {
		if c == m.Component {
			return true
		}
	}
	return false
}
