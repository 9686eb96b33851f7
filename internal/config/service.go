package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Service serves several registered sources under one service root, so
// that Salesforce reaches all of them through one External Data Source.
type Service struct {
	// Sources are the members, by source name.
	Sources map[string]Member `yaml:"sources" json:"sources"`
	// Names gives single sets a name of their own: "source.set" -> name.
	Names map[string]string `yaml:"names" json:"names,omitempty"`
	// Relations relate a column to the unique column of another member's
	// set: "set.property" (the service's names) -> "source.set.property"
	// (the member's own). Salesforce's package makes each an External
	// Lookup where the target is its set's key.
	Relations map[string]string `yaml:"relations" json:"relations,omitempty"`
	// Auth says who may call the service, as a source's auth does.
	Auth Auth `yaml:"auth" json:"auth"`
	// ReadOnly serves every set of the service read-only, whatever the
	// members allow.
	ReadOnly bool `yaml:"read_only" json:"read_only,omitempty"`
	// CalloutsPerHour is the hourly OData callout limit of the org that
	// calls the service (default 20,000).
	CalloutsPerHour int `yaml:"callouts_per_hour" json:"callouts_per_hour,omitempty"`
}

// Member is how a source takes part in a service.
type Member struct {
	// Prefix goes before each of the source's set names in the service
	// (shop_ makes orders shop_orders).
	Prefix string `yaml:"prefix" json:"prefix,omitempty"`
}

// setName is what a prefix or a set's own name may hold: an OData
// identifier, as Salesforce turns it into an API name.
var setName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// Check holds a service's settings to what can be served, before any
// member is opened; the names and relations are checked against the
// members' models when the service starts (package compose).
func (s Service) Check(name string) error {
	if err := ValidSourceName(name); err != nil {
		return fmt.Errorf("service %s: %w", name, err)
	}
	if len(s.Sources) == 0 {
		return &Invalid{"services." + name + ".sources", "a service needs at least one source"}
	}
	for _, m := range slices.Sorted(maps.Keys(s.Sources)) {
		if p := s.Sources[m].Prefix; p != "" && !setName.MatchString(p) {
			return &Invalid{"services." + name + ".sources." + m + ".prefix", fmt.Sprintf("%q: letters, digits and _, starting with a letter or _", p)}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Names)) {
		member, _, ok := strings.Cut(k, ".")
		if !ok {
			return &Invalid{"services." + name + ".names", fmt.Sprintf("%q: write source.set", k)}
		}
		if _, in := s.Sources[member]; !in {
			return &Invalid{"services." + name + ".names", fmt.Sprintf("%s: %s is not a source of the service", k, member)}
		}
		if !setName.MatchString(s.Names[k]) {
			return &Invalid{"services." + name + ".names", fmt.Sprintf("%s: %q: letters, digits and _, starting with a letter or _", k, s.Names[k])}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Relations)) {
		to := s.Relations[k]
		if strings.Count(to, ".") < 2 {
			return &Invalid{"services." + name + ".relations", fmt.Sprintf("%s: %q: write source.set.property", k, to)}
		}
		member, _, _ := strings.Cut(to, ".")
		if _, in := s.Sources[member]; !in {
			return &Invalid{"services." + name + ".relations", fmt.Sprintf("%s: %s is not a source of the service", k, member)}
		}
		if !strings.Contains(k, ".") {
			return &Invalid{"services." + name + ".relations", fmt.Sprintf("%q: write set.property, in the service's names", k)}
		}
	}
	if s.CalloutsPerHour < 0 {
		return &Invalid{"services." + name + ".callouts_per_hour", "cannot be negative"}
	}
	return nil
}

// MemberNames lists the members, sorted.
func (s Service) MemberNames() []string { return slices.Sorted(maps.Keys(s.Sources)) }
