package pipeline

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Security is how xling proves who it is to a Kafka cluster and checks who the cluster is: SASL over
// TLS. The zero value is a plaintext, unauthenticated connection (the embedded broker's).
type Security struct {
	SASL SASL `json:"sasl"`
	TLS  TLS  `json:"tls"`
}

// SASL mechanisms xling speaks.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// saslMechanisms names the mechanisms above, for messages.
const saslMechanisms = SASLPlain + ", " + SASLScramSHA256 + " or " + SASLScramSHA512

// SASL is a user's credentials and how to present them.
type SASL struct {
	// Mechanism is SASLPlain, SASLScramSHA256 or SASLScramSHA512; "" means no SASL.
	Mechanism string `json:"mechanism,omitempty"`
	User      string `json:"user,omitempty"`
	Password  Secret `json:"password,omitempty"`
}

// TLS says how to check the brokers' certificates and, optionally, which certificate to present.
type TLS struct {
	// Enabled turns TLS on with the system's roots; setting any file below turns it on too.
	Enabled bool `json:"enabled,omitempty"`
	// CAFile is a PEM bundle of the CAs that sign the brokers' certificates (default: the system's roots).
	CAFile string `json:"ca_file,omitempty"`
	// CertFile and KeyFile are a PEM client certificate and its key, for clusters that require one.
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
	// ServerName is the name the brokers' certificates must carry (default: the host dialed).
	ServerName string `json:"server_name,omitempty"`
}

// Secret is a password or a connection string that holds one. It prints (under every fmt verb), logs and
// marshals as "[redacted]", so a config that holds one can be logged or recorded in a run manifest without
// giving it away; string(s) is the value itself, for the one place that must send it.
//
// What fmt cannot be made to hide: %p of a Secret (or of a struct holding one), a bad verb that fmt prints
// without calling methods (go vet reports it), and a Secret inside an unexported field, whose methods fmt
// cannot call.
type Secret string

const redacted = "[redacted]"

// Format prints "[redacted]" whatever the verb and flags: String serves only %v, %s, %q, %x and %X, and
// any other verb (%d, %c, %t...) printed the value itself, as fmt's bad-verb notation %!d(pipeline.Secret=...).
func (s Secret) Format(f fmt.State, verb rune) { io.WriteString(f, redacted) }

func (s Secret) String() string               { return redacted }
func (s Secret) GoString() string             { return redacted }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText redacts for the encoders that take text rather than JSON (encoding/xml, YAML packages).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// IsZero says whether the connection is plaintext and unauthenticated.
func (s Security) IsZero() bool { return s == Security{} }

// principal is the name ACLs know this client by.
func (s Security) principal() string {
	if s.SASL.Mechanism == "" {
		return "User:ANONYMOUS"
	}
	return "User:" + s.SASL.User
}

// secured is what kafka-go needs of a Security: the SASL mechanism and TLS config (each nil when off).
type secured struct {
	mech sasl.Mechanism
	tls  *tls.Config
}

// build checks s and readies it for kafka-go: an error names the setting or the file at fault.
func (s Security) build() (secured, error) {
	var out secured
	var err error
	if out.tls, err = s.TLS.config(); err != nil {
		return out, err
	}
	switch s.SASL.Mechanism {
	case "":
		if s.SASL.User != "" || s.SASL.Password != "" {
			return out, errors.New("kafka: a SASL user or password without a mechanism (" + saslMechanisms + ")")
		}
		return out, nil
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
	default:
		return out, fmt.Errorf("kafka: SASL mechanism %q: want %s", s.SASL.Mechanism, saslMechanisms)
	}
	if s.SASL.User == "" || s.SASL.Password == "" {
		return out, fmt.Errorf("kafka: SASL %s needs a user and a password", s.SASL.Mechanism)
	}
	if s.SASL.Mechanism == SASLPlain && out.tls == nil {
		return out, errors.New("kafka: SASL PLAIN sends the password as it is: it needs TLS")
	}
	if s.SASL.Mechanism == SASLPlain {
		out.mech = plain.Mechanism{Username: s.SASL.User, Password: string(s.SASL.Password)}
		return out, nil
	}
	hash := scram.SHA512
	if s.SASL.Mechanism == SASLScramSHA256 {
		hash = scram.SHA256
	}
	if out.mech, err = scram.Mechanism(hash, s.SASL.User, string(s.SASL.Password)); err != nil {
		return out, fmt.Errorf("kafka: SASL %s for user %q: %w", s.SASL.Mechanism, s.SASL.User, err)
	}
	return out, nil
}

func (t TLS) config() (*tls.Config, error) {
	if t == (TLS{}) {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka TLS CA: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka TLS CA %s: no PEM certificate in it", t.CAFile)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("kafka TLS: a client certificate needs both its file and its key file")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka TLS client certificate %s with key %s: %w", t.CertFile, t.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// access is what a request asked of the cluster: op ("read", "write", "describe", "create") on a topic,
// and on a group when it is a consumer group's.
type access struct{ op, topic, group string }

// explain adds to err what the operator needs to fix a refusal: the principal and the operation it was
// refused when the cluster's ACLs refused it, the credentials when SASL failed, the name checked when the
// broker's certificate is for another, the CA when it did not check out otherwise. Other errors come back as
// they are.
func (s Security) explain(err error, a access) error {
	var hostname x509.HostnameError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kafka.GroupAuthorizationFailed):
		return fmt.Errorf("%s is not allowed to %s group %s: %w", s.principal(), a.op, a.group, err)
	case errors.Is(err, kafka.TopicAuthorizationFailed):
		return fmt.Errorf("%s is not allowed to %s topic %s: %w", s.principal(), a.op, a.topic, err)
	case errors.Is(err, kafka.ClusterAuthorizationFailed):
		return fmt.Errorf("%s is not allowed to %s on the cluster: %w", s.principal(), a.op, err)
	case errors.Is(err, kafka.NotEnoughReplicas) || errors.Is(err, kafka.NotEnoughReplicasAfterAppend):
		return fmt.Errorf("topic %s has fewer in-sync replicas than its min.insync.replicas: bring back the brokers that are down, or lower the topic's min.insync.replicas: %w", a.topic, err)
	case errors.Is(err, kafka.MessageSizeTooLarge):
		return fmt.Errorf("topic %s refused a message as too large: set its max.message.bytes to %d or more: %w", a.topic, minMessageLimit, err)
	case errors.Is(err, kafka.SASLAuthenticationFailed):
		return fmt.Errorf("SASL %s login as user %q refused (wrong user or password?): %w", s.SASL.Mechanism, s.SASL.User, err)
	case refusedHandshake(err):
		return fmt.Errorf("TLS: the broker refused the handshake (does it want a client certificate, or another one?): %w", err)
	case errors.As(err, &hostname):
		// Said apart from a bad CA: the CA may be right, and the fix is the name (or the certificate).
		return fmt.Errorf("TLS: the broker's certificate does not name %s, the name checked (the host dialed, or the TLS server name when one is set): %w", hostname.Host, err)
	case badCertificate(err):
		ca := "the system's roots"
		if s.TLS.CAFile != "" {
			ca = s.TLS.CAFile
		}
		return fmt.Errorf("TLS: the broker's certificate does not check out against %s: %w", ca, err)
	}
	return err
}

// denied says whether err is final: the cluster refused who this client is or what it asked, and asking
// again will not change that.
func denied(err error) bool {
	return errors.Is(err, kafka.GroupAuthorizationFailed) || errors.Is(err, kafka.TopicAuthorizationFailed) ||
		errors.Is(err, kafka.ClusterAuthorizationFailed) || errors.Is(err, kafka.SASLAuthenticationFailed) ||
		badCertificate(err) || refusedHandshake(err)
}

// refusedHandshake says whether err is a TLS alert from the broker: it refused this client's handshake.
func refusedHandshake(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error" // how crypto/tls reports an alert received
}

// badCertificate says whether err is a broker certificate that did not check out.
func badCertificate(err error) bool {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &verify)
}
