// Package config reads the gateway's YAML configuration file and the
// NAME=DSN form of --source, and turns per-source settings into
// sources.Options.
package config
