package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/odatagw/odatagw/internal/config"
	"github.com/odatagw/odatagw/internal/control"
	"github.com/odatagw/odatagw/internal/dsn"
	"github.com/odatagw/odatagw/metadata/salesforce"
	"github.com/odatagw/odatagw/sources"
)

type salesforceCmd struct {
	Package salesforcePackageCmd `cmd:"" help:"Write the Metadata API package that sets Salesforce up for a source in one deploy: External Data Source, credentials, an external object per table and per summary set with its fields, lookups from the foreign keys, report types for the summaries and the lookups, and a permission set. Works from the configuration file or a DSN, without a running gateway."`
	Diff    salesforceDiffCmd    `cmd:"" help:"Compare the package with a metadata directory retrieved from the org and print what deploying would add, change and leave behind, and which lookups a Validate and Sync would overwrite. Exits 0 when they agree, 1 when they differ, 2 on bad input."`
}

// packageSource names the source and how to build its package.
type packageSource struct {
	Source        string `arg:"" placeholder:"SOURCE|SERVICE|DSN" help:"A source or a service of the configuration file (or demo, the embedded demo), or a DSN: postgres://..., mysql://... (or mariadb://...) or sqlite:PATH. A service's package is one data source for all its sources' objects."`
	Config        string `env:"ODATAGW_CONFIG" type:"existingfile" placeholder:"FILE" help:"The gateway's configuration file, whose sources and public_url are used."`
	Name          string `placeholder:"NAME" help:"The source's name at the gateway, for a DSN (default: the database's name): its service root is /odata/NAME/."`
	PublicURL     string `env:"ODATAGW_PUBLIC_URL" placeholder:"URL" help:"The URL Salesforce reaches the gateway at, e.g. https://odata.example.com (default: the configuration's public_url)."`
	OData         string `name:"odata" default:"4.01" enum:"4.01,4.0" help:"The External Data Source's type: OData 4.01 (default) or 4.0."`
	LegacyCredent bool   `name:"legacy-credential" help:"Write a legacy named credential (deprecated by Salesforce, OData 4.0 only) instead of a named credential with an External Credential."`
	Auth          string `enum:",basic,token,oauth,none" default:"" placeholder:"basic|token|oauth|none" help:"How Salesforce authenticates to the gateway: basic (a gateway user's name and password), token (a token user's API token in --token-header), oauth (bearer tokens from an identity provider) or none (anonymous). Default: the source's auth in the configuration, else basic, since a gateway refuses every call to a source without credentials configured."`
	TokenHeader   string `name:"token-header" default:"X-Api-Key" placeholder:"HEADER" help:"The header that carries the API token, with --auth token."`
}

// authNames are --auth's words and the source settings they stand for.
var authNames = map[string]func(h string) config.Auth{
	"basic": func(string) config.Auth { return config.Auth{Basic: true} },
	"token": func(h string) config.Auth { return config.Auth{TokenHeader: h} },
	"oauth": func(string) config.Auth { return config.Auth{Bearer: &config.Bearer{}} },
	"none":  func(string) config.Auth { return config.Auth{Anonymous: true} },
}

// authName is the --auth word for a source's auth, "" where it has none.
func authName(a config.Auth) string {
	switch {
	case a.Basic:
		return "basic"
	case a.Bearer != nil:
		return "oauth"
	case a.TokenHeader != "":
		return "token"
	case a.Anonymous:
		return "none"
	}
	return ""
}

// credential decides how the package's credential authenticates, from
// --auth and what the gateway serves the source with, and says what an
// admin must know: a source the gateway would refuse every call to, a
// package that contradicts the gateway, an anonymous package.
func (p packageSource) credential(name string, configured config.Auth, fromDSN bool) (config.Auth, []string) {
	var notes []string
	has := authName(configured)
	want := p.Auth
	switch {
	case want == "" && has != "":
		want = has
	case want == "":
		want = "basic"
		if fromDSN {
			notes = append(notes, "the credential is Password Authentication (--auth basic): serve the database with auth: {basic: true} in the configuration and a gateway user (odatagw user add); a gateway serves a source without credentials configured to nobody")
		} else {
			notes = append(notes, fmt.Sprintf("source %s has no auth section, so a gateway refuses every call to it; the credential is Password Authentication (--auth basic): add auth: {basic: true} to the source", name))
		}
	case has != "" && want != has:
		notes = append(notes, fmt.Sprintf("source %s is served with auth %s, but the package's credential is %s: Salesforce's calls will be refused until the two agree", name, has, want))
	}
	a := authNames[want](p.TokenHeader)
	if want == has {
		a = configured // keep the configured token header
	}
	a.CSRF = configured.CSRF
	if a.Anonymous {
		notes = append(notes, "WARNING: the package is anonymous (--auth none): Salesforce sends no credentials, so the gateway must let anyone who reaches it read and write this source (auth: {anonymous: true}, or serve --anonymous); keep it behind a proxy or client certificates that restrict who calls")
	}
	return a, notes
}

type salesforcePackageCmd struct {
	packageSource
	Out string `placeholder:"FILE.zip|DIR" help:"Where to write the package: a .zip file, or a directory for sf project deploy start --metadata-dir (default: odatagw_NAME.zip). Nothing is written unless the whole package is."`
}

type salesforceDiffCmd struct {
	packageSource
	Dir  string `arg:"" placeholder:"DIR" help:"The metadata directory retrieved from the org (sf project retrieve start --metadata ExternalDataSource CustomObject ReportType --target-metadata-dir DIR, then unzip DIR/unpackaged.zip)."`
	JSON bool   `help:"Print the differences as JSON."`
}

// differs is a diff that found differences: the command exits 1.
type differs struct{ n int }

func (d differs) Error() string {
	return fmt.Sprintf("deploying the package would make %d changes", d.n)
}

// bundle opens the source alone, without a gateway, and builds its package.
func (p packageSource) bundle(ctx context.Context, stderr io.Writer) (*salesforce.Bundle, string, error) {
	var file config.File
	if p.Config != "" {
		f, err := config.Load(p.Config)
		if err != nil {
			return nil, "", err
		}
		file = *f
	}
	name, settings := p.Source, config.Source{}
	_, kindErr := sources.KindOf(p.Source)
	if svc, ok := file.Services[p.Source]; ok && kindErr != nil {
		return p.serviceBundle(ctx, file, svc, stderr)
	}
	if kindErr == nil {
		settings.DSN = p.Source
		name = p.Name
		if name == "" {
			name = databaseName(p.Source)
		}
		if err := config.ValidSourceName(name); err != nil {
			return nil, "", fmt.Errorf("%w: give --name", err)
		}
	} else if s, ok := file.Sources[p.Source]; ok {
		settings = s
	} else if p.Source == "demo" {
		settings.Auth.Anonymous = true // as the gateway serves it
	} else if p.Config == "" {
		return nil, "", fmt.Errorf("%q is neither a DSN nor a source: give --config FILE to name one of its sources", p.Source)
	} else {
		return nil, "", fmt.Errorf("%s has no source named %q", p.Config, p.Source)
	}
	auth, notes := p.credential(name, settings.Auth, kindErr == nil)
	for _, n := range notes {
		fmt.Fprintln(stderr, "odatagw:", n)
	}
	settings.Auth = auth
	if err := settings.Check(); err != nil {
		return nil, "", err
	}
	root, err := p.root(file, name)
	if err != nil {
		return nil, "", err
	}
	form := salesforce.Form{ODataVersion: p.OData, LegacyCredential: p.LegacyCredent}
	var b *salesforce.Bundle
	err = control.Inspect(ctx, name, settings, file, func(_ context.Context, s sources.Source) error {
		var err error
		b, err = control.SalesforceBundle(name, root, settings, s.Metadata(), form)
		return err
	})
	if err != nil && settings.DSN != "" {
		return nil, "", fmt.Errorf("%s: %s", dsn.Redact(settings.DSN), dsn.Scrub(err.Error(), settings.DSN))
	}
	return b, name, err
}

// databaseName is a DSN's database, as a source name: shop for
// postgres://host/shop and for sqlite:/data/shop.db.
func databaseName(d string) string {
	_, rest, _ := strings.Cut(d, ":")
	rest, _, _ = strings.Cut(rest, "?")
	base := filepath.Base(strings.TrimRight(rest, "/"))
	base = strings.TrimSuffix(base, filepath.Ext(base))
	return base
}

func (c *salesforcePackageCmd) run(stdout, stderr io.Writer) error {
	ctx, cancel := ctxTimeout()
	defer cancel()
	b, name, err := c.bundle(ctx, stderr)
	if err != nil {
		return err
	}
	out := c.Out
	if out == "" {
		out = "odatagw_" + salesforce.DeveloperName(name) + ".zip"
	}
	if strings.HasSuffix(strings.ToLower(out), ".zip") {
		var data []byte
		if data, err = b.Zip(); err != nil {
			return err
		}
		err = writeFileAtomic(out, data)
	} else {
		err = writeDirAtomic(out, b.Files)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s, %s, %s\n", out, counted(len(b.Files), "file"), counted(len(b.Lookups), "lookup"), counted(len(b.ReportTypes), "report type"))
	for _, l := range b.Lookups {
		target := l.ReferenceTo
		if l.TargetField != "" {
			target = l.TargetField
		}
		fmt.Fprintf(stdout, "  %s.%s -> %s (%s, related list %s)\n", l.Set, l.Property, target, l.Kind, l.RelationshipName)
	}
	for _, r := range b.ReportTypes {
		fmt.Fprintf(stdout, "  report type %s: %s\n", r.Label, r.Name)
	}
	fmt.Fprintf(stdout, "deploy it with: sf project deploy start --metadata-dir DIR --dry-run (then without --dry-run)\n")
	return nil
}

func (c *salesforceDiffCmd) run(stdout, stderr io.Writer) error {
	org, err := salesforce.ReadDir(c.Dir)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Dir, err)
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	b, _, err := c.bundle(ctx, stderr)
	if err != nil {
		return err
	}
	d := b.Compare(org)
	if c.JSON {
		err = printJSON(stdout, d)
	} else {
		err = d.WriteText(stdout)
	}
	if err == nil && !d.Agree() {
		err = differs{len(d.Changes)}
	}
	return err
}

// writeFileAtomic writes data beside path and renames it into place, so
// that path holds the whole file or is left as it was.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// writeDirAtomic writes the files into a new directory beside dir and
// renames it into place. dir must not exist, or be empty.
func writeDirAtomic(dir string, files []salesforce.File) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty: write the package to a new directory", dir)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), "."+filepath.Base(dir)+".*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		p := filepath.Join(tmp, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	_ = os.Remove(dir) // an empty directory gives way
	return os.Rename(tmp, dir)
}

// root is the service root Salesforce is given for name.
func (p packageSource) root(file config.File, name string) (string, error) {
	base := p.PublicURL
	if base == "" {
		base = file.PublicURL
	}
	if base == "" {
		return "", errors.New("give --public-url (or ODATAGW_PUBLIC_URL, or public_url in the configuration): the URL Salesforce reaches the gateway at")
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("--public-url %q is not an http(s) URL", base)
	}
	return strings.TrimRight(base, "/") + "/odata/" + url.PathEscape(name) + "/", nil
}

// serviceBundle opens each source of a service alone, composes the
// service as a gateway would, and builds its one package.
func (p packageSource) serviceBundle(ctx context.Context, file config.File, svc config.Service, stderr io.Writer) (*salesforce.Bundle, string, error) {
	name := p.Source
	a, notes := p.credential(name, svc.Auth, false)
	for _, n := range notes {
		fmt.Fprintln(stderr, "odatagw:", strings.Replace(n, "source "+name, "service "+name, 1))
	}
	svc.Auth = a
	root, err := p.root(file, name)
	if err != nil {
		return nil, "", err
	}
	_, c, err := control.CheckService(ctx, name, svc, file)
	if err != nil {
		return nil, "", scrubMembers(err, file, svc)
	}
	members := map[string]config.Source{}
	for _, m := range svc.MemberNames() {
		members[m] = file.Sources[m]
	}
	b, err := control.ServiceBundle(name, root, svc, members, c, salesforce.Form{ODataVersion: p.OData, LegacyCredential: p.LegacyCredent})
	return b, name, err
}

// scrubMembers takes the members' passwords out of an error.
func scrubMembers(err error, file config.File, svc config.Service) error {
	msg := err.Error()
	for _, m := range svc.MemberNames() {
		if d := file.Sources[m].DSN; d != "" {
			msg = dsn.Scrub(msg, d)
		}
	}
	return errors.New(msg)
}
