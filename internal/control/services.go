package control

import (
	"fmt"
	"maps"
	"slices"
)

// startServices serves the configuration's services, once their sources
// are: a service whose names clash, whose relation is not one, or whose
// source is missing stops the start, saying what to change.
func (p *Plane) startServices() error {
	for _, name := range slices.Sorted(maps.Keys(p.services)) {
		cfg := p.services[name]
		if err := cfg.Check(name); err != nil {
			return err
		}
		if _, clash := p.data.Served(name); clash {
			return fmt.Errorf("service %s: a source has that name too; a service root has one name", name)
		}
		for _, m := range cfg.MemberNames() {
			if _, ok := p.data.Served(m); !ok {
				return fmt.Errorf("service %s: source %s is not served here: register it (the configuration's sources, or the admin API) before the service", name, m)
			}
		}
		if err := p.data.ServeService(name, cfg); err != nil {
			return err
		}
		p.log.Info("service composed", "service", name, "sources", cfg.MemberNames())
	}
	return nil
}

// Services are the services the gateway serves, by name.
func (p *Plane) Services() []string { return slices.Sorted(maps.Keys(p.services)) }
