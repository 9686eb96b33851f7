package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

// checkCompose loads a Compose file as docker compose does (schema,
// interpolation, references between services) and checks that every
// service that publishes a port has a health check and that no secret is
// written into it.
func checkCompose(path string) error {
	abs, _ := filepath.Abs(path)
	opts, err := cli.NewProjectOptions([]string{abs}, cli.WithWorkingDirectory(filepath.Dir(abs)), cli.WithName("odatagw"),
		cli.WithEnv([]string{"POSTGRES_PASSWORD=check", "ODATAGW_ADMIN_TOKEN=check", "ODATAGW_AGENT_TOKEN=check"}))
	if err != nil {
		return err
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		return err
	}
	var problems []string
	for name, svc := range project.Services {
		if len(svc.Ports) > 0 && svc.HealthCheck == nil {
			problems = append(problems, name+": publishes a port without a health check")
		}
		raw, _ := os.ReadFile(abs)
		if strings.Contains(string(raw), "PASSWORD: ") && !strings.Contains(string(raw), "${") {
			problems = append(problems, "a password is written into the file")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	fmt.Printf("%s: %d services (%s) load as Compose reads them\n", filepath.Base(path), len(project.Services), strings.Join(project.ServiceNames(), ", "))
	return nil
}
