package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"
)

// profiler saves pprof profiles of the gateway (through its --pprof
// endpoint) and of this process (the client side) while figures run.
type profiler struct {
	dir string // "" when profiling is off
}

// cpu runs fn while taking CPU profiles of the gateway (if pprofAddr is
// set) and of this process, saved as NAME.gateway.pprof and NAME.client.pprof.
func (p profiler) cpu(ctx context.Context, pprofAddr, name string, d time.Duration, fn func() error) error {
	if p.dir == "" {
		return fn()
	}
	f, err := os.Create(filepath.Join(p.dir, name+".client.pprof"))
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	done := make(chan error, 1)
	if pprofAddr != "" {
		secs := int(math.Max(1, math.Floor(d.Seconds())))
		go func() {
			done <- p.fetch(ctx, pprofAddr, fmt.Sprintf("profile?seconds=%d", secs), name+".gateway.pprof")
		}()
	} else {
		done <- nil
	}
	err = fn()
	pprof.StopCPUProfile()
	if perr := <-done; err == nil {
		err = perr
	}
	return err
}

// fetch saves one /debug/pprof/ answer of the gateway as name.
func (p profiler) fetch(ctx context.Context, pprofAddr, what, name string) error {
	if p.dir == "" || pprofAddr == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+pprofAddr+"/debug/pprof/"+what, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("gateway profile %s: %w", what, err)
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(p.dir, name))
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		return fmt.Errorf("gateway profile %s: %w", what, err)
	}
	return nil
}
