package odata

import (
	"strconv"
	"strings"
)

// Preferences holds the Prefer header values the service acts on.
type Preferences struct {
	MaxPageSize       int  // 0: none asked
	ReturnMinimal     bool // return=minimal
	ReturnFull        bool // return=representation
	TrackChanges      bool // odata.track-changes
	IncludeAnnotation string
}

// ParsePrefer reads every Prefer header. Unknown preferences are ignored, as
// the protocol requires; malformed values of known ones are ignored too, since
// a preference is never an error.
func ParsePrefer(values []string) Preferences {
	var p Preferences
	for _, v := range values {
		for _, part := range splitOutsideQuotes(v, ',') {
			name, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			name = strings.ToLower(strings.TrimSpace(name))
			val = strings.Trim(strings.TrimSpace(strings.SplitN(val, ";", 2)[0]), `"`)
			switch name {
			case "odata.maxpagesize", "maxpagesize":
				if n, err := strconv.Atoi(val); err == nil && n > 0 {
					p.MaxPageSize = n
				}
			case "return":
				p.ReturnMinimal = val == "minimal"
				p.ReturnFull = val == "representation"
			case "odata.track-changes", "track-changes":
				p.TrackChanges = true
			case "odata.include-annotations", "include-annotations":
				p.IncludeAnnotation = val
			}
		}
	}
	return p
}

func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
