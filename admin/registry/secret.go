package registry

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// box seals passwords with AES-256-GCM under a key derived from the
// operator's secret (ODATAGW_SECRET_KEY). The sealed form carries its own
// random nonce.
type box struct {
	aead cipher.AEAD
}

func newBox(secret string) (*box, error) {
	if secret == "" {
		return nil, nil
	}
	key := sha256.Sum256([]byte("odatagw registry v1\x00" + secret))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &box{aead: aead}, nil
}

// ErrNoSecretKey is returned when a password must be stored but no key
// was given.
var ErrNoSecretKey = errors.New("a DSN with a password can only be saved when the gateway has a secret key: set ODATAGW_SECRET_KEY (the same on every replica)")

func (b *box) seal(plain, name string) (string, error) {
	if b == nil {
		return "", ErrNoSecretKey
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	// the source name is authenticated too: a sealed password cannot be
	// moved to another source's row
	out := b.aead.Seal(nonce, nonce, []byte(plain), []byte(name))
	return base64.StdEncoding.EncodeToString(out), nil
}

func (b *box) open(sealed, name string) (string, error) {
	if b == nil {
		return "", fmt.Errorf("source %s has a saved password but the gateway has no secret key: set ODATAGW_SECRET_KEY to the key it was saved with", name)
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", fmt.Errorf("source %s: the saved password is damaged", name)
	}
	plain, err := b.aead.Open(nil, raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():], []byte(name))
	if err != nil {
		return "", fmt.Errorf("source %s: the saved password cannot be decrypted: ODATAGW_SECRET_KEY is not the key it was saved with", name)
	}
	return string(plain), nil
}
