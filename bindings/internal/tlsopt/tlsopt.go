// Package tlsopt reads the `tls` option of the modules that dial TLS servers (network,
// websocket, redis) in one way: `true` (verify the server against the system's roots), or
// a table `{insecure = bool, server_name = "...", ca = PEM text or the path of a PEM
// file}`; and makes the client's *tls.Config from it.
//
// A ca given as a path is read at the first handshake, on the goroutine that dials (the
// I/O pool, a connection's goroutine), never on a worker's loop, and once per Options.
package tlsopt

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/drlee/drlee/engine"
)

// Options are a parsed tls option.
type Options struct {
	Insecure   bool   // no verification of the server's certificate
	ServerName string // the name verified (and sent as SNI); "" until a caller fills it in

	caPool *x509.CertPool // ca given as PEM text
	caPEM  string
	caPath string // ca given as a file

	once    sync.Once // reads caPath
	fileCA  *x509.CertPool
	fileErr error
}

// Parse reads v, the decoded value of option name (e.g. "options.tls") of argument i:
// nil for false, Options for true or a table. Anything else raises an argument error
// naming the option.
func Parse(c *engine.Call, i int, name string, v any) *Options {
	var m map[any]any
	switch t := v.(type) {
	case bool:
		if !t {
			return nil
		}
	case map[any]any:
		m = t
	case []any:
		if len(t) > 0 {
			c.ArgError(i, name+" must be true or a table of name = value")
		}
	default:
		c.ArgError(i, name+" must be true or a table of name = value")
	}
	o := &Options{}
	for k, v := range m {
		switch k {
		case "insecure":
			b, ok := v.(bool)
			if !ok {
				c.ArgError(i, name+".insecure must be a boolean")
			}
			o.Insecure = b
		case "server_name":
			s, ok := v.(string)
			if !ok || s == "" {
				c.ArgError(i, name+".server_name must be a non-empty string")
			}
			o.ServerName = s
		case "ca":
			s, ok := v.(string)
			if !ok || s == "" {
				c.ArgError(i, name+".ca must be a PEM string or the path of a PEM file")
			}
			if strings.Contains(s, "-----BEGIN") {
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM([]byte(s)) {
					c.ArgError(i, name+".ca holds no PEM certificate")
				}
				o.caPool, o.caPEM = pool, s
			} else {
				o.caPath = s
			}
		default:
			key, ok := k.(string)
			if !ok {
				key = fmt.Sprintf("[%v]", k)
			}
			c.ArgError(i, "unknown option "+strings.TrimPrefix(name, "options.")+"."+key+" (insecure, server_name, ca)")
		}
	}
	return o
}

// Key is the same string for the same options, for a module that shares one client
// among the scripts that ask for the same thing.
func (o *Options) Key() string {
	if o == nil {
		return "no tls"
	}
	sum := sha256.Sum256([]byte(o.caPEM))
	return fmt.Sprintf("tls %t %q %q %x", o.Insecure, o.ServerName, o.caPath, sum[:8])
}

// Config is the client configuration: TLS 1.2 or later, the server verified against the
// ca (or the system's roots) for ServerName, unless Insecure. Config does no I/O: a ca
// file is read at the first handshake, and its error is that handshake's.
func (o *Options) Config() *tls.Config {
	cfg := &tls.Config{ServerName: o.ServerName, InsecureSkipVerify: o.Insecure, MinVersion: tls.VersionTLS12}
	switch {
	case o.Insecure:
	case o.caPool != nil:
		cfg.RootCAs = o.caPool
	case o.caPath != "":
		// The standard verification, done by hand because the roots are not known yet:
		// crypto/tls's documented way (see its VerifyConnection example).
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			roots, err := o.fileRoots()
			if err != nil {
				return err
			}
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: the server sent no certificate")
			}
			opts := x509.VerifyOptions{DNSName: cs.ServerName, Roots: roots, Intermediates: x509.NewCertPool()}
			for _, cert := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(cert)
			}
			_, err = cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return cfg
}

func (o *Options) fileRoots() (*x509.CertPool, error) {
	o.once.Do(func() {
		b, err := os.ReadFile(o.caPath)
		if err != nil {
			o.fileErr = fmt.Errorf("options.tls.ca: %w", err)
			return
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			o.fileErr = engine.WithCode("EINVAL", fmt.Errorf("options.tls.ca: %s holds no PEM certificate", o.caPath))
			return
		}
		o.fileCA = pool
	})
	return o.fileCA, o.fileErr
}
