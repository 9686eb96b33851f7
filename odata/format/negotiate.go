package format

import (
	"mime"
	"strings"

	"github.com/odatagw/odatagw/odata"
)

// Metadata is the odata.metadata format parameter: how much control
// information a JSON response carries.
type Metadata int

const (
	MetadataMinimal Metadata = iota
	MetadataNone
	MetadataFull
)

// JSON holds the negotiated JSON options.
type JSON struct {
	Metadata Metadata
	// IEEE754 writes Int64 and Decimal as strings, for clients whose
	// numbers are doubles.
	IEEE754 bool
}

// ContentType is the Content-Type of a JSON response with these options.
func (j JSON) ContentType() string {
	ct := "application/json;odata.metadata=" + [...]string{"minimal", "none", "full"}[j.Metadata]
	if j.IEEE754 {
		ct += ";IEEE754Compatible=true"
	}
	return ct
}

// Negotiate picks the JSON options for a data response from $format (which
// wins) or the Accept header. Anything but JSON is 406.
func Negotiate(formatOption, accept string) (JSON, *odata.Error) {
	if formatOption != "" {
		return parseMediaRange(formatOption, true)
	}
	if strings.TrimSpace(accept) == "" {
		return JSON{}, nil
	}
	var firstErr *odata.Error
	for _, r := range strings.Split(accept, ",") {
		j, err := parseMediaRange(r, false)
		if err == nil {
			return j, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return JSON{}, odata.NotAcceptable("this service answers with application/json; the request accepts only %s", strings.TrimSpace(accept))
}

func parseMediaRange(r string, fromFormat bool) (JSON, *odata.Error) {
	r = strings.TrimSpace(r)
	if fromFormat && strings.EqualFold(r, "json") {
		return JSON{}, nil
	}
	mt, params, err := mime.ParseMediaType(r)
	if err != nil {
		// a $format value such as "application/json;odata.metadata=none" is
		// lenient about spaces; fall back to splitting by hand
		parts := strings.Split(r, ";")
		mt = strings.ToLower(strings.TrimSpace(parts[0]))
		params = map[string]string{}
		for _, p := range parts[1:] {
			k, v, _ := strings.Cut(p, "=")
			params[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	switch mt {
	case "application/json", "application/*", "*/*":
	default:
		if fromFormat {
			return JSON{}, odata.NotAcceptable("$format=%s is not supported; this service answers with json", r).WithTarget("$format")
		}
		return JSON{}, odata.NotAcceptable("%s is not supported", mt)
	}
	var j JSON
	for k, v := range params {
		switch strings.ToLower(k) {
		case "odata.metadata", "metadata":
			switch strings.ToLower(v) {
			case "minimal":
				j.Metadata = MetadataMinimal
			case "none":
				j.Metadata = MetadataNone
			case "full":
				j.Metadata = MetadataFull
			default:
				return JSON{}, odata.NotAcceptable("odata.metadata=%s is not one of minimal, none, full", v)
			}
		case "ieee754compatible":
			j.IEEE754 = strings.EqualFold(v, "true")
		}
	}
	return j, nil
}

// WantsJSONMetadata decides the $metadata format: CSDL XML unless $format
// asks for JSON, or Accept names JSON and not XML.
func WantsJSONMetadata(formatOption, accept string) (bool, *odata.Error) {
	if formatOption != "" {
		f := strings.ToLower(strings.TrimSpace(strings.Split(formatOption, ";")[0]))
		switch f {
		case "json", "application/json":
			return true, nil
		case "xml", "application/xml":
			return false, nil
		}
		return false, odata.NotAcceptable("$format=%s is not supported for $metadata; use xml or json", formatOption).WithTarget("$format")
	}
	if strings.TrimSpace(accept) == "" {
		return false, nil
	}
	xml, json := false, false
	for _, r := range strings.Split(accept, ",") {
		mt := strings.ToLower(strings.TrimSpace(strings.Split(r, ";")[0]))
		switch mt {
		case "application/xml", "text/xml", "*/*", "application/*":
			xml = true
		case "application/json":
			json = true
		}
	}
	switch {
	case xml:
		return false, nil
	case json:
		return true, nil
	}
	return false, odata.NotAcceptable("$metadata is available as application/xml or application/json")
}
