package pipeline

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testCA is a certificate authority made for one test: its PEM file and what it needs to sign.
type testCA struct {
	file string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), name+".pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testCA{file: file, cert: cert, key: key}
}

// serverCert is a certificate for 127.0.0.1 and localhost signed by ca.
func (ca testCA) serverCert(t *testing.T) tls.Certificate {
	t.Helper()
	return ca.serverCertFor(t, "127.0.0.1", "localhost")
}

// serverCertFor is a server certificate signed by ca for names: IP addresses and host names.
func (ca testCA) serverCertFor(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kafka"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, key := ca.sign(t, tmpl)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// clientCert writes a client certificate signed by ca and its key as PEM files.
func (ca testCA) clientCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	der, key := ca.sign(t, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "xling"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// sign makes a certificate of tmpl, valid for an hour either side of now, for a new key signed by ca.
func (ca testCA) sign(t *testing.T, tmpl *x509.Certificate) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.NotBefore, tmpl.NotAfter, tmpl.KeyUsage = time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// A cluster that requires a client certificate takes xling's (--kafka-tls-cert, --kafka-tls-key) and
// refuses a client without one.
func TestClientCertificate(t *testing.T) {
	ca := newTestCA(t, "kafka-ca")
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	c, err := startCluster("127.0.0.1:0", 1, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{ca.serverCert(t)}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	certFile, keyFile := ca.clientCert(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := Connect(ctx, BrokerConfig{Addrs: c.ListenAddrs(), DialTimeout: 3 * time.Second, Security: Security{TLS: TLS{CAFile: ca.file, CertFile: certFile, KeyFile: keyFile}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.CreateTopics(ctx, 1, "mtls.items"); err != nil {
		t.Fatal(err)
	}
	_, err = Connect(ctx, BrokerConfig{Addrs: c.ListenAddrs(), DialTimeout: 3 * time.Second, Security: Security{TLS: TLS{CAFile: ca.file}}})
	if err == nil || !strings.Contains(err.Error(), "kafka refused the connection") || !strings.Contains(err.Error(), "the broker refused the handshake") {
		t.Errorf("a client without a certificate: err = %v, want the broker's refusal", err)
	}
	t.Log(err)
}

// A broker certificate signed by the trusted CA but for another name is refused, the error naming the
// broker and the name checked; the TLS server name (--kafka-tls-server-name) is what the certificate must
// carry when the broker goes by another name.
func TestBrokerCertificateForAnotherName(t *testing.T) {
	ca := newTestCA(t, "kafka-ca")
	for _, tc := range []struct {
		name       string
		certFor    []string // the names the broker's certificate is valid for
		serverName string   // TLS.ServerName; "" checks the host dialed
		want       string   // the error Connect must fail with, after the broker's address; "" if it must connect
	}{
		{name: "a certificate for another host name is refused", certFor: []string{"kafka-0.other.example"},
			want: "TLS: the broker's certificate does not name 127.0.0.1, the name checked"},
		{name: "a certificate for another IP address is refused", certFor: []string{"10.9.8.7", "localhost"},
			want: "TLS: the broker's certificate does not name 127.0.0.1, the name checked"},
		{name: "a server name the certificate does not carry is refused", certFor: []string{"127.0.0.1", "localhost"}, serverName: "kafka-0.other.example",
			want: "TLS: the broker's certificate does not name kafka-0.other.example, the name checked"},
		{name: "a certificate for the server name set is taken", certFor: []string{"kafka-0.other.example"}, serverName: "kafka-0.other.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := startCluster("127.0.0.1:0", 1, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{ca.serverCertFor(t, tc.certFor...)}, MinVersion: tls.VersionTLS12}))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := BrokerConfig{Addrs: c.ListenAddrs(), DialTimeout: 3 * time.Second, Security: Security{TLS: TLS{CAFile: ca.file, ServerName: tc.serverName}}}
			start := time.Now()
			b, err := Connect(ctx, cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				b.Close()
				return
			}
			if want := "kafka refused the connection: broker " + c.ListenAddrs()[0] + ": " + tc.want; err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Connect: err = %v, want one saying %q", err, want)
			}
			t.Log(err)
			if d := time.Since(start); d > 2*cfg.DialTimeout {
				t.Errorf("took %s to fail, over twice the dial timeout %s", d, cfg.DialTimeout)
			}
		})
	}
}

// allow is an ACL granting op on every topic or group whose name starts with prefix.
func allow(rt kmsg.ACLResourceType, prefix string, op kmsg.ACLOperation) kfake.ACL {
	return kfake.ACL{Resource: rt, Name: prefix, Pattern: kmsg.ACLResourcePatternTypePrefixed, Operation: op, Allow: true}
}

// The passwords of the secured cluster's users; each is a string that appears nowhere else, so finding
// one in a log or a manifest can only mean it leaked.
const (
	workerPassword   = "pw-worker-7f3a9c"
	intruderPassword = "pw-intruder-51be0d"
)

// securedCluster starts a one-node kfake cluster that requires SASL over TLS and checks ACLs. Its users:
// worker (SCRAM-SHA-512 and PLAIN) and worker256 (SCRAM-SHA-256 only, so that a login that used another
// hash would fail) may create, write and read the "sec." topics and use the "sec." groups; intruder (SCRAM-SHA-512) may use the topics but no group; watcher may use the topics and describe the
// groups but not join them; reader may only read topics.
func securedCluster(t *testing.T) (addrs []string, ca testCA) {
	t.Helper()
	ca = newTestCA(t, "kafka-ca")
	topicRights := []kfake.ACL{
		allow(kmsg.ACLResourceTypeTopic, "sec.", kmsg.ACLOperationCreate),
		allow(kmsg.ACLResourceTypeTopic, "sec.", kmsg.ACLOperationWrite),
		allow(kmsg.ACLResourceTypeTopic, "sec.", kmsg.ACLOperationRead),
	}
	groupRights := []kfake.ACL{allow(kmsg.ACLResourceTypeGroup, "sec.", kmsg.ACLOperationRead)}
	c, err := startCluster("127.0.0.1:0", 1,
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{ca.serverCert(t)}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser(SASLScramSHA512, "admin", "pw-admin-0c1d"),
		kfake.User(SASLScramSHA512, "worker", workerPassword, append(topicRights, groupRights...)...),
		kfake.User(SASLPlain, "worker", workerPassword, append(topicRights, groupRights...)...),
		kfake.User(SASLScramSHA256, "worker256", workerPassword, append(topicRights, groupRights...)...),
		kfake.User(SASLScramSHA512, "intruder", intruderPassword, topicRights...),
		kfake.User(SASLScramSHA512, "watcher", "pw-watcher-2e81", append(topicRights, allow(kmsg.ACLResourceTypeGroup, "sec.", kmsg.ACLOperationDescribe))...),
		kfake.User(SASLScramSHA512, "reader", "pw-reader-93aa", allow(kmsg.ACLResourceTypeTopic, "sec.", kmsg.ACLOperationRead)),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs(), ca
}

func TestSecuredCluster(t *testing.T) {
	addrs, ca := securedCluster(t)
	wrongCA := newTestCA(t, "other-ca")
	sec := func(mech, user, pw, caFile string) Security {
		return Security{SASL: SASL{Mechanism: mech, User: user, Password: Secret(pw)}, TLS: TLS{CAFile: caFile}}
	}
	texts := map[string][]string{"en": {"a", "bad", "c"}, "th": {"d"}}
	admin, err := Connect(context.Background(), BrokerConfig{Addrs: addrs, Security: sec(SASLScramSHA512, "admin", "pw-admin-0c1d", ca.file)})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for i, tc := range []struct {
		name     string
		sec      Security
		connect  string // the error Connect must fail with; "" if it must connect
		pipeline string // the error the pipeline must fail with ({prefix}: the case's topic prefix); "" if it must run to its end
	}{
		{name: "SCRAM-SHA-512 over TLS with rights runs", sec: sec(SASLScramSHA512, "worker", workerPassword, ca.file)},
		{name: "SCRAM-SHA-256 over TLS with rights runs", sec: sec(SASLScramSHA256, "worker256", workerPassword, ca.file)},
		{name: "PLAIN over TLS with rights runs", sec: sec(SASLPlain, "worker", workerPassword, ca.file)},
		{name: "no rights on the group is refused naming the principal and the group", sec: sec(SASLScramSHA512, "intruder", intruderPassword, ca.file),
			pipeline: "User:intruder is not allowed to describe group {prefix}echo"},
		{name: "no right to join the group is refused naming the principal and the group", sec: sec(SASLScramSHA512, "watcher", "pw-watcher-2e81", ca.file),
			pipeline: "User:watcher is not allowed to read group {prefix}echo"},
		{name: "no right to write is refused naming the principal and the topic", sec: sec(SASLScramSHA512, "reader", "pw-reader-93aa", ca.file),
			pipeline: "User:reader is not allowed to write topic {prefix}items"},
		{name: "a wrong password fails", sec: sec(SASLScramSHA512, "worker", "not-the-password", ca.file),
			connect: `SASL SCRAM-SHA-512 login as user "worker" refused`},
		{name: "a wrong SCRAM-SHA-256 password fails", sec: sec(SASLScramSHA256, "worker256", "not-the-password", ca.file),
			connect: `SASL SCRAM-SHA-256 login as user "worker256" refused`},
		{name: "SCRAM-SHA-512 for a user with SCRAM-SHA-256 credentials only fails", sec: sec(SASLScramSHA512, "worker256", workerPassword, ca.file),
			connect: `SASL SCRAM-SHA-512 login as user "worker256" refused`},
		{name: "a broker certificate from another CA fails", sec: sec(SASLScramSHA512, "worker", workerPassword, wrongCA.file),
			connect: "the broker's certificate does not check out against " + wrongCA.file},
		{name: "plaintext to a TLS listener fails", sec: sec(SASLScramSHA512, "worker", workerPassword, ""),
			connect: "no Kafka broker answered within 3s"},
		{name: "PLAIN without TLS is refused before dialing", sec: sec(SASLPlain, "worker", workerPassword, ""),
			connect: "SASL PLAIN sends the password as it is: it needs TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cfg := BrokerConfig{Addrs: addrs, DialTimeout: 3 * time.Second, Security: tc.sec, Log: log}
			log.Info("connecting", "config", cfg)
			start := time.Now()
			b, err := Connect(ctx, cfg)
			if tc.connect != "" {
				if err == nil || !strings.Contains(err.Error(), tc.connect) {
					t.Fatalf("Connect: err = %v, want one saying %q", err, tc.connect)
				}
				t.Log(err)
				if d := time.Since(start); d > 2*cfg.DialTimeout {
					t.Errorf("took %s to fail, over twice the dial timeout %s", d, cfg.DialTimeout)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			// Each case runs on topics of its own, created by the admin as a locked-down cluster's are.
			topics := Topics{Prefix: fmt.Sprintf("sec.%d.", i), Partitions: 1}
			if err := admin.CreateTopics(ctx, 1, topics.Evaluation()...); err != nil {
				t.Fatal(err)
			}
			w := Worker{Transport: b, Topics: topics, RunID: "r1"}
			if _, err = sendTexts(ctx, w, texts); err == nil {
				err = Run(ctx, w, echo(w.Topics))
			}
			if want := strings.ReplaceAll(tc.pipeline, "{prefix}", topics.Prefix); want != "" {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want one saying %q", err, want)
				}
				t.Log(err)
			} else if err != nil {
				t.Fatal(err)
			} else {
				got := readKafka(t, ctx, b, topics.Tokens().Name, 1, 1)
				if want := []string{"en/q/0", "en/q/2", "th/q/0"}; !slices.Equal(got.ids, want) || !slices.Equal(got.ends["en"], []int64{2}) || !slices.Equal(got.ends["th"], []int64{1}) {
					t.Errorf("tokens %v with stream ends %v, want %v with en 2, th 1", got.ids, got.ends, want)
				}
			}
			for _, pw := range []string{workerPassword, intruderPassword} {
				if strings.Contains(logs.String(), pw) {
					t.Errorf("the log holds a password:\n%s", logs.String())
				}
			}
		})
	}
}

type xmlDoc struct{ Password Secret }

// A password never shows, whatever prints it: every fmt verb and flag, on the Secret itself and on the
// configs that hold it (by value, by pointer, in a slice or a map), slog's text and JSON handlers, JSON
// and XML.
func TestSecretsAreNeverPrinted(t *testing.T) {
	pw := Secret(workerPassword)
	cfg := BrokerConfig{Addrs: []string{"k:9093"}, Security: Security{SASL: SASL{Mechanism: SASLScramSHA512, User: "u", Password: pw}, TLS: TLS{CAFile: "ca.pem"}}}
	values := []struct {
		name string
		v    any
	}{
		{"the secret", pw},
		{"a pointer to it", &pw},
		{"a SASL", cfg.Security.SASL},
		{"a broker config", cfg},
		{"a pointer to a broker config", &cfg},
		{"a slice of secrets", []Secret{pw, pw}},
		{"a map of secrets", map[string]Secret{"kafka": pw}},
	}
	check := func(t *testing.T, out string, wantRedacted bool) {
		t.Helper()
		if strings.Contains(out, workerPassword) {
			t.Errorf("the password shows: %s", out)
		}
		if wantRedacted && !strings.Contains(out, redacted) {
			t.Errorf("no %s in %s", redacted, out)
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "% x", "%#x", "%10.3s", "%-20q", "%U", "%c", "%b", "%o", "%e", "%t", "%T"} {
		for _, val := range values {
			t.Run(verb+" of "+val.name, func(t *testing.T) {
				out := fmt.Sprintf(verb, val.v)
				// %T prints the type, and %v of a pointer to a secret its address: neither is the value.
				check(t, out, verb != "%T" && val.name != "a pointer to it")
			})
		}
	}
	for _, tc := range []struct {
		name string
		h    func(io.Writer) slog.Handler
	}{
		{"slog text", func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) }},
		{"slog JSON", func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			log := slog.New(tc.h(&out))
			log.Info("config", "password", pw, "sasl", cfg.Security.SASL, "security", cfg.Security, "broker", cfg, "pointer", &cfg)
			log.With("password", pw).WithGroup("g").Info("grouped", slog.Any("broker", cfg), slog.Group("kafka", "password", pw))
			check(t, out.String(), true)
			if !strings.Contains(out.String(), "u") {
				t.Errorf("want the user recorded:\n%s", out.String())
			}
		})
	}
	for _, tc := range []struct {
		name    string
		marshal func() ([]byte, error)
	}{
		{"JSON of a broker config", func() ([]byte, error) { return json.Marshal(cfg) }},
		{"XML of a secret", func() ([]byte, error) { return xml.Marshal(xmlDoc{pw}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.marshal()
			if err != nil {
				t.Fatal(err)
			}
			check(t, string(b), true)
		})
	}
	if js, _ := json.Marshal(cfg); !strings.Contains(string(js), `"user":"u"`) {
		t.Errorf("want the user recorded: %s", js)
	}
	if string(pw) != workerPassword {
		t.Errorf("string(secret) = %q, want the password itself", string(pw))
	}
}

// A Security that cannot work is refused before anything is dialed, saying which setting is at fault.
func TestSecurityIsCheckedBeforeDialing(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := TLS{CAFile: newTestCA(t, "ca").file}
	for _, tc := range []struct {
		name string
		sec  Security
		want string
	}{
		{"an unknown mechanism", Security{SASL: SASL{Mechanism: "GSSAPI", User: "u", Password: "p"}, TLS: ca}, `SASL mechanism "GSSAPI": want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`},
		{"a user without a mechanism", Security{SASL: SASL{User: "u"}}, "a SASL user or password without a mechanism"},
		{"a mechanism without a password", Security{SASL: SASL{Mechanism: SASLScramSHA512, User: "u"}}, "SASL SCRAM-SHA-512 needs a user and a password"},
		{"SCRAM-SHA-256 without a user", Security{SASL: SASL{Mechanism: SASLScramSHA256, Password: "p"}}, "SASL SCRAM-SHA-256 needs a user and a password"},
		{"a CA file that is not there", Security{TLS: TLS{CAFile: filepath.Join(dir, "nope.pem")}}, filepath.Join(dir, "nope.pem")},
		{"a CA file without a certificate", Security{TLS: TLS{CAFile: notPEM}}, notPEM + ": no PEM certificate in it"},
		{"a client certificate without its key", Security{TLS: TLS{CertFile: ca.CAFile}}, "needs both its file and its key file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Connect(context.Background(), BrokerConfig{Addrs: []string{"127.0.0.1:1"}, Security: tc.sec})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
	if _, err := Connect(context.Background(), BrokerConfig{Security: Security{TLS: ca}}); err == nil || !strings.Contains(err.Error(), "need an external cluster") {
		t.Errorf("TLS with the embedded broker: err = %v, want a refusal", err)
	}
}
