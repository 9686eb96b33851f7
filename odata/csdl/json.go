package csdl

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"

	"github.com/odatagw/odatagw/metadata"
)

// orderedObject keeps member order, which CSDL JSON readers (and people)
// rely on: $Kind and $Key before the properties.
type orderedObject []member

type member struct {
	key   string
	value any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// WriteJSON writes the CSDL JSON document (always $Version 4.01, the first
// version that defines CSDL JSON).
func WriteJSON(w io.Writer, svc *metadata.Service) error {
	schema := orderedObject{}
	container := orderedObject{{"$Kind", "EntityContainer"}}
	for _, es := range svc.Sets {
		t := es.Type
		keys := make([]string, len(t.Key))
		for i, k := range t.Key {
			keys[i] = k.Name
		}
		typ := orderedObject{{"$Kind", "EntityType"}, {"$Key", keys}}
		for _, p := range t.Properties {
			typ = append(typ, member{p.Name, jsonProperty(p)})
		}
		schema = append(schema, member{t.Name, typ})
		set := orderedObject{{"$Collection", true}, {"$Type", t.QualifiedName()}}
		if es.Description != "" {
			set = append(set, member{"@Core.Description", es.Description})
		}
		if es.ReadOnly {
			set = append(set,
				member{"@Capabilities.InsertRestrictions", orderedObject{{"Insertable", false}}},
				member{"@Capabilities.UpdateRestrictions", orderedObject{{"Updatable", false}}},
				member{"@Capabilities.DeleteRestrictions", orderedObject{{"Deletable", false}}})
		}
		if es.Tracked {
			set = append(set, member{"@Capabilities.ChangeTracking", orderedObject{{"Supported", true}}})
		}
		container = append(container, member{es.Name, set})
	}
	schema = append(schema, member{metadata.ContainerName, container})
	doc := orderedObject{
		{"$Version", "4.01"},
		{"$EntityContainer", metadata.Namespace + "." + metadata.ContainerName},
		{"$Reference", orderedObject{
			{coreVocabulary, orderedObject{{"$Include", []any{orderedObject{{"$Namespace", "Org.OData.Core.V1"}, {"$Alias", "Core"}}}}}},
			{capabilitiesVocabulary, orderedObject{{"$Include", []any{orderedObject{{"$Namespace", "Org.OData.Capabilities.V1"}, {"$Alias", "Capabilities"}}}}}},
		}},
		{metadata.Namespace, schema},
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

func jsonProperty(p *metadata.Property) orderedObject {
	o := orderedObject{}
	if p.Type != metadata.String {
		o = append(o, member{"$Type", string(p.Type)})
	}
	if p.Nullable {
		o = append(o, member{"$Nullable", true})
	}
	for _, f := range facets(p) {
		if n, err := strconv.Atoi(f[1]); err == nil {
			o = append(o, member{"$" + f[0], n})
		} else {
			o = append(o, member{"$" + f[0], f[1]})
		}
	}
	if p.Computed {
		o = append(o, member{"@Core.Computed", true})
	}
	if p.Description != "" {
		o = append(o, member{"@Core.Description", p.Description})
	}
	return o
}
