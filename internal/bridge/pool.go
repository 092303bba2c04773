package bridge

// Messages of pooledMin to pooledCap bytes (an SSH packet of 32 KiB with
// its frame header, the bulk of a transfer) are read into pooled buffers
// that the stream gives back once read (Release): fresh memory for each,
// its page faults and its garbage cost more than a pool. Smaller messages
// are not pooled, so that a queue of small messages never pins large
// buffers.
const (
	pooledMin = 16 << 10
	pooledCap = 64<<10 + 64
	// bigPooledCap: messages of more than pooledCap bytes, up to a batch
	// of packets (a sendQueue's largest message with a DATA header), go in
	// buffers of their own pool.
	bigPooledCap = sendMax + 64
)
