package linkcmd

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/tubegate/tubegate/internal/sharelink"
)

// WriteCreated prints a new link: its URL on the first line, alone, so
// scripts can take it with head -1, then the details.
func WriteCreated(w io.Writer, c sharelink.Created, u sharelink.URLs) {
	fmt.Fprintln(w, c.URL)
	fmt.Fprintf(w, "id %s  endpoint %s  expires %s", c.ID, c.Endpoint, c.Expires.Local().Format(time.RFC3339))
	if c.Kind == sharelink.KindHTTP {
		if c.PathURL != c.URL {
			fmt.Fprintf(w, "\nalso at %s", c.PathURL)
		}
		if c.Name != "" && u.Host(c.Name) != "" {
			fmt.Fprintf(w, "\nnamed   %s", u.Host(c.Name))
		}
		fmt.Fprintf(w, "\nthe secret part of this URL is not stored and cannot be shown again")
	}
	fmt.Fprintln(w)
}

// WriteList prints links as a table; withUser adds the owner column.
func WriteList(w io.Writer, links []sharelink.Link, s *sharelink.Store, u sharelink.URLs, withUser bool) {
	if len(links) == 0 {
		fmt.Fprintln(w, "no share links")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if withUser {
		fmt.Fprint(tw, "ID\tUSER\tENDPOINT\tKIND\tEXPIRES\tGUARDS\tURL\n")
	} else {
		fmt.Fprint(tw, "ID\tENDPOINT\tKIND\tEXPIRES\tGUARDS\tURL\n")
	}
	for _, l := range links {
		guards := "-"
		switch {
		case l.HasBasicAuth() && l.LoginRequired:
			guards = "basic-auth,login"
		case l.HasBasicAuth():
			guards = "basic-auth"
		case l.LoginRequired:
			guards = "login"
		}
		url := u.Listed(l)
		if url == "" {
			url = "(shown at creation only)"
		}
		exp := s.ExpiresAt(&l).Local().Format(time.RFC3339)
		if withUser {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, l.User, l.Endpoint, l.Kind, exp, guards, url)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, l.Endpoint, l.Kind, exp, guards, url)
		}
	}
	tw.Flush()
}
