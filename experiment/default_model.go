package experiment

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// DefaultModel returns xling's own encoder trained with hybrid batches (the experiment's recipe on its
// shorter schedule, experiment.QuickRecipe, seed 1), training it on first use (about two minutes on 2
// cores) and caching it.
func DefaultModel(ctx context.Context, cache, data string, log *slog.Logger) (string, error) {
	// The version changes with the recipe, so that a cache never serves a model of an older one (v3:
	// romanized n-grams; v4: learning rates 0.02 and 0.05).
	path := filepath.Join(cache, "models", "xling-hybrid-v4-quick-s1.onnx")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	log.Info("training the default model (hybrid batches, seed 1, the quick schedule); cached for later runs", "path", path)
	cfg := Default()
	cfg.DataDir, cfg.Recipe = data, QuickRecipe()
	start := time.Now()
	if err := TrainModel(ctx, cfg, 1, "hybrid:0.5", 0, path); err != nil {
		return "", fmt.Errorf("train default model: %w", err)
	}
	log.Info("trained the default model", "path", path, "elapsed", time.Since(start).Round(time.Second))
	return path, nil
}
