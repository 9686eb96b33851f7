package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odatagw/odatagw/internal/app"
	"github.com/odatagw/odatagw/internal/config"
)

type pki struct {
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &pki{caCert: cert, caKey: key, pool: pool}
}

// issue writes a certificate and key signed by the CA, for a server
// (127.0.0.1) or a client, and returns their paths.
func (p *pki) issue(t *testing.T, dir, name string, serial int64, client bool) (string, string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func (p *pki) caFile(t *testing.T, dir string) string {
	f := filepath.Join(dir, "ca.crt")
	os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.caCert.Raw}), 0o600)
	return f
}

// serveTLS runs a demo gateway on HTTPS with the given TLS settings.
func serveTLS(t *testing.T, tlsSet config.TLS) string {
	t.Helper()
	defaults := uncached()
	defaults.TLS = tlsSet
	return startGateway(t, app.Settings{Defaults: defaults}).root("demo")
}

func tlsClient(cfg *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t)
	cert, key := p.issue(t, dir, "server", 10, false)
	root := serveTLS(t, config.TLS{Cert: cert, Key: key})

	serial := func(c *http.Client) (int64, error) {
		res, err := c.Get(root + "Customers/$count")
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
	}
	trusting := tlsClient(&tls.Config{RootCAs: p.pool})
	// the handlers know the request came over TLS: links say https
	if res, err := trusting.Get(root); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(body), `"@odata.context":"https://`) {
			t.Errorf("service document over HTTPS: %s", body)
		}
	}
	if s, err := serial(trusting); err != nil || s != 10 {
		t.Fatalf("HTTPS with TLS 1.2+: serial %d, %v", s, err)
	}
	old := tlsClient(&tls.Config{RootCAs: p.pool, MaxVersion: tls.VersionTLS11})
	if _, err := old.Get(root); err == nil {
		t.Fatal("a TLS 1.1 client was served")
	}
	// renew the certificate in place: new connections get it, no restart
	time.Sleep(10 * time.Millisecond)
	p.issue(t, dir, "server", 11, false)
	future := time.Now().Add(time.Second)
	os.Chtimes(cert, future, future)
	os.Chtimes(key, future, future)
	eventually(t, 6*time.Second, "the renewed certificate is served", func() bool {
		s, err := serial(trusting)
		return err == nil && s == 11
	})
}

func TestTLSClientCertificates(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t)
	cert, key := p.issue(t, dir, "server", 20, false)
	root := serveTLS(t, config.TLS{Cert: cert, Key: key, ClientCA: p.caFile(t, dir)})
	if _, err := tlsClient(&tls.Config{RootCAs: p.pool}).Get(root); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	ccert, ckey := p.issue(t, dir, "salesforce", 21, true)
	pair, err := tls.LoadX509KeyPair(ccert, ckey)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tlsClient(&tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{pair}}).Get(root + "Customers/$count")
	if err != nil {
		t.Fatalf("a client with a certificate from the CA: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
}
