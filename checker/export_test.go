package checker

// NewTestCA lets the external tests sign certificates.
var NewTestCA = newTestCA
