// Package audit writes the gateway's audit log: one JSON object per line
// for each security-relevant event (logins, tubes, forwards, direct-tcpip,
// share links, user changes, resumes), to a file opened for append that is
// reopened on request (SIGHUP, for rotation), or to standard output. It
// also keeps the last events in memory for the admin page. The event names
// and fields are a stable interface (README, "Audit log").
package audit

import "time"

// Event names. Each is written with an Outcome.
const (
	WebLogin       = "web.login"         // a password, first-run or single sign-on login on the page
	TubeOpen       = "tube.open"         // an SSH connection authenticated
	TubeClose      = "tube.close"        // it ended (bytes, duration)
	TubeDisconnect = "tube.disconnect"   // an admin closed it from the admin page
	ForwardPublish = "forward.publish"   // ssh -R: a tcpip-forward published or refused
	DirectTCPIP    = "direct_tcpip.open" // ssh -L/-J/-W: a direct-tcpip channel opened or refused
	LinkCreate     = "link.create"
	LinkUse        = "link.use" // the first request through a link from one source address
	LinkRevoke     = "link.revoke"
	LinkExpire     = "link.expire"
	UserCreate     = "user.create"
	UserChange     = "user.change"
	UserDelete     = "user.delete"
	TubeResume     = "tube.resume" // a resumable tube reattached, or refused
)

// Outcomes.
const (
	Success = "success"
	Refused = "refused" // by policy, credentials or a limit
	Failed  = "failed"  // allowed, but it did not work (a dial that failed)
)

// Event is one line of the audit log. Time, Event, User, Source, Tube and
// Outcome are always written (empty when they do not apply); the rest only
// when set.
type Event struct {
	Time    time.Time `json:"time"`
	Event   string    `json:"event"`
	User    string    `json:"user"`   // the user who acted, or whose tube it is
	Source  string    `json:"source"` // the client's address (host:port)
	Tube    string    `json:"tube"`   // the tube's id, as in the gateway's log
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"` // why refused or failed
	// By is who made a change: a user of the admin page or "cli:OSUSER".
	By         string   `json:"by,omitempty"`
	Subject    string   `json:"subject,omitempty"`   // the user created, changed or deleted
	Fields     []string `json:"fields,omitempty"`    // what a user.change changed
	Target     string   `json:"target,omitempty"`    // direct-tcpip host:port, forward bind address
	Link       string   `json:"link,omitempty"`      // a share link's id
	Endpoint   string   `json:"endpoint,omitempty"`  // a share link's endpoint
	Transport  string   `json:"transport,omitempty"` // tcp or websocket
	Method     string   `json:"method,omitempty"`    // how a web login authenticated
	BytesIn    int64    `json:"bytes_in,omitempty"`  // tube.close: from the client
	BytesOut   int64    `json:"bytes_out,omitempty"` // tube.close: to the client
	DurationMS int64    `json:"duration_ms,omitempty"`
}

// Resume is the tube.resume event of a resumable tube reattaching: success
// when err is nil, else refused with err as the reason (a used or unknown
// token, the window passed). The resume code records it with Log.Record.
func Resume(user, source, tube string, err error) Event {
	e := Event{Event: TubeResume, User: user, Source: source, Tube: tube, Outcome: Success, Transport: "websocket"}
	if err != nil {
		e.Outcome, e.Reason = Refused, err.Error()
	}
	return e
}
