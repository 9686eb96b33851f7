package sources

// Wrapper is a Source that wraps another (Traced does): Unwrap
// returns the one inside, so that an ability of the inner source is found
// through the wrapper (see As).
type Wrapper interface {
	Unwrap() Source
}

// As finds the first source in the chain from src inward that is a T, the
// way errors.As walks wrapped errors: a wrapper that has the ability
// itself is found before the source it wraps. It reports false when none is.
func As[T any](src Source) (T, bool) {
	for src != nil {
		if t, ok := src.(T); ok {
			return t, true
		}
		w, ok := src.(Wrapper)
		if !ok {
			break
		}
		src = w.Unwrap()
	}
	var zero T
	return zero, false
}
