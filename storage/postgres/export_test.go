package postgres

// Migrate and MigrationFS let tests build a database as an older build
// left it: every migration but some.
var (
	Migrate     = migrate
	MigrationFS = migrationFS
)

// LockSpaceMember is the advisory lock space of members' session locks.
const LockSpaceMember = lockSpaceMember
