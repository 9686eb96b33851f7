package salesforce

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// TestPackage: the package names its two components in package.xml,
// points the data source at the named credential, carries the settings
// Salesforce needs, and no secret.
func TestPackage(t *testing.T) {
	for _, c := range []struct {
		conn Connection
		want []string
		not  []string
	}{
		{Connection{Source: "erp", ServiceURL: "https://odata.example.com/odata/erp/", Writable: true, Auth: "basic"},
			[]string{"<endpoint>callout:erp</endpoint>", "<isWritable>true</isWritable>", "<protocol>Password</protocol>",
				"<endpoint>https://odata.example.com/odata/erp</endpoint>", `&#34;inlineCountEnabled&#34;:&#34;true&#34;`, "<members>erp</members>",
				"<name>ExternalDataSource</name>", "<name>NamedCredential</name>", "<type>OData4</type>"},
			[]string{"<password>"}},
		{Connection{Source: "my-shop 2", ServiceURL: "https://x/odata/my-shop%202/", Auth: "token_header", TokenHeader: "X-API-Token", Tracked: true},
			[]string{"callout:my_shop_2", "<headerFieldName>X-API-Token</headerFieldName>", "<isWritable>false</isWritable>", "ChangeTrackingEnabled"},
			[]string{"<password>"}},
		{Connection{Source: "9lives", ServiceURL: "https://x/odata/9lives/", Auth: "anonymous"},
			[]string{"callout:OData_9lives", "<principalType>Anonymous</principalType>"}, nil},
	} {
		b, err := Package(c.conn)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		var all strings.Builder
		for _, f := range zr.File {
			rc, _ := f.Open()
			data, _ := io.ReadAll(rc)
			rc.Close()
			for dec := xml.NewDecoder(bytes.NewReader(data)); ; {
				if _, err := dec.Token(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("%s is not XML: %v", f.Name, err)
				}
			}
			all.WriteString(f.Name + "\n" + string(data))
		}
		for _, w := range c.want {
			if !strings.Contains(all.String(), w) {
				t.Errorf("%s: the package lacks %s:\n%s", c.conn.Source, w, all.String())
			}
		}
		for _, n := range c.not {
			if strings.Contains(all.String(), n) {
				t.Errorf("%s: the package holds %s", c.conn.Source, n)
			}
		}
	}
}
