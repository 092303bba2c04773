// Package throwaway holds what the end-to-end tests and the bench share
// to run their throw-away peers: the configuration of a disposable OpenSSH
// sshd on loopback, and the options of a headless Chromium that behaves on
// a machine whose network is closed. It is used only by tests and tools.
package throwaway

import (
	"fmt"
	"strings"

	"github.com/chromedp/chromedp"
)

// SSHDConfig is the sshd_config of a throw-away sshd listening on
// 127.0.0.1:port with its own host key, accepting only the public keys in
// authorizedKeys (run as root too: no PAM, no strict modes). Extra lines
// are appended as given.
func SSHDConfig(port int, hostKey, authorizedKeys string, extra ...string) string {
	base := fmt.Sprintf(`ListenAddress 127.0.0.1:%d
HostKey %s
PidFile none
UsePAM no
StrictModes no
AuthorizedKeysFile %s
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PrintMotd no
`, port, hostKey, authorizedKeys)
	if len(extra) == 0 {
		return base
	}
	return base + strings.Join(extra, "\n") + "\n"
}

// ChromiumOptions are the allocator options of a headless Chromium at
// execPath with a fresh profile in profileDir. Background networking,
// component updates, sync and QUIC are off: on a closed network Chromium
// would otherwise spend its start failing to reach Google's hosts.
func ChromiumOptions(execPath, profileDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(profileDir),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(1000, 800),
	}
}
