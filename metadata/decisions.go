package metadata

// Skipped records a table or column left out of a model, and why.
type Skipped struct {
	Object string
	Reason string
}

// Decisions is what building a model decided beyond the model itself:
// what it left out and what it renamed.
type Decisions struct {
	Skipped []Skipped
	Renamed []Rename
}
