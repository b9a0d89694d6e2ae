package linkwatch

import "time"

// Member is one running replica, as its heartbeat row has it.
type Member struct {
	ID          string // unique per process start: NewID
	Region      string // "" is the one unnamed region
	Addr        string // where it serves, for people reading the table
	StartedAt   time.Time
	HeartbeatAt time.Time
}
