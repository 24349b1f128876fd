// Package ort runs sentence-embedding ONNX models through ONNX Runtime (via
// github.com/yalue/onnxruntime_go): it matches a model's inputs and outputs, pads batches, pools
// token embeddings when the model does not, and normalises.
package ort

import (
	"fmt"
	"log/slog"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"
)

// ONNX Runtime keeps one environment per process (onnxruntime_go holds it in package state), so the
// Runtimes of a process share it: the first initialises it, the last Close destroys it.
var env struct {
	mu      sync.Mutex
	refs    int
	libPath string
}

// Runtime is a handle on the process's ONNX Runtime environment.
type Runtime struct {
	log     *slog.Logger
	version string
	once    sync.Once
}

// Option configures a Runtime.
type Option func(*Runtime)

// WithLogger sets the logger for provider choices; the default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(rt *Runtime) { rt.log = l }
}

// NewRuntime loads the ONNX Runtime shared library at libPath and initialises the environment, once
// per process. Every Runtime of a process must name the same library.
func NewRuntime(libPath string, opts ...Option) (*Runtime, error) {
	rt := &Runtime{log: slog.Default()}
	for _, o := range opts {
		o(rt)
	}
	env.mu.Lock()
	defer env.mu.Unlock()
	if env.refs > 0 && env.libPath != libPath {
		return nil, fmt.Errorf("onnx runtime: already initialised from %s, cannot also load %s", env.libPath, libPath)
	}
	if env.refs == 0 {
		onnx.SetSharedLibraryPath(libPath)
		if err := onnx.InitializeEnvironment(onnx.WithLogLevelError()); err != nil {
			return nil, fmt.Errorf("onnx runtime: initialise %s: %w", libPath, err)
		}
		env.libPath = libPath
	}
	env.refs++
	rt.version = onnx.GetVersion()
	return rt, nil
}

// Version is the loaded library's version, such as "1.30.0".
func (rt *Runtime) Version() string { return rt.version }

// Close releases the Runtime's hold on the environment; close its Sessions first. It is idempotent.
func (rt *Runtime) Close() error {
	var err error
	rt.once.Do(func() {
		env.mu.Lock()
		defer env.mu.Unlock()
		env.refs--
		if env.refs == 0 {
			if e := onnx.DestroyEnvironment(); e != nil {
				err = fmt.Errorf("onnx runtime: destroy environment: %w", e)
			}
		}
	})
	return err
}
