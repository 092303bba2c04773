// Package web holds the page, built by `make web` into dist/ (content-hashed
// assets with gzip and brotli siblings) and embedded into the gateway.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built page: index.html and assets/. Before `make web` it
// holds no index.html.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path by construction
	}
	return sub
}
