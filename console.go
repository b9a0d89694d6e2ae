package linkwatch

import "time"

// ConsoleSession is an operator signed in to the console (/admin). It is
// kept in the database, so every replica honours it and signing out ends
// it on all of them.
type ConsoleSession struct {
	// ID is the SHA-256 of the cookie's value, in hex: the value itself is
	// never stored, so reading the table gives no one a session.
	ID       string
	Operator string // who signed in: the actions' "by"
	// CSRF is the token every form of the session carries.
	CSRF      string
	Client    string // the address it was signed in from
	CreatedAt time.Time
	SeenAt    time.Time // the last request (idle expiry counts from it)
	ExpiresAt time.Time // the absolute expiry
}

// AuditEntry is one operator action in the console: who did what, when,
// from where, and how it ended.
type AuditEntry struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Action     string    `json:"action"` // "signin", "incident.acknowledge", ...
	IncidentID int64     `json:"incident_id,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	Client     string    `json:"client"`
	// Outcome is "ok", or why the action was refused or failed.
	Outcome string `json:"outcome"`
}

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	IncidentID int64 // 0: every entry
	Before     int64 // entries with a smaller id only (the next page); 0: from the newest
	Limit      int
}
