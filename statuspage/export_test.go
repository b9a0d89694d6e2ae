package statuspage

// HumanDuration is exported for tests.
var HumanDuration = humanDuration
