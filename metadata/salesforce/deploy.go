package salesforce

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strings"
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

type dataSource struct {
	XMLName             xml.Name `xml:"ExternalDataSource"`
	NS                  string   `xml:"xmlns,attr"`
	CustomConfiguration string   `xml:"customConfiguration"`
	CustomHTTPHeaders   []header `xml:"customHttpHeaders,omitempty"`
	Endpoint            string   `xml:"endpoint"`
	IsWritable          bool     `xml:"isWritable"`
	Label               string   `xml:"label"`
	PrincipalType       string   `xml:"principalType"`
	Protocol            string   `xml:"protocol"`
	Type                string   `xml:"type"`
}

type header struct {
	HeaderFieldName  string `xml:"headerFieldName"`
	HeaderFieldValue string `xml:"headerFieldValue"`
	IsActive         bool   `xml:"isActive"`
}

type namedCredential struct {
	XMLName                 xml.Name `xml:"NamedCredential"`
	NS                      string   `xml:"xmlns,attr"`
	AllowMergeFieldsInBody  bool     `xml:"allowMergeFieldsInBody"`
	AllowMergeFieldsInHeads bool     `xml:"allowMergeFieldsInHeader"`
	Endpoint                string   `xml:"endpoint"`
	GenerateAuthHeader      bool     `xml:"generateAuthorizationHeader"`
	Label                   string   `xml:"label"`
	PrincipalType           string   `xml:"principalType"`
	Protocol                string   `xml:"protocol"`
	Username                string   `xml:"username,omitempty"`
}

type pkg struct {
	XMLName xml.Name  `xml:"Package"`
	NS      string    `xml:"xmlns,attr"`
	Types   []pkgType `xml:"types"`
	Version string    `xml:"version"`
}

type pkgType struct {
	Members []string `xml:"members"`
	Name    string   `xml:"name"`
}

const metadataNS = "http://soap.sforce.com/2006/04/metadata"

// Package writes a Metadata API package (zip, the layout `sf project
// deploy start --metadata-dir` reads) that creates the External Data
// Source for a source, with a Named Credential for its endpoint and,
// for basic auth, its user name. No secret goes in it: the password, the
// API token or the OAuth provider are entered in Setup after the deploy.
func Package(c Connection) ([]byte, error) {
	name := DeveloperName(c.Source)
	cfg := map[string]string{
		"inlineCountEnabled": "true", // Request Row Counts: SOQL COUNT(), batch Apex
		"pagination":         "SERVER",
		"noIdMapping":        "false",
		"requestCompression": "false",
		"compatibility":      "DEFAULT",
		"format":             "JSON",
		"timeout":            "120",
		"searchEnabled":      "true",
		"csrfTokenEnabled":   fmt.Sprint(c.CSRF),
	}
	if c.Tracked {
		cfg["ChangeTrackingEnabled"] = "true"
	}
	cfgJSON, _ := json.Marshal(cfg)
	ds := dataSource{NS: metadataNS, CustomConfiguration: string(cfgJSON), Endpoint: "callout:" + name,
		IsWritable: c.Writable, Label: "odatagw " + c.Source, PrincipalType: "NamedUser", Protocol: "NoAuthentication", Type: "OData4"}
	nc := namedCredential{NS: metadataNS, Endpoint: strings.TrimRight(c.ServiceURL, "/"), Label: "odatagw " + c.Source,
		PrincipalType: "Anonymous", Protocol: "NoAuthentication"}
	switch c.Auth {
	case "basic":
		// the credential sends Basic auth; its password is set in Setup
		nc.PrincipalType, nc.Protocol, nc.GenerateAuthHeader, nc.Username = "NamedUser", "Password", true, "salesforce"
	case "token_header":
		// the token goes in a custom header; its value is set in Setup
		ds.CustomHTTPHeaders = []header{{HeaderFieldName: c.TokenHeader, HeaderFieldValue: `"set the gateway user's API token here"`, IsActive: false}}
	case "bearer":
		nc.PrincipalType, nc.Protocol = "NamedUser", "Oauth"
	case "anonymous":
		ds.PrincipalType = "Anonymous"
	}
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	files := []struct {
		path string
		v    any
	}{
		{"package.xml", pkg{NS: metadataNS, Version: APIVersion, Types: []pkgType{
			{Members: []string{name}, Name: "ExternalDataSource"}, {Members: []string{name}, Name: "NamedCredential"}}}},
		{"dataSources/" + name + ".dataSource", ds},
		{"namedCredentials/" + name + ".namedCredential", nc},
	}
	for _, f := range files {
		w, err := z.Create("odatagw_" + name + "/" + f.path)
		if err != nil {
			return nil, err
		}
		if err := writeXML(w, f.v); err != nil {
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
