package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// stateDir is where a gateway keeps its state by default:
// $XDG_STATE_HOME/odatagw, else ~/.local/state/odatagw.
func stateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "odatagw")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "odatagw")
	}
	return "odatagw-state"
}

// defaultState is the state store's default location.
func defaultState() string { return filepath.Join(stateDir(), "state.db") }

// isFileState reports whether a --state value names a file.
func isFileState(state string) bool {
	return state != "" && !strings.Contains(state, "://")
}

// filesDir is where the token and key files live: beside a file store,
// else the default directory.
func filesDir(state string) string {
	if isFileState(state) {
		return filepath.Dir(strings.TrimPrefix(state, "sqlite:"))
	}
	return stateDir()
}

// secretFile returns the secret in path, creating it (readable by its
// owner only) when it does not exist yet.
func secretFile(path string) (value string, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", false, fmt.Errorf("%s is empty", path)
		}
		return v, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	v := base64.RawURLEncoding.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another process made it first
			return secretFile(path)
		}
		return "", false, err
	}
	defer f.Close()
	if _, err := f.WriteString(v + "\n"); err != nil {
		return "", false, err
	}
	return v, true, nil
}

// readToken finds the admin token for a command talking to the API: the
// environment first, then the token file a gateway on this machine wrote.
func readToken(file string) (string, error) {
	if t := os.Getenv("ODATAGW_ADMIN_TOKEN"); t != "" {
		return t, nil
	}
	if file == "" {
		file = filepath.Join(stateDir(), "admin-token")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("no admin token: set ODATAGW_ADMIN_TOKEN, or give --admin-token-file (the gateway writes %s when it makes one)", file)
	}
	return strings.TrimSpace(string(b)), nil
}
