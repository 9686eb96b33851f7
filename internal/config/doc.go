// Package config holds the gateway's settings: the YAML configuration
// file, the NAME=DSN form of --source, and Source, the one type that says
// how a data source is served, wherever the settings come from. It
// imports nothing of the gateway's, so that every stage may use it.
package config
