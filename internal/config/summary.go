package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/odatagw/odatagw/metadata"
)

// Summary declares a summary set: an entity set whose rows are the groups
// of one table, computed by the database on every read.
//
//	sku_totals:
//	  from: order_lines
//	  dimensions: [sku, account_id.industry, {month: ordered_at}]
//	  measures: {lines: count, qty: sum(qty), avg_price: avg(unit_price)}
//	  where: "status ne 'cancelled'"
type Summary struct {
	From       string      `yaml:"from" json:"from"`
	Dimensions []Dimension `yaml:"dimensions" json:"dimensions"`
	Measures   Measures    `yaml:"measures" json:"measures,omitempty"`
	Where      string      `yaml:"where" json:"where,omitempty"`
}

// Dimension is what a summary groups by, written as a column ("sku"), a
// parent's column along a foreign key ("account_id.industry"), or a date
// bucket ({month: at}); as: names its property.
type Dimension struct {
	Column string
	Bucket string
	As     string
}

// Measures are a summary's aggregates by name, in the order written.
type Measures []Measure

// Measure is one aggregate: count, count_distinct(c), sum(c), avg(c),
// min(c) or max(c).
type Measure struct{ Name, Of string }

// set reads a dimension's keys: one bucket (or column) naming the
// column, and as.
func (d *Dimension) set(keys map[string]string) error {
	for k, v := range keys {
		switch {
		case k == "as":
			d.As = v
		case k == "column" || slices.Contains(metadata.Buckets, k):
			if d.Column != "" {
				return fmt.Errorf("a dimension groups by one column; %s and %s are two", d.Column, v)
			}
			d.Column = v
			if k != "column" {
				d.Bucket = k
			}
		default:
			return fmt.Errorf("a dimension has no %q: write a column, fk_column.parent_column, or a bucket {year|quarter|month|day: column}, with as: to name it", k)
		}
	}
	if d.Column == "" {
		return fmt.Errorf("a dimension needs a column: {month: created_at} or {column: sku, as: product}")
	}
	return nil
}

func (d *Dimension) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		d.Column = n.Value
		return nil
	}
	var keys map[string]string
	if err := n.Decode(&keys); err != nil {
		return fmt.Errorf("line %d: a dimension is a column name or a mapping such as {month: created_at}", n.Line)
	}
	if err := d.set(keys); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

func (d *Dimension) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &d.Column); err == nil {
		return nil
	}
	var keys map[string]string
	if err := json.Unmarshal(b, &keys); err != nil {
		return fmt.Errorf("a dimension is a column name or an object such as {\"month\": \"created_at\"}")
	}
	return d.set(keys)
}

// form is a dimension as it is written back: its column alone when it
// can be.
func (d Dimension) form() any {
	if d.Bucket == "" && d.As == "" {
		return d.Column
	}
	keys := map[string]string{"column": d.Column}
	if d.Bucket != "" {
		keys = map[string]string{d.Bucket: d.Column}
	}
	if d.As != "" {
		keys["as"] = d.As
	}
	return keys
}

func (d Dimension) MarshalJSON() ([]byte, error) { return json.Marshal(d.form()) }
func (d Dimension) MarshalYAML() (any, error)    { return d.form(), nil }

func (m *Measures) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: measures are a mapping of names to aggregates, such as {orders: count, total: sum(amount)}", n.Line)
	}
	*m = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: the measure %s is an aggregate such as sum(amount)", v.Line, k.Value)
		}
		*m = append(*m, Measure{Name: k.Value, Of: v.Value})
	}
	return nil
}

func (m *Measures) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	bad := fmt.Errorf("measures are an object of names to aggregates, such as {\"orders\": \"count\", \"total\": \"sum(amount)\"}")
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bad
	}
	*m = nil
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return bad
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("the measure %v is an aggregate such as \"sum(amount)\"", k)
		}
		*m = append(*m, Measure{Name: k.(string), Of: v})
	}
	return nil
}

// MarshalJSON writes the measures as an object, in their order.
func (m Measures) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, x := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(x.Name)
		v, _ := json.Marshal(x.Of)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (m Measures) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, x := range m {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: x.Name}, &yaml.Node{Kind: yaml.ScalarNode, Value: x.Of})
	}
	return n, nil
}

// checkSummaries holds what can be told of summaries without the
// database: each names its table and a dimension, each measure an
// aggregate the gateway computes. The rest (tables, columns, types) is
// checked when the source opens.
func checkSummaries(sums map[string]Summary) error {
	for _, name := range slices.Sorted(maps.Keys(sums)) {
		s := sums[name]
		bad := func(format string, args ...any) error {
			return &Invalid{"summaries", name + ": " + fmt.Sprintf(format, args...)}
		}
		if !metadata.ValidName(name) {
			return bad("not a valid Salesforce API name (letters, digits and _, starting with a letter, no __, no trailing _, at most %d characters)", metadata.MaxNameLength)
		}
		if strings.TrimSpace(s.From) == "" {
			return bad("from: name the table the summary groups")
		}
		if len(s.Dimensions) == 0 {
			return bad("dimensions: name at least one column the rows are grouped by")
		}
		for _, m := range s.Measures {
			fn, _, _ := strings.Cut(strings.TrimSpace(m.Of), "(")
			if !slices.Contains(metadata.Aggregates, strings.ToLower(strings.TrimSpace(fn))) {
				return bad("measures: %s: %q: write count, count_distinct(column), sum(column), avg(column), min(column) or max(column)", m.Name, m.Of)
			}
		}
	}
	return nil
}
