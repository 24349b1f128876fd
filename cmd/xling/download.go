package main

import (
	"context"
	"flag"
	"log/slog"
	"net/http"

	"xling/dataset/download"
)

func cmdDownload(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("download", flag.ContinueOnError)
	dir := fs.String("dir", "data", "destination directory")
	base := fs.String("base-url", download.DefaultBaseURL, "where the upstream repositories' raw files are served")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d := &download.Downloader{Client: http.DefaultClient, BaseURL: *base, Logger: log}
	return d.Fetch(ctx, *dir, download.Manifest())
}
