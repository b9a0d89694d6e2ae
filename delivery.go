package linkwatch

import "time"

// Delivery is one outbox alert on its way to one channel.
type Delivery struct {
	ID       int64
	Channel  string
	Attempts int       // attempts made before this one
	FirstAt  time.Time // first attempt, zero before it
	NextAt   time.Time
	Alert    Alert
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

const (
	// DeliveryPending: to be sent at NextAt (again, after a failed attempt).
	DeliveryPending DeliveryStatus = "pending"
	// DeliverySent: the receiver took it (2xx).
	DeliverySent DeliveryStatus = "sent"
	// DeliveryDead: given up: refused for good (a 4xx other than 410, a
	// bad request) or failing for longer than the give-up time.
	DeliveryDead DeliveryStatus = "dead"
	// DeliveryDisabled: its channel was switched off (a 410 Gone, or an
	// operator) before it was sent.
	DeliveryDisabled DeliveryStatus = "disabled"
	// DeliveryFiltered: the channel's filters left it out: settled at
	// once, never sent, and left out of the delivery log.
	DeliveryFiltered DeliveryStatus = "filtered"
	// DeliverySkipped: an alert made while its subscription was paused:
	// never sent and left out of the delivery log, but kept so that
	// replay, once it is resumed, sends what it missed.
	DeliverySkipped DeliveryStatus = "skipped"
)

// Backlog is the outbox's deliveries not yet sent (pending, retries
// included): how many, and when the alert of the oldest was made (zero
// when none is pending).
type Backlog struct {
	Pending int64
	Oldest  time.Time
}

// Outcome is what became of a delivery attempt.
type Outcome struct {
	Status     DeliveryStatus // sent, pending, dead or disabled
	NextAt     time.Time
	HTTPStatus int
	Error      string // redacted
}

// DeliveryLog is one alert delivery to one channel, for the admin API.
type DeliveryLog struct {
	ID         int64          `json:"id"`
	EventID    string         `json:"event_id"`
	Type       AlertType      `json:"type"`
	IncidentID int64          `json:"incident_id"`
	Channel    string         `json:"channel"`
	Status     DeliveryStatus `json:"status"` // pending, sent, dead or disabled
	Attempts   int            `json:"attempts"`
	LastStatus int            `json:"last_status,omitempty"` // HTTP status of the last attempt
	LastError  string         `json:"last_error,omitempty"`  // redacted
	NextAt     time.Time      `json:"next_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	// CreatedAt is when the alert was made; FirstAt the first attempt of
	// the current round; Redeliveries how often an operator queued it
	// again (redeliver, replay).
	CreatedAt    time.Time `json:"created_at,omitzero"`
	FirstAt      time.Time `json:"first_at,omitzero"`
	Redeliveries int       `json:"redeliveries"`
}

// ChannelState is an alert channel as the admin API shows it.
type ChannelState struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	// DisabledAt and Reason say when and why it was switched off (a
	// receiver answering 410 Gone, or an operator).
	DisabledAt time.Time `json:"disabled_at,omitzero"`
	Reason     string    `json:"reason,omitempty"`
	// Deliveries counts its deliveries by status (pending, sent, dead, disabled).
	Deliveries map[DeliveryStatus]int64 `json:"deliveries"`
}
