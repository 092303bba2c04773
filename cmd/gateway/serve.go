package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/acceptloop"
	"github.com/tubegate/tubegate/internal/acmecert"
	"github.com/tubegate/tubegate/internal/adminapi"
	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/certfile"
	"github.com/tubegate/tubegate/internal/datadir"
	"github.com/tubegate/tubegate/internal/home"
	"github.com/tubegate/tubegate/internal/httpapi"
	"github.com/tubegate/tubegate/internal/idlepoll"
	"github.com/tubegate/tubegate/internal/procs"
	"github.com/tubegate/tubegate/internal/proxyprotocol"
	"github.com/tubegate/tubegate/internal/resume"
	"github.com/tubegate/tubegate/internal/sshserver"
	"github.com/tubegate/tubegate/internal/throttle"
	"github.com/tubegate/tubegate/internal/webauth"
	"github.com/tubegate/tubegate/internal/webui"
	"github.com/tubegate/tubegate/web"
)

type serveOptions struct {
	listen, sshListen, data string
	sshProxyProtocol        bool
	tlsCert, tlsKey         string
	logLevel                string
	auditLog                string
	pprof                   string
	metrics                 string
	limits                  sshserver.Limits
	windowMiB               int64 // --max-window-per-user, into limits.MaxWindowPerUser
	unackedMiB              int64 // --max-unacked-per-user, into limits.MaxUnackedPerUser
	forwards                forwardServeOptions
	links                   linkServeOptions
	resumeWindow            time.Duration
	http                    httpServeOptions
	acme                    acmeServeOptions
	oidc                    oidcServeOptions
	cluster                 clusterServeOptions
}

// shutdownTubesWait bounds the wait for closed tubes to finish, at shutdown.
const shutdownTubesWait = 3 * time.Second

func newServe() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway (HTTP + WebSocket, and optionally SSH over TCP)",
		Long: `serve runs the gateway. With no flags at all it listens on 127.0.0.1:8080 and
keeps its state in ./gateway-data: host keys (made on first start and kept),
users, sessions and share links.

  /        the page            /ssh      SSH over WebSocket (binary messages)
  /healthz health check        /metrics  Prometheus metrics

SIGINT or SIGTERM shut it down gracefully. The threads running its Go code
follow its load: one while it keeps less than a core busy, more (up to one
per CPU) while it keeps them busy; GOMAXPROCS in the environment fixes the
count (README, Configuration).`,
		Example: `  gateway serve
  gateway serve --listen :443 --tls-cert cert.pem --tls-key key.pem --ssh-listen 0.0.0.0:2222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "HTTP(S) listen address")
	f.StringVar(&o.sshListen, "ssh-listen", "", "SSH-over-TCP listen address, e.g. 127.0.0.1:2222 (default off)")
	f.BoolVar(&o.sshProxyProtocol, "ssh-proxy-protocol", false,
		"on --ssh-listen, connections from a --trusted-proxy must open with a PROXY protocol header (v1 or v2) giving the client's address")
	dataFlag(cmd, &o.data)
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate (PEM): serve HTTPS and wss://")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key (PEM)")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.auditLog, "audit-log", "", "append security events to FILE as JSON lines (- for standard output; reopened on SIGHUP); default: none, the admin page shows the last ones")
	linkServeFlags(f, &o.links)
	httpServeFlags(f, &o.http)
	acmeServeFlags(f, &o.acme)
	oidcServeFlags(f, &o.oidc)
	clusterServeFlags(f, &o.cluster)
	f.StringVar(&o.metrics, "metrics", "loopback", "who may read /metrics: loopback (this host only), public, or off")
	f.StringVar(&o.pprof, "pprof", "", "serve Go profiles (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060 (default off)")
	l := sshserver.DefaultLimits
	o.limits = l
	f.DurationVar(&o.limits.HandshakeTimeout, "handshake-timeout", l.HandshakeTimeout, "time allowed from connect to end of authentication")
	f.DurationVar(&o.limits.KeepaliveInterval, "keepalive-interval", l.KeepaliveInterval, "server keepalive period")
	f.IntVar(&o.limits.KeepaliveMax, "keepalive-max", l.KeepaliveMax, "unanswered keepalives before a tube is closed")
	f.IntVar(&o.limits.MaxAuthTries, "max-auth-tries", l.MaxAuthTries, "authentication attempts per connection")
	f.IntVar(&o.limits.MaxChannels, "max-channels", l.MaxChannels, "open channels per tube, both ways: the client's (sessions, -L) and those to it (connections to its published ports)")
	forwardServeFlags(f, &o.forwards)
	f.IntVar(&o.limits.MaxTubesPerUser, "max-tubes-per-user", l.MaxTubesPerUser, "live tubes per user")
	f.Int64Var(&o.windowMiB, "max-window-per-user", l.MaxWindowPerUser>>20, "MiB of receive window a user's channels share across their tubes: what they can make the gateway hold unread (each channel starts at 64 KiB of it and grows while read; past it, channels are refused)")
	f.Int64Var(&o.unackedMiB, "max-unacked-per-user", l.MaxUnackedPerUser>>20, "MiB of buffers that a user's resumable WebSocket tubes keep together for bytes their clients have not acknowledged (each tube at most 8 MiB; past it, the tube's sender waits)")
	f.DurationVar(&o.resumeWindow, "resume-window", resume.DefaultWindow, "how long a resumable WebSocket tube whose connection dropped waits for its client to resume it (0: tubes end on a drop)")
	f.IntVar(&o.limits.MaxHandshakesPerSource, "max-handshakes-per-source", l.MaxHandshakesPerSource, "concurrent unauthenticated connections per source address")
	return cmd
}

// listenHTTP binds --listen, with the connection caps and, with
// --tls-cert or ACME (acme non-nil), TLS; it returns the listener, its
// scheme and its TLS config (nil without TLS), which the HTTP server shares.
func listenHTTP(o serveOptions, front *httpFront, acme *acmecert.Manager, log *slog.Logger, accepts acceptloop.Counter, reg prometheus.Registerer) (net.Listener, string, *tls.Config, error) {
	var cfg *tls.Config
	switch {
	case acme != nil:
		cfg = acme.TLSConfig()
	case o.tlsCert != "":
		certs, err := certfile.Load(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, "", nil, err
		}
		cfg = &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, "", nil, fmt.Errorf("--listen: %w", err)
	}
	ln = front.listen(acceptloop.Wrap(ln, "http", log, accepts), log, reg)
	if cfg == nil {
		return ln, "http", nil, nil
	}
	return tls.NewListener(ln, cfg), "https", cfg, nil
}

// newResumeServer makes the registry of resumable tubes: failed resumes
// count against the source's throttle, as wrong passwords do.
func newResumeServer(window time.Duration, log *slog.Logger, failures *throttle.Failures, m *sshserver.Metrics, al *audit.Log) *resume.Server {
	return resume.NewServer(resume.ServerConfig{
		Window: max(window, 0),
		Log:    log,
		Check: func(ctx context.Context, source string, lookup func() bool) (bool, error) {
			return failures.Check(ctx, "resume", source, lookup)
		},
		Count: m.Resumed,
		Audit: func(user, source, tube string, err error) {
			al.Record(audit.Resume(user, source, tube, err))
		},
	})
}

func newLogger(level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv})), nil
}

func serve(ctx context.Context, o serveOptions) error {
	log, err := newLogger(o.logLevel)
	if err != nil {
		return err
	}
	raiseFileLimit(log)
	go procs.Adapt(ctx, procs.Options{Log: log})
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	switch o.metrics {
	case "loopback", "public", "off":
	default:
		return fmt.Errorf("--metrics %q: want loopback, public or off", o.metrics)
	}
	if err := checkShareDomain(o.links.url, o.links.shareDomain); err != nil {
		return err
	}
	if err := checkACME(o); err != nil {
		return err
	}
	if err := checkOIDC(o.oidc); err != nil {
		return err
	}
	if err := checkForwardFlags(o.forwards); err != nil {
		return err
	}
	if o.windowMiB < 1 || o.windowMiB > 1<<20 {
		return fmt.Errorf("--max-window-per-user %d: want 1 to 1048576 (MiB)", o.windowMiB)
	}
	if o.unackedMiB < 1 || o.unackedMiB > 1<<20 {
		return fmt.Errorf("--max-unacked-per-user %d: want 1 to 1048576 (MiB)", o.unackedMiB)
	}
	if o.sshProxyProtocol && (o.sshListen == "" || len(o.http.trustedProxies) == 0) {
		return errors.New("--ssh-proxy-protocol needs --ssh-listen and the proxies' addresses in --trusted-proxy")
	}
	front, err := newHTTPFront(o.http, o.listen, o.links.url, o.links.shareDomain,
		append(slices.Clone(o.acme.domains), nodeAddrNames(o.cluster)...), log)
	if err != nil {
		return err
	}
	if o.pprof != "" {
		if err := servePprof(ctx, o.pprof, log); err != nil {
			return err
		}
	}
	if err := datadir.Ensure(o.data); err != nil {
		return err
	}
	cl, err := openCluster(ctx, o.cluster, log)
	if err != nil {
		return err
	}
	if cl != nil {
		defer cl.Close()
	}
	// A kill -9 mid-save leaves the temp file of an atomic write behind.
	removed, err := datadir.RemoveTemp(o.data)
	if err != nil {
		return err
	}
	if len(removed) > 0 {
		log.Warn("removed temp files of interrupted saves from the data dir", "files", removed)
	}
	// Host keys, users, web sessions and the password throttle: the data
	// dir's, or with --cluster the cluster's in Redis. One count of wrong
	// passwords per source for the web login, share links' basic auth and
	// SSH password auth: guesses cannot be tripled by switching between
	// them (nor, in a cluster, between nodes).
	reg := prometheus.NewRegistry()
	st, err := openState(o.data, cl, reg, log)
	if err != nil {
		return err
	}
	keys, store, failures := st.keys, st.store, st.failures
	for _, k := range keys {
		log.Info("host key", "type", k.PublicKey().Type(), "fingerprint", ssh.FingerprintSHA256(k.PublicKey()))
	}
	al, err := openAudit(o.auditLog, log, reg)
	if err != nil {
		return err
	}
	// Last of all, after every tube has ended: nothing queued is lost.
	defer func() {
		if err := al.Close(); err != nil {
			log.Error("audit log: close", "err", err)
		}
	}()
	userChanges := newUserChanges(store, al)
	defer userChanges.poll() // the changes of the last second
	auth, err := webauth.New(webauth.Config{Dir: o.data, Users: store, Log: log, Failures: failures, Audit: al,
		NoPasswordLogin: !o.oidc.passwordLogin, SSO: o.oidc.loginMethods(), Shared: st.shared})
	if err != nil {
		return err
	}
	page := webui.New(web.Dist())
	if !page.Built() {
		log.Warn("this binary has no web page: build it with `make build`")
	}

	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	acceptErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tubegate_accept_errors_total",
		Help: "Accept errors that were backed off and retried (EMFILE and the like), by listener kind.",
	}, []string{"listener"})
	reg.MustRegister(acceptErrors)
	accepts := acceptloop.Counter(func(kind string) { acceptErrors.WithLabelValues(kind).Inc() })
	// Idle published ports and idle WebSocket tubes wait here, with no
	// goroutine of their own.
	idle, err := idlepoll.New(log)
	if err != nil {
		log.Warn("idle sockets each keep a goroutine", "err", err)
	}
	defer idle.Close()
	registry := newRegistry(o.forwards, log, accepts, idle, reg)
	links, err := newShareLinks(o.links, o.data, log, store, registry, failures, al, cl)
	if err != nil {
		return err
	}
	// The HTTP listener is bound first: its URL is the base of the links
	// the SSH `link` command prints (without --url) and of the first-run link.
	acme, err := newACME(o, links.svc.Store, log)
	if err != nil {
		return err
	}
	hln, scheme, tlsConfig, err := listenHTTP(o, front, acme, log, accepts, reg)
	if err != nil {
		return err
	}
	httpBase := webauth.BaseURL(scheme, hln.Addr())
	if acme != nil {
		httpBase = acmeBaseURL(acme, hln.Addr()) // an IP address has no certificate
	}
	// `gateway link` prints links with it when not given --url.
	if err := recordPublicURL(o.data, cmp.Or(o.links.url, httpBase)); err != nil {
		log.Warn("gateway link will print links on "+fallbackURL+" unless given --url", "err", err)
	}
	sshMetrics := sshserver.NewMetrics(reg)
	o.limits.MaxWindowPerUser = o.windowMiB << 20
	o.limits.MaxUnackedPerUser = o.unackedMiB << 20
	srv, err := sshserver.New(sshserver.Config{
		HostKeys: keys,
		Users:    store,
		Registry: registry,
		Log:      log,
		Metrics:  sshMetrics,
		Limits:   o.limits,
		// The SSH listener, like every listener, rides out EMFILE.
		AcceptMetrics: accepts,
		Failures:      failures,
		Audit:         al,
		Commands:      map[string]sshserver.CommandFunc{"link": links.command(httpBase)},
	})
	if err != nil {
		hln.Close()
		return err
	}

	tubeCtx, cancelTubes := context.WithCancel(context.Background())
	defer cancelTubes()
	mounts := []func(chi.Router){links.proxy.Mount, auth.Mount, page.Mount}
	var health func() error
	if cl != nil {
		go cl.Run(tubeCtx)
		health = cl.Health
		linkRoutes, err := joinCluster(tubeCtx, cl, o.cluster, registry, log, reg)
		if err != nil {
			hln.Close()
			return err
		}
		mounts = append(mounts, linkRoutes)
	}
	sso, err := newOIDC(tubeCtx, o.oidc, cmp.Or(o.links.url, httpBase), store, auth, log)
	if err != nil {
		hln.Close()
		return err
	}
	if sso != nil {
		mounts = append(mounts, sso.Mount)
	}
	go links.proxy.Run(tubeCtx)
	go links.svc.Store.Run(tubeCtx, time.Second) // retries revocations that could not be saved
	go srv.WatchUsers(tubeCtx)
	resumer := newResumeServer(o.resumeWindow, log, st.resumes, sshMetrics, al)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tubegate_tubes_detached", Help: "Resumable tubes whose connection dropped, waiting for their client.",
	}, func() float64 { return float64(resumer.Detached()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tubegate_resume_unacked_bytes", Help: "Bytes resumable tubes keep until their clients acknowledge them (in buffers: tubegate_resume_kept_bytes).",
	}, func() float64 { return float64(resumer.Unacked()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tubegate_resume_kept_bytes", Help: "Memory resumable tubes keep for bytes their clients have not acknowledged: the buffers they are in (each user's together at most --max-unacked-per-user, plus 256 KiB a tube).",
	}, func() float64 { return float64(resumer.Kept()) }))
	go userChanges.run(tubeCtx, time.Second)
	reopenOnHUP(tubeCtx, al, log)
	admin := adminapi.New(adminapi.Config{Users: store, Tubes: srv, Audit: al, Log: log.With("part", "admin"),
		Links: adminapi.Links{Service: links.svc, Conns: links.proxy.Conns().Count,
			Revoke: func(id, by, source string) (int, error) { return links.proxy.Revoke(id, "", by, source) }}})
	var metricsHandler http.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	switch o.metrics {
	case "loopback":
		metricsHandler = httpapi.LoopbackOnly(metricsHandler)
	case "off":
		metricsHandler = nil
	}
	homeCtx, cancelHome := context.WithCancel(tubeCtx)
	defer cancelHome()
	handler := httpapi.New(httpapi.Config{
		Context: tubeCtx,
		SSH:     srv,
		Log:     log,
		Metrics: metricsHandler,
		// Every route sees the web session; a tube opened from one ends with it.
		Sessions: auth.Sessions,
		Mount: append(mounts, admin.Mount, home.New(home.Config{
			Context: homeCtx, Registry: registry, Users: store, PublicURL: cmp.Or(o.links.url, httpBase),
			Log: log.With("part", "home"),
		}).Mount),
		Resume:    resumer,
		IdleReads: idle,
		Health:    health,
	})
	hs := front.server(links.proxy.WithHosts(handler), log) // share-domain hosts never reach the page
	hs.RegisterOnShutdown(cancelHome)                       // the page's event streams end as shutdown begins
	hs.TLSConfig = tlsConfig
	if _, err := auth.FirstRun(httpBase); err != nil {
		hln.Close()
		return err
	}
	errs := make(chan error, 2)
	go func() { errs <- hs.Serve(hln) }()
	log.Info("http listening", "addr", hln.Addr().String(), "url", httpBase+"/")
	if acme != nil {
		if o.acme.httpListen != "" {
			if err := serveACMEHTTP(tubeCtx, o.acme.httpListen, acme, log, accepts); err != nil {
				hs.Close()
				return err
			}
		}
		go acme.Prefetch(tubeCtx) // the listener is up: TLS-ALPN-01 can be answered
	}

	if o.sshListen != "" {
		sln, err := net.Listen("tcp", o.sshListen)
		if err != nil {
			hs.Close()
			return fmt.Errorf("--ssh-listen: %w", err)
		}
		if o.sshProxyProtocol {
			sln = proxyprotocol.Wrap(sln, front.edge.Trusted, cmp.Or(o.limits.HandshakeTimeout, sshserver.DefaultLimits.HandshakeTimeout), log.With("listener", "ssh"))
		}
		go func() { errs <- srv.Serve(tubeCtx, sln) }()
		log.Info("ssh listening", "addr", sln.Addr().String())
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-errs:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("listener failed: %w", err)
			log.Error("shutting down", "err", runErr)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(sctx) // stops accepting; hijacked WebSockets are tubes, closed below
	srv.Shutdown()
	cancelTubes()
	// Each tube records its tube.close before it leaves the count: wait
	// (bounded) so that the audit log, closed last, has them all.
	for deadline := time.Now().Add(shutdownTubesWait); srv.Tubes() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	log.Info("stopped")
	return runErr
}
