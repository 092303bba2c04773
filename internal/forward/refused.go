package forward

import (
	"errors"
	"fmt"
)

// ErrRefused is wrapped by every error that is a policy, ownership or limit
// refusal rather than a failure, so that callers can tell the two apart
// with errors.Is: an SSH client is told "administratively prohibited", the
// API answers 403, and the refusal is counted.
var ErrRefused = errors.New("refused")

// Refusedf is a refusal: an error wrapping ErrRefused with the reason.
func Refusedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}
