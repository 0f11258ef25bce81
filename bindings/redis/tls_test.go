package redis_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
	"github.com/drlee/drlee/internal/testcert"
)

// TestTLS: a redis-server of its own with a TLS port (a self-signed certificate), reached
// with rediss:// or options.tls, the server verified against a ca given as text or as a
// file; no ca, another name or another authority fail with ETLS.
func TestTLS(t *testing.T) {
	t.Parallel()
	_, certPEM, keyPEM := testcert.SelfSigned(t)
	_, otherPEM, _ := testcert.SelfSigned(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for name, b := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tlsPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s, err := startRedis("--tls-port", strconv.Itoa(tlsPort), "--tls-cert-file", certFile,
		"--tls-key-file", keyFile, "--tls-ca-cert-file", certFile, "--tls-auth-clients", "no")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	res := drleetest.Run(t, `
local redis = require "redis"
local fs = require "fs"
local port = arg[1]
local ca_path = __dirname__ .. "/ca.pem"
local ca = assert(fs.readfile(ca_path))
local function try(what, uri, opts)
  local c = redis.new(uri, opts)
  local v, err = c:call("PING")
  print(what, v, err_code(err), err)
  c:close()
end
local tls_uri, plain_tls = "rediss://127.0.0.1:" .. port .. "/0", "redis://127.0.0.1:" .. port .. "/0"
try("ca text", tls_uri, {tls = {ca = ca}})
try("ca file", tls_uri, {tls = {ca = ca_path}})
try("tls option", plain_tls, {tls = {ca = ca}})
try("localhost", "rediss://localhost:" .. port .. "/0", {tls = {ca = ca}})
try("insecure", tls_uri, {tls = {insecure = true}})
try("no ca", tls_uri)
try("no ca true", tls_uri, {tls = true})
try("wrong name", tls_uri, {tls = {ca = ca, server_name = "other.example"}})
try("wrong name file", tls_uri, {tls = {ca = ca_path, server_name = "other.example"}})
try("other ca", tls_uri, {tls = {ca = __dirname__ .. "/other.pem"}})
try("missing ca file", tls_uri, {tls = {ca = __dirname__ .. "/missing.pem"}})
-- Binary data over TLS.
local c = redis.new(tls_uri, {tls = {ca = ca}})
local all = {}
for i = 0, 255 do all[#all + 1] = string.char(i) end
all = table.concat(all):rep(64)
assert(c:call("SET", "tls:bin", all) == "OK")
print("binary", c:call("GET", "tls:bin") == all)
c:close()
`, drleetest.Options{Args: []string{strconv.Itoa(tlsPort)}, Timeout: 20 * time.Second,
		Files: map[string]string{"ca.pem": string(certPEM), "other.pem": string(otherPEM)}})
	res.MustSucceed(t)
	res.Contains(t, "ca text\tPONG\tnil\tnil\n", "ca file\tPONG\tnil\tnil\n", "tls option\tPONG\tnil\tnil\n",
		"localhost\tPONG\tnil\tnil\n", "insecure\tPONG\tnil\tnil\n",
		"no ca\tnil\tETLS\t", "no ca true\tnil\tETLS\t", "wrong name\tnil\tETLS\t", "wrong name file\tnil\tETLS\t",
		"other ca\tnil\tETLS\t", "missing ca file\tnil\tENOENT\t", "binary\ttrue\n")
}
