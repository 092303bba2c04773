package sshserver

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the SSH server's Prometheus collectors. A nil *Metrics
// measures nothing, so tests and tools can leave it out.
type Metrics struct {
	tubes        *prometheus.GaugeVec
	tubesTotal   *prometheus.CounterVec
	handshakeErr prometheus.Counter
	authFail     *prometheus.CounterVec
	refusals     *prometheus.CounterVec
	resumes      *prometheus.CounterVec
}

// NewMetrics makes the collectors and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		tubes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tubegate_tubes", Help: "Live authenticated tubes, by transport.",
		}, []string{"transport"}),
		tubesTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tubegate_tubes_total", Help: "Tubes authenticated since start, by transport.",
		}, []string{"transport"}),
		handshakeErr: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tubegate_handshake_failures_total", Help: "Connections that ended before authenticating.",
		}),
		authFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tubegate_auth_failures_total", Help: "Failed authentication attempts, by method.",
		}, []string{"method"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tubegate_refusals_total", Help: "Requests refused by policy or limits, by kind.",
		}, []string{"kind"}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tubegate_resumes_total",
			Help: "Resumes of resumable tubes, by outcome: accepted, refused, throttled, bad_hello, expired (window passed).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.tubes, m.tubesTotal, m.handshakeErr, m.authFail, m.refusals, m.resumes)
	return m
}

func (m *Metrics) tubeOpened(transport string) {
	if m != nil {
		m.tubes.WithLabelValues(transport).Inc()
		m.tubesTotal.WithLabelValues(transport).Inc()
	}
}

func (m *Metrics) tubeClosed(transport string) {
	if m != nil {
		m.tubes.WithLabelValues(transport).Dec()
	}
}

func (m *Metrics) handshakeFailed() {
	if m != nil {
		m.handshakeErr.Inc()
	}
}

func (m *Metrics) authFailed(method string) {
	if m != nil {
		m.authFail.WithLabelValues(method).Inc()
	}
}

func (m *Metrics) refused(kind string) {
	if m != nil {
		m.refusals.WithLabelValues(kind).Inc()
	}
}

// Resumed counts one resume outcome (see resume.ServerConfig.Count).
func (m *Metrics) Resumed(outcome string) {
	if m != nil {
		m.resumes.WithLabelValues(outcome).Inc()
	}
}
