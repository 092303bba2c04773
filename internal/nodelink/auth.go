package nodelink

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// keyLabel is the HKDF info that derives the link's MAC key from the
// cluster secret, so that the secret itself signs nothing.
const keyLabel = "tubegate nodelink v1"

// Headers of a node-to-node request. The endpoint key, tube and origin go
// in the query; who asks, for whom, when and the MAC go here.
const (
	hdrFrom  = "Tubegate-Node-From"
	hdrTo    = "Tubegate-Node-To"
	hdrTime  = "Tubegate-Node-Time"
	hdrNonce = "Tubegate-Node-Nonce"
	hdrMAC   = "Tubegate-Node-Mac"
)

// maxField bounds every signed field (node ids, key, tube, origin).
const maxField = 1024

// deriveKey is HKDF-SHA256(secret, info keyLabel), 32 bytes.
func deriveKey(secret []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, keyLabel, 32)
}

// claim is what one request asserts and the MAC covers.
type claim struct {
	method, path string
	from, to     string // caller and target node ids
	key, tube    string
	originNet    string
	origin       string
	ts           int64 // unix seconds
	nonce        string
}

// mac is HMAC-SHA256 over the claim's fields, each length-prefixed so
// that no two claims encode alike.
func (c claim) mac(key []byte) []byte {
	h := hmac.New(sha256.New, key)
	var n [4]byte
	for _, f := range []string{keyLabel, c.method, c.path, c.from, c.to, c.key, c.tube,
		c.originNet, c.origin, strconv.FormatInt(c.ts, 10), c.nonce} {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// sign fills in a fresh nonce and sets the auth headers of h.
func (c *claim) sign(key []byte, h http.Header) {
	var b [16]byte
	rand.Read(b[:])
	c.nonce = hex.EncodeToString(b[:])
	h.Set(hdrFrom, c.from)
	h.Set(hdrTo, c.to)
	h.Set(hdrTime, strconv.FormatInt(c.ts, 10))
	h.Set(hdrNonce, c.nonce)
	h.Set(hdrMAC, hex.EncodeToString(c.mac(key)))
}

// refusal is why a request was not served: an HTTP status, a metric
// reason and the message the caller reads.
type refusal struct {
	status int
	reason string
	msg    string
}

func (r *refusal) Error() string { return r.msg }

// Refusal reasons, the label of tubegate_nodelink_refused_total.
const (
	reasonNoAuth    = "no_auth"
	reasonMalformed = "malformed"
	reasonWrongNode = "wrong_node"
	reasonBadMAC    = "bad_mac"
	reasonExpired   = "expired"
	reasonReplay    = "replay"
	reasonCacheFull = "replay_cache_full"
	reasonCap       = "stream_cap"
	reasonNoLocal   = "no_local"
)

// verify checks the auth headers of r against c (whose method, path, key,
// tube and origin the handler filled from the request) at time now, and
// remembers the nonce. Only a request signed with the secret reaches the
// nonce cache or learns this node's id.
func (l *Link) verify(r *http.Request, c *claim, now time.Time) *refusal {
	h := r.Header
	mac, ts, nonce := h.Get(hdrMAC), h.Get(hdrTime), h.Get(hdrNonce)
	c.from, c.to = h.Get(hdrFrom), h.Get(hdrTo)
	if mac == "" || ts == "" || nonce == "" || c.from == "" {
		return &refusal{http.StatusUnauthorized, reasonNoAuth, "node link: no credentials (a cluster peer signs every request)"}
	}
	for _, f := range []string{c.from, c.to, c.key, c.tube, c.origin, c.originNet} {
		if len(f) > maxField {
			return &refusal{http.StatusBadRequest, reasonMalformed, "node link: a field is too long"}
		}
	}
	var err error
	if c.ts, err = strconv.ParseInt(ts, 10, 64); err != nil {
		return &refusal{http.StatusBadRequest, reasonMalformed, "node link: bad timestamp"}
	}
	nb, err := hex.DecodeString(nonce)
	if err != nil || len(nb) != 16 {
		return &refusal{http.StatusBadRequest, reasonMalformed, "node link: bad nonce"}
	}
	c.nonce = nonce
	got, err := hex.DecodeString(mac)
	if err != nil {
		return &refusal{http.StatusBadRequest, reasonMalformed, "node link: bad mac"}
	}
	if !hmac.Equal(got, c.mac(l.key)) {
		return &refusal{http.StatusForbidden, reasonBadMAC, "node link: bad signature (not signed with this cluster's secret)"}
	}
	// Signed for another node: a capture replayed to this one, or a stale
	// directory entry (the node at that address restarted under a new id).
	if c.to != l.cfg.NodeID {
		return &refusal{http.StatusForbidden, reasonWrongNode,
			fmt.Sprintf("node link: this is node %q, not %q (the directory is stale, or the node restarted under a new id)", l.cfg.NodeID, c.to)}
	}
	skew := now.Unix() - c.ts
	if skew > int64(l.skew/time.Second) || -skew > int64(l.skew/time.Second) {
		return &refusal{http.StatusForbidden, reasonExpired,
			fmt.Sprintf("node link: timestamp %ds off this node's clock (allowed ±%v; are the nodes' clocks in sync?)", skew, l.skew)}
	}
	var id [16]byte
	copy(id[:], nb)
	switch l.nonces.add(c.ts, id, now) {
	case nonceReplayed:
		return &refusal{http.StatusForbidden, reasonReplay, "node link: request replayed (nonce already used)"}
	case nonceFull:
		return &refusal{http.StatusServiceUnavailable, reasonCacheFull, "node link: too many requests in the replay window, try again"}
	}
	return nil
}

// nonceCache remembers the nonces seen within the timestamp window, by
// timestamp: a replay carries the same (signed) timestamp, so it is looked
// up in that second's bucket only, and buckets older than the window are
// dropped whole. Bounded: when full, requests are refused rather than
// nonces forgotten early.
type nonceCache struct {
	skew int64 // seconds
	max  int

	mu      sync.Mutex
	n       int
	buckets map[int64]map[[16]byte]struct{}
}

const (
	nonceFresh = iota
	nonceReplayed
	nonceFull
)

func newNonceCache(skew time.Duration, max int) *nonceCache {
	return &nonceCache{skew: int64(skew / time.Second), max: max, buckets: map[int64]map[[16]byte]struct{}{}}
}

// add records nonce under ts, which verify checked is within the window
// of now.
func (c *nonceCache) add(ts int64, nonce [16]byte, now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	oldest := now.Unix() - c.skew
	for t, b := range c.buckets {
		if t < oldest {
			c.n -= len(b)
			delete(c.buckets, t)
		}
	}
	b := c.buckets[ts]
	if _, seen := b[nonce]; seen {
		return nonceReplayed
	}
	if c.n >= c.max {
		return nonceFull
	}
	if b == nil {
		b = map[[16]byte]struct{}{}
		c.buckets[ts] = b
	}
	b[nonce] = struct{}{}
	c.n++
	return nonceFresh
}

// len is the number of nonces remembered.
func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
