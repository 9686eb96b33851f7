package tests

import (
	"encoding/json"
	"encoding/xml"
	"io"
)

func xmlUnmarshal(b []byte, v any) error { return xml.Unmarshal(b, v) }

func jsonEncoder(w io.Writer) *json.Encoder { return json.NewEncoder(w) }
