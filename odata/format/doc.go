// Package format writes OData JSON: primitive values as the OData JSON
// format requires for their Edm type, entities with their control
// information, and it negotiates the response format from $format and
// Accept.
package format
