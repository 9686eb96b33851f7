package metadata

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// MaxNameLength is the longest API name Salesforce accepts for an object or
// field, before it appends __x or __c.
const MaxNameLength = 40

// ValidName reports whether s follows Salesforce's API-name rules: ASCII
// letters, digits and '_', starting with a letter, no "__", no trailing '_',
// at most MaxNameLength characters.
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameLength || !isASCIILetter(s[0]) || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isASCIILetter(c) && !(c >= '0' && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

func isASCIILetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// Sanitize turns a database name into a valid API name. Accented Latin
// letters lose their accents; other characters become '_'; a name with no
// usable letters becomes prefix plus a digest of the original, so that the
// result is the same on every run and every replica.
func Sanitize(name, prefix string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(name) {
		switch {
		case r < 128 && (isASCIILetter(byte(r)) || (r >= '0' && r <= '9')):
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r):
			// a combining accent dropped after decomposition
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	for strings.Contains(s, "__") {
		s = strings.ReplaceAll(s, "__", "_")
	}
	s = strings.Trim(s, "_")
	if s == "" || strings.Trim(s, "_0123456789") == "" && len(s) < 2 {
		return prefix + digest(name)
	}
	if !isASCIILetter(s[0]) {
		s = prefix + s
	}
	if len(s) > MaxNameLength {
		s = strings.TrimRight(s[:MaxNameLength-9], "_") + "_" + digest(name)
	}
	return s
}

func digest(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return fmt.Sprintf("%08x", h.Sum32())
}

// Rename records one name that had to change, for the log and reports.
type Rename struct {
	Original string
	Name     string
	Reason   string
}

// AssignNames gives each original name a unique valid API name. overrides
// (original -> name) win; a name that is already valid is kept; others are
// sanitised. Names compare case-insensitively, as Salesforce's do. When
// several originals land on one name, an original that needed no change
// keeps it and the others get a suffix derived from their own original
// name, so adding a table never renames another.
func AssignNames(originals []string, overrides map[string]string, prefix string) (map[string]string, []Rename, error) {
	out := make(map[string]string, len(originals))
	var renames []Rename
	taken := map[string]string{} // lower-case name -> original
	sorted := append([]string(nil), originals...)
	// originals that need no change claim their names first
	sort.SliceStable(sorted, func(i, j int) bool {
		ai, aj := ValidName(sorted[i]) || overrides[sorted[i]] != "", ValidName(sorted[j]) || overrides[sorted[j]] != ""
		if ai != aj {
			return ai
		}
		return sorted[i] < sorted[j]
	})
	for _, orig := range sorted {
		name, reason := orig, ""
		if o := overrides[orig]; o != "" {
			if !ValidName(o) {
				return nil, nil, fmt.Errorf("name override %q for %q is not a valid Salesforce API name (letters, digits and _, starting with a letter, no __, no trailing _, at most %d characters)", o, orig, MaxNameLength)
			}
			name, reason = o, "override"
		} else if !ValidName(orig) {
			name, reason = Sanitize(orig, prefix), "sanitised"
		}
		if other, clash := taken[strings.ToLower(name)]; clash {
			if reason == "override" {
				return nil, nil, fmt.Errorf("name override %q for %q collides with %q", name, orig, other)
			}
			base := name
			if len(base) > MaxNameLength-9 {
				base = strings.TrimRight(base[:MaxNameLength-9], "_")
			}
			name, reason = base+"_"+digest(orig), "collision"
		}
		taken[strings.ToLower(name)] = orig
		out[orig] = name
		if reason != "" && name != orig {
			renames = append(renames, Rename{Original: orig, Name: name, Reason: reason})
		}
	}
	sort.Slice(renames, func(i, j int) bool { return renames[i].Original < renames[j].Original })
	return out, renames, nil
}

var (
	objectAPIName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	customField   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*__c$`)
)

// CheckExternalIDField tells whether v can name the target of an Indirect
// Lookup: Object.Field__c, a standard or custom object and one of its
// custom fields (a unique External ID field is always custom).
func CheckExternalIDField(v string) error {
	obj, field, ok := strings.Cut(v, ".")
	switch {
	case !ok || obj == "" || field == "":
		return fmt.Errorf("%q does not name a Salesforce field: write Object.Field__c, e.g. Account.ERP_Number__c", v)
	case !objectAPIName.MatchString(obj) || strings.HasSuffix(obj, "_") || len(strings.TrimSuffix(obj, "__c")) > MaxNameLength:
		return fmt.Errorf("%q: %s is not a Salesforce object's API name (Account, or a custom object such as Customer__c)", v, obj)
	case !customField.MatchString(field) || !ValidName(strings.TrimSuffix(field, "__c")):
		return fmt.Errorf("%q: %s is not a custom field's API name: an Indirect Lookup's target is a custom External ID field, ending in __c", v, field)
	}
	return nil
}
