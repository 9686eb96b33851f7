// Package metadata is the entity data model of one service: entity types,
// properties with their Edm types and facets, keys and entity sets, each
// tied to the database object it stands for. A Service is built once per
// introspection and never changed afterwards, so readers share it freely.
//
// It also owns the naming rules that turn database names into names that
// Salesforce accepts as API names, deterministically, and the vocabulary
// that describes a model beyond itself: what building it left out or
// renamed (Decisions), and the indexes its tables lack (IndexAdvice), so
// that what reads a model (the Salesforce package and report) needs no
// source.
package metadata
