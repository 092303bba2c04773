//go:build !js

package bridge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestFailWithWriteStuck: a client that reads nothing, its socket full,
// then sends a frame that breaks the protocol: the gateway's reader still
// ends, with the reason, once the stuck write has had closeWait.
func TestFailWithWriteStuck(t *testing.T) {
	ended := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r)
		if err != nil {
			ended <- err
			return
		}
		defer c.Close()
		go func() {
			chunk := make([]byte, 1<<20)
			for {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}()
		_, err = io.Copy(io.Discard, c)
		ended <- err
	}))
	defer srv.Close()
	c, _ := rawUpgrade(t, srv, nil)
	time.Sleep(200 * time.Millisecond) // the socket's buffers fill
	c.Write(frame(true, opBinary, []byte("not masked"), nil))
	select {
	case err := <-ended:
		if err == nil || !strings.Contains(err.Error(), "unmasked frame") {
			t.Errorf("the gateway's reader ended with %v, want the reason", err)
		}
	case <-time.After(4 * closeWait):
		t.Fatal("a write stuck on a client that reads nothing held the reader up")
	}
}
