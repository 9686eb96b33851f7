package salesforce

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/odatagw/odatagw/metadata"
)

// Connection is what Salesforce needs to know to call one source.
type Connection struct {
	Source      string // the gateway's source name
	ServiceURL  string // the service root, as Salesforce reaches it
	Writable    bool
	Tracked     bool   // change tracking is installed: delta links work
	CSRF        bool   // writes need X-CSRF-Token
	Auth        string // "basic", "token_header", "bearer" or "anonymous"
	TokenHeader string // the header an API token goes in
}

// APIVersion is the Metadata API version the package declares.
const APIVersion = "60.0"

var notName = regexp.MustCompile(`[^A-Za-z0-9]+`)

// DeveloperName turns a source name into a Salesforce developer name:
// letters, digits and single underscores, starting with a letter.
func DeveloperName(source string) string {
	n := strings.Trim(notName.ReplaceAllString(source, "_"), "_")
	if n == "" || n[0] < 'A' || (n[0] > 'Z' && n[0] < 'a') || n[0] > 'z' {
		n = "OData_" + n
	}
	return strings.Trim(n, "_")
}

// ODataVersion names the External Data Source's type: the 4.01 adapter
// (the default) or the 4.0 one.
const (
	OData401 = "4.01"
	OData40  = "4.0"
)

// dataSourceType is the ExternalDataSource type value of each adapter.
// metadata.wsdl's enumeration lists neither (adapter types are added to
// orgs apart from it); OData4 is what files retrieved from orgs carry for
// 4.0.
var dataSourceType = map[string]string{OData40: "OData4", OData401: "OData401"}

// Options say how the package sets Salesforce up for one source.
type Options struct {
	Connection
	Choices
	Form
}

// Form is what the admin picks when downloading a package, beyond the
// source's settings.
type Form struct {
	// ODataVersion is OData401 (default) or OData40.
	ODataVersion string `json:"odata_version,omitempty"`
	// LegacyCredential writes the deprecated named credential (URL and
	// authentication in one) instead of a SecuredEndpoint one with an
	// External Credential; Salesforce documents it for OData 4.0 only.
	LegacyCredential bool `json:"legacy_credential,omitempty"`
}

// File is one file of a package, its path relative to the package root.
type File struct {
	Path string
	Data []byte
}

// Bundle is a package for one source: the files, in the order a zip
// lists them, and what was decided in making them.
type Bundle struct {
	Name    string // the data source's developer name
	Files   []File
	Lookups []Lookup
	// ReportTypes are the custom report types it brings.
	ReportTypes []ReportTypeEntry
	objects     []customObject
	// reportTypes by developer name
	reportTypes map[string]reportType
}

// ReportTypeEntry names a report type of a package, as the report
// builder lists it.
type ReportTypeEntry struct {
	Name  string `json:"name"`
	Label string `json:"label"`
}

// PermissionSetName is the permission set a package grants its objects in.
func PermissionSetName(source string) string { return "odatagw_" + DeveloperName(source) }

// principal is the External Credential's one principal, which the
// permission set grants.
const principal = "Gateway"

// Package builds the Metadata API package (the layout `sf project deploy
// start --metadata-dir` reads) that sets Salesforce up for a source: the
// External Data Source and its credential, an external object per set
// with its fields, lookups from the foreign keys and the configured
// Indirect Lookups, a report type per summary set and per lookup, and a
// permission set granting them. No secret goes
// in it: the password, the API token or the OAuth client are entered in
// Setup after the deploy.
func Package(svc *metadata.Service, o Options) (*Bundle, error) {
	if o.ODataVersion == "" {
		o.ODataVersion = OData401
	}
	typ, ok := dataSourceType[o.ODataVersion]
	if !ok {
		return nil, fmt.Errorf("OData version %q: the data source's type is %s or %s", o.ODataVersion, OData401, OData40)
	}
	if o.LegacyCredential && o.ODataVersion != OData40 {
		return nil, fmt.Errorf("a legacy named credential works with the OData 4.0 type only (Salesforce lists it for 2.0 and 4.0): choose OData version %s, or leave the legacy credential out", OData40)
	}
	d := decide(svc, o.Choices)
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	name := DeveloperName(o.Source)
	search := false
	for _, es := range svc.Sets {
		search = search || len(es.SearchedProperties()) > 0
		o.Tracked = o.Tracked || es.Tracked
	}
	cfg := map[string]string{
		"inlineCountEnabled": "true", // Request Row Counts: SOQL COUNT(), batch Apex
		"pagination":         "SERVER",
		"noIdMapping":        "false",
		"requestCompression": "false",
		"compatibility":      "DEFAULT",
		"format":             "JSON",
		"timeout":            "120",
		"searchEnabled":      fmt.Sprint(search),
		"csrfTokenEnabled":   fmt.Sprint(o.CSRF),
	}
	if o.Tracked {
		cfg["ChangeTrackingEnabled"] = "true"
	}
	cfgJSON, _ := json.Marshal(cfg)
	label := clip("odatagw " + o.Source)
	ds := dataSource{NS: metadataNS, CustomConfiguration: string(cfgJSON), Endpoint: "callout:" + name,
		IsWritable: o.Writable, Label: label, PrincipalType: "Anonymous", Protocol: "NoAuthentication", Type: typ}
	b := &Bundle{Name: name}
	var members = map[string][]string{"ExternalDataSource": {name}, "NamedCredential": {name}, "PermissionSet": {PermissionSetName(o.Source)}}
	var files []struct {
		path string
		v    any
	}
	addFile := func(path string, v any) {
		files = append(files, struct {
			path string
			v    any
		}{path, v})
	}
	url := strings.TrimRight(o.ServiceURL, "/")
	if o.LegacyCredential {
		nc := legacyCredential(o.Connection, name, url, label)
		if o.Auth == "token_header" {
			ds.CustomHTTPHeaders = []header{{HeaderFieldName: o.TokenHeader, HeaderFieldValue: `"set the gateway user's API token here"`, IsActive: false}}
		}
		if o.Auth == "basic" || o.Auth == "bearer" {
			ds.PrincipalType = "NamedUser"
		}
		addFile("namedCredentials/"+name+".namedCredential", nc)
	} else {
		nc, ec := securedEndpoint(o.Connection, name, url, label)
		addFile("namedCredentials/"+name+".namedCredential", nc)
		addFile("externalCredentials/"+name+".externalCredential", ec)
		members["ExternalCredential"] = []string{name}
	}
	addFile("dataSources/"+name+".dataSource", ds)
	ps := permissionSet{NS: metadataNS, Label: clip("odatagw " + o.Source),
		Description:        "Access to the external objects of the odatagw source " + o.Source + ", and to the credential that reaches it.",
		DataSourceAccesses: []dataSourceAccess{{Enabled: true, DataSource: name}}}
	if !o.LegacyCredential {
		ps.PrincipalAccesses = []principalAccess{{Enabled: true, Principal: name + "-" + principal}}
	}
	for _, es := range svc.Sets {
		obj := objectFor(es, d, name)
		b.objects = append(b.objects, obj)
		objName := es.Name + "__x"
		members["CustomObject"] = append(members["CustomObject"], objName)
		addFile("objects/"+objName+".object", obj)
		writable := o.Writable && !es.ReadOnly
		ps.ObjectPermissions = append(ps.ObjectPermissions, objectPermission{AllowCreate: writable, AllowDelete: writable,
			AllowEdit: writable, AllowRead: true, Object: objName})
		for _, f := range obj.Fields {
			p, _ := es.Type.Property(f.ExternalDeveloperName)
			ps.FieldPermissions = append(ps.FieldPermissions, fieldPermission{
				Editable: writable && p != nil && !p.Computed, Field: objName + "." + f.FullName, Readable: true})
		}
		for _, p := range es.Type.Properties {
			if l, ok := d.lookups[p]; ok {
				b.Lookups = append(b.Lookups, l)
			}
		}
	}
	objects := map[string]customObject{}
	for _, o := range b.objects {
		objects[o.ExternalName] = o
	}
	b.reportTypes = reportTypes(svc, d, objects)
	for _, n := range reportTypeNames(b.reportTypes) {
		b.ReportTypes = append(b.ReportTypes, ReportTypeEntry{Name: n, Label: b.reportTypes[n].Label})
		members["ReportType"] = append(members["ReportType"], n)
		addFile("reportTypes/"+n+".reportType", b.reportTypes[n])
	}
	sort.Slice(ps.FieldPermissions, func(i, j int) bool { return ps.FieldPermissions[i].Field < ps.FieldPermissions[j].Field })
	addFile("permissionsets/"+PermissionSetName(o.Source)+".permissionset", ps)
	manifest := pkg{NS: metadataNS, Version: APIVersion}
	typeNames := make([]string, 0, len(members))
	for t := range members {
		typeNames = append(typeNames, t)
	}
	sort.Strings(typeNames)
	for _, t := range typeNames {
		ms := members[t]
		sort.Strings(ms)
		manifest.Types = append(manifest.Types, pkgType{Members: ms, Name: t})
	}
	var buf bytes.Buffer
	if err := writeXML(&buf, manifest); err != nil {
		return nil, err
	}
	b.Files = append(b.Files, File{Path: "package.xml", Data: bytes.Clone(buf.Bytes())})
	sort.SliceStable(files, func(i, j int) bool { return files[i].path < files[j].path })
	for _, f := range files {
		buf.Reset()
		if err := writeXML(&buf, f.v); err != nil {
			return nil, err
		}
		b.Files = append(b.Files, File{Path: f.path, Data: bytes.Clone(buf.Bytes())})
	}
	return b, nil
}

// legacyCredential is the deprecated form: URL and authentication in the
// named credential itself.
func legacyCredential(c Connection, name, url, label string) namedCredential {
	nc := namedCredential{NS: metadataNS, Endpoint: url, Label: label, PrincipalType: "Anonymous", Protocol: "NoAuthentication"}
	switch c.Auth {
	case "basic":
		// the credential sends Basic auth; its password is set in Setup
		nc.PrincipalType, nc.Protocol, nc.GenerateAuthHeader, nc.Username = "NamedUser", "Password", true, "salesforce"
	case "bearer":
		nc.PrincipalType, nc.Protocol, nc.GenerateAuthHeader = "NamedUser", "Oauth", true
	}
	return nc
}

// securedEndpoint is the current form: a named credential of type
// SecuredEndpoint holding the URL, and an External Credential whose
// protocol matches the source's authentication, with one named principal
// whose secrets are entered in Setup.
func securedEndpoint(c Connection, name, url, label string) (namedCredential, externalCredential) {
	nc := namedCredential{NS: metadataNS, CalloutStatus: "Enabled", Label: label, NamedCredentialType: "SecuredEndpoint",
		Parameters: []ncParameter{
			{ExternalCredential: name, ParameterName: "ExternalCredential", ParameterType: "Authentication"},
			{ParameterName: "Url", ParameterType: "Url", ParameterValue: url},
		}}
	ec := externalCredential{NS: metadataNS, Label: label, AuthenticationProtocol: "NoAuthentication",
		Parameters: []ecParameter{{ParameterGroup: principal, ParameterName: principal, ParameterType: "NamedPrincipal", SequenceNumber: 1}}}
	switch c.Auth {
	case "basic":
		// Salesforce sends the principal's user name and password, entered in Setup
		ec.AuthenticationProtocol, nc.GenerateAuthHeader = "Basic", true
		ec.Description = "HTTP Basic with a gateway user (odatagw user add): enter the user name and password on the " + principal + " principal in Setup."
	case "bearer":
		// Salesforce fetches a token with the client credentials flow; the
		// client and the identity provider's token URL are entered in Setup
		ec.AuthenticationProtocol, nc.GenerateAuthHeader = "Oauth", true
		ec.Parameters = append(ec.Parameters, ecParameter{ParameterName: "AuthProtocolVariant", ParameterType: "AuthProtocolVariant", ParameterValue: "ClientCredentialsClientSecret"})
		ec.Description = "OAuth 2.0 client credentials: enter the identity provider's token URL, the client id and its secret in Setup."
	case "token_header":
		// the token is the principal's Token parameter, sent in the header
		ec.AuthenticationProtocol, nc.AllowMergeFieldsInHeads = "Custom", true
		nc.Parameters = append(nc.Parameters, ncParameter{ParameterName: c.TokenHeader, ParameterType: "HttpHeader",
			ParameterValue: "{!$Credential." + name + ".Token}", SequenceNumber: 1})
		ec.Description = "An API token of a gateway token user (odatagw user add --token): enter it as the " + principal + " principal's Token parameter in Setup."
	default:
		ec.Description = "The source takes callers without credentials."
	}
	return nc, ec
}

// Zip is the package as a zip, its files under one folder named after the
// source, as `sf project deploy start --metadata-dir` takes it unzipped.
func (b *Bundle) Zip() ([]byte, error) {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	// a zero time is written as no date at all (DOS date 0), which
	// archivers show as 1980 or refuse; the entries carry when they were
	// written
	now := time.Now()
	for _, f := range b.Files {
		w, err := z.CreateHeader(&zip.FileHeader{Name: "odatagw_" + b.Name + "/" + f.Path, Method: zip.Deflate, Modified: now})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeXML(w io.Writer, v any) error {
	io.WriteString(w, xml.Header)
	enc := xml.NewEncoder(w)
	enc.Indent("", "    ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
