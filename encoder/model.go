// Package encoder resolves what the encode and tokenize stages run: either an ONNX file written by xling
// (its tokenizer configuration is in the model's metadata) or a model directory that a user brings — an
// ONNX export of XLM-R, LaBSE, multilingual-e5 or bge-m3 with its tokenizer files and a small xling.json.
// See docs/models.md.
package encoder

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"xling/encoder/ort"
	"xling/internal/confine"
	"xling/tokenizer"
)

// Config is a model directory's xling.json.
type Config struct {
	Name          string `json:"name"`
	Model         string `json:"model"`          // ONNX file in the directory; default "model.onnx"
	Tokenizer     string `json:"tokenizer"`      // tokenizer.json or a SentencePiece .model; default "tokenizer.json"
	Pooling       string `json:"pooling"`        // "mean", "cls", or "none" when the model outputs a sentence embedding
	Normalize     bool   `json:"normalize"`      // L2-normalise embeddings
	QueryPrefix   string `json:"query_prefix"`   // e.g. "query: " for e5
	PassagePrefix string `json:"passage_prefix"` // e.g. "passage: " for e5
	MaxLength     int    `json:"max_length"`     // tokens, special tokens included; longer texts are truncated and counted
	// Spin keeps ONNX Runtime's intra-op threads spinning between parallel sections (see
	// ort.SessionConfig.Spin). Default true for a model directory: a transformer's encode is nearly all
	// of a run's CPU and waits between its many operators, and waking sleeping threads cost it about 2%.
	Spin *bool `json:"spin"`
}

// Spec is a resolved model.
type Spec struct {
	Config
	Path  string   // the ONNX file
	Files []string // every file that defines the model, for a run's manifest
	// NewTokenizer builds a tokenizer for one goroutine.
	NewTokenizer func(md map[string]string) (tokenizer.Tokenizer, error)
}

// SessionConfig is how ONNX Runtime runs the model.
func (s Spec) SessionConfig(threads int, provider string) ort.SessionConfig {
	return ort.SessionConfig{Pooling: s.Pooling, Normalize: s.Normalize, IntraOpThreads: threads, Provider: provider,
		Spin: s.Spin != nil && *s.Spin}
}

const configFile = "xling.json"

// Load resolves path: an .onnx file written by xling, or a model directory.
func Load(path string) (Spec, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Spec{}, fmt.Errorf("load model: %w", err)
	}
	if !fi.IsDir() {
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		return Spec{Config: Config{Name: name, Pooling: ort.PoolingNone}, Path: path, Files: []string{path}, NewTokenizer: tokenizer.FromMetadata}, nil
	}
	// The directory is the user's choice, but its files may come from elsewhere: none may lead out of it.
	cfgPath, err := confine.Path(path, configFile)
	if err != nil {
		return Spec{}, fmt.Errorf("load model: %w", err)
	}
	cfg, err := readConfig(cfgPath)
	if err != nil {
		return Spec{}, err
	}
	if cfg.Name == "" {
		cfg.Name = filepath.Base(path)
	}
	if cfg.Model == "" {
		cfg.Model = "model.onnx"
	}
	if cfg.Tokenizer == "" {
		cfg.Tokenizer = "tokenizer.json"
	}
	if cfg.Spin == nil {
		spin := true
		cfg.Spin = &spin
	}
	modelPath, err := confine.Path(path, cfg.Model)
	if err != nil {
		return Spec{}, fmt.Errorf("load model %s: %s: model: %w", path, configFile, err)
	}
	tokPath, err := confine.Path(path, cfg.Tokenizer)
	if err != nil {
		return Spec{}, fmt.Errorf("load model %s: %s: tokenizer: %w", path, configFile, err)
	}
	switch cfg.Pooling {
	case ort.PoolingMean, ort.PoolingCLS, ort.PoolingNone:
	default:
		return Spec{}, fmt.Errorf("load model %s: %s: pooling %q, want mean, cls or none", path, configFile, cfg.Pooling)
	}
	// Parse once now, so a bad tokenizer fails before the run starts.
	newTok := func(map[string]string) (tokenizer.Tokenizer, error) { return tokenizer.Load(tokPath, cfg.MaxLength) }
	if _, err := newTok(nil); err != nil {
		return Spec{}, fmt.Errorf("load model %s: %w", path, err)
	}
	files := []string{cfgPath, modelPath, tokPath}
	return Spec{Config: cfg, Path: modelPath, Files: files, NewTokenizer: newTok}, nil
}

func readConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("load model: %w", err)
	}
	defer f.Close()
	var cfg Config
	dec := json.NewDecoder(io.LimitReader(f, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("load model: %s: %w", path, err)
	}
	return cfg, nil
}
