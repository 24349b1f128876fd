package sinks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

// Manifest records what a run read, what it wrote and what it ran on, so that its outputs can be
// traced and checked later.
type Manifest struct {
	RunID string `json:"run_id"`
	// State is Complete: a run writes its manifest last, once every table is in place, so a run directory
	// without one holds a run that was killed or failed (manifests before State was added leave it empty).
	State   string    `json:"state,omitempty"`
	Command []string  `json:"command"`
	Config  any       `json:"config,omitempty"` // read back as JSON's generic types (map[string]any, ...)
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`

	GoVersion          string   `json:"go_version"`
	MainModule         Module   `json:"main_module"`
	Modules            []Module `json:"modules"`
	ONNXRuntimeVersion string   `json:"onnxruntime_version,omitempty"` // filled by the caller that loads it
	Host               Host     `json:"host"`

	Data    []DataFile   `json:"data"`
	Outputs []OutputFile `json:"outputs"`
}

// Complete is the State of a finished run's manifest.
const Complete = "complete"

// Module is one module of the build, as the binary records it.
type Module struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Sum     string `json:"sum,omitempty"`
	Replace string `json:"replace,omitempty"` // path@version that replaced it
}

// Host is the machine the run used.
type Host struct {
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	NumCPU int    `json:"num_cpu"`
}

// DataFile is an input the run read.
type DataFile struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"` // hex
}

// NewManifest starts a manifest with the build and host filled in from the running binary.
func NewManifest(runID string, command []string, config any, start time.Time) *Manifest {
	m := &Manifest{
		RunID:     runID,
		Command:   command,
		Config:    config,
		Start:     start,
		GoVersion: runtime.Version(),
		Host:      Host{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU()},
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		m.MainModule = moduleOf(&bi.Main)
		for _, d := range bi.Deps {
			m.Modules = append(m.Modules, moduleOf(d))
		}
	}
	return m
}

func moduleOf(d *debug.Module) Module {
	m := Module{Path: d.Path, Version: d.Version, Sum: d.Sum}
	if r := d.Replace; r != nil {
		m.Replace = r.Path + "@" + r.Version
	}
	return m
}

// AddData hashes the file at path and records it as an input.
func (m *Manifest) AddData(ctx context.Context, path string) error {
	d, err := HashFile(ctx, path)
	if err != nil {
		return err
	}
	m.Add(d)
	return nil
}

// HashFile reads the file at path for its size and SHA-256, as AddData records it (a caller can hash while
// other work goes on, and record the result with Add).
func HashFile(ctx context.Context, path string) (DataFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return DataFile{}, fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, ctxReader{ctx, f})
	if err != nil {
		return DataFile{}, fmt.Errorf("hash %s: %w", path, err)
	}
	return DataFile{Path: path, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Add records an input already hashed (HashFile).
func (m *Manifest) Add(d DataFile) { m.Data = append(m.Data, d) }

// AddKnown records a data file whose SHA-256 the caller already has (hex), reading only its size: a
// long-running caller that watches its files (xling serve) has hashed a model of hundreds of megabytes once.
func (m *Manifest) AddKnown(path, sha256 string) error {
	d, err := KnownFile(path, sha256)
	if err != nil {
		return err
	}
	m.Add(d)
	return nil
}

// KnownFile is a file as AddKnown records it: the digest given, the size read.
func KnownFile(path, sha256 string) (DataFile, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return DataFile{}, fmt.Errorf("manifest: %w", err)
	}
	return DataFile{Path: path, Bytes: fi.Size(), SHA256: sha256}, nil
}

// AddOutput records a committed output, as returned by Writer.Close or File.Commit.
func (m *Manifest) AddOutput(o OutputFile) {
	m.Outputs = append(m.Outputs, o)
}

// ctxReader stops a long read (hashing a large data file) when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// WriteManifest writes m as indented JSON, atomically.
func WriteManifest(path string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest %s: %w", path, err)
	}
	f, err := CreateFile(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Abort()
		return err
	}
	_, err = f.Commit()
	return err
}

// maxManifestBytes bounds what ReadManifest accepts: a manifest lists files, not their contents.
const maxManifestBytes = 16 << 20

// ReadManifest reads a manifest written by WriteManifest.
func ReadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("read manifest %s: larger than %d bytes", path, maxManifestBytes)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	return &m, nil
}
