// Package metadata is the entity data model of one service: entity types,
// properties with their Edm types and facets, keys and entity sets, each
// tied to the database object it stands for. A Service is built once per
// introspection and never changed afterwards, so readers share it freely.
//
// It also owns the naming rules that turn database names into names that
// Salesforce accepts as API names, deterministically.
package metadata
