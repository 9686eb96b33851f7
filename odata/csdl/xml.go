package csdl

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"

	"github.com/odatagw/odatagw/metadata"
)

const coreVocabulary = "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml"
const capabilitiesVocabulary = "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.xml"

// WriteXML writes the CSDL XML document; version is "4.0" or "4.01".
func WriteXML(w io.Writer, svc *metadata.Service, version string) error {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="` + version + `">` + "\n")
	b.WriteString(`  <edmx:Reference Uri="` + coreVocabulary + `">` + "\n")
	b.WriteString(`    <edmx:Include Namespace="Org.OData.Core.V1" Alias="Core"/>` + "\n")
	b.WriteString(`  </edmx:Reference>` + "\n")
	b.WriteString(`  <edmx:Reference Uri="` + capabilitiesVocabulary + `">` + "\n")
	b.WriteString(`    <edmx:Include Namespace="Org.OData.Capabilities.V1" Alias="Capabilities"/>` + "\n")
	b.WriteString(`  </edmx:Reference>` + "\n")
	b.WriteString(`  <edmx:DataServices>` + "\n")
	b.WriteString(`    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="` + metadata.Namespace + `">` + "\n")
	for _, es := range svc.Sets {
		writeEntityType(&b, es)
	}
	b.WriteString(`      <EntityContainer Name="` + metadata.ContainerName + `">` + "\n")
	for _, es := range svc.Sets {
		b.WriteString(`        <EntitySet Name="` + attr(es.Name) + `" EntityType="` + attr(es.Type.QualifiedName()) + `"`)
		if !es.ReadOnly && es.Description == "" && !es.Tracked {
			b.WriteString("/>\n")
			continue
		}
		b.WriteString(">\n")
		if es.Description != "" {
			b.WriteString(`          <Annotation Term="Core.Description" String="` + attr(es.Description) + `"/>` + "\n")
		}
		if es.ReadOnly {
			for _, term := range []string{"InsertRestrictions/Insertable", "UpdateRestrictions/Updatable", "DeleteRestrictions/Deletable"} {
				restriction, prop, _ := strings.Cut(term, "/")
				b.WriteString(`          <Annotation Term="Capabilities.` + restriction + `"><Record><PropertyValue Property="` + prop + `" Bool="false"/></Record></Annotation>` + "\n")
			}
		}
		if es.Tracked {
			// delta links: Salesforce's External Change Data Capture
			b.WriteString(`          <Annotation Term="Capabilities.ChangeTracking"><Record><PropertyValue Property="Supported" Bool="true"/></Record></Annotation>` + "\n")
		}
		b.WriteString("        </EntitySet>\n")
	}
	b.WriteString("      </EntityContainer>\n")
	b.WriteString("    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeEntityType(b *strings.Builder, es *metadata.EntitySet) {
	t := es.Type
	b.WriteString(`      <EntityType Name="` + attr(t.Name) + `">` + "\n")
	b.WriteString("        <Key>")
	for _, k := range t.Key {
		b.WriteString(`<PropertyRef Name="` + attr(k.Name) + `"/>`)
	}
	b.WriteString("</Key>\n")
	for _, p := range t.Properties {
		b.WriteString(`        <Property Name="` + attr(p.Name) + `" Type="` + string(p.Type) + `"`)
		if !p.Nullable {
			b.WriteString(` Nullable="false"`)
		}
		for _, f := range facets(p) {
			b.WriteString(` ` + f[0] + `="` + f[1] + `"`)
		}
		if !p.Computed && p.Description == "" {
			b.WriteString("/>\n")
			continue
		}
		b.WriteString(">\n")
		if p.Computed {
			b.WriteString(`          <Annotation Term="Core.Computed" Bool="true"/>` + "\n")
		}
		if p.Description != "" {
			b.WriteString(`          <Annotation Term="Core.Description" String="` + attr(p.Description) + `"/>` + "\n")
		}
		b.WriteString("        </Property>\n")
	}
	b.WriteString("      </EntityType>\n")
}

// facets lists the type facets of a property as attribute name and value.
func facets(p *metadata.Property) [][2]string {
	var f [][2]string
	if p.MaxLength > 0 && (p.Type == metadata.String || p.Type == metadata.Binary) {
		f = append(f, [2]string{"MaxLength", strconv.Itoa(p.MaxLength)})
	}
	switch p.Type {
	case metadata.Decimal:
		if p.Precision > 0 {
			f = append(f, [2]string{"Precision", strconv.Itoa(p.Precision)})
		}
		if p.ScaleSet {
			f = append(f, [2]string{"Scale", strconv.Itoa(p.Scale)})
		} else {
			f = append(f, [2]string{"Scale", "variable"})
		}
	case metadata.DateTimeOffset, metadata.TimeOfDay:
		if p.Precision > 0 {
			f = append(f, [2]string{"Precision", strconv.Itoa(p.Precision)})
		}
	}
	return f
}

func attr(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&quot;")
}
