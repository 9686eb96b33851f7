// Package csdl writes the $metadata document of a service, as CSDL XML (what
// Salesforce reads at sync) and as CSDL JSON (what OData 4.01 clients may
// ask for), from a metadata.Service.
package csdl
