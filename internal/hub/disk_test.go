//go:build linux

package hub

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Real file-system faults during a pull (issue 8, item 5), next to the
// simulated ones of hub_test.go (openPartial replaced): a small tmpfs that
// fills up, a tmpfs mounted read-only, and a file-size limit (which needs
// no privilege). Mounting needs CAP_SYS_ADMIN; without it those cases skip.

// mountCache mounts a tmpfs of size bytes on the fixture's cache directory.
func mountCache(t *testing.T, fx *fixture, size int) {
	t.Helper()
	if err := os.MkdirAll(fx.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", fx.dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): needs CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() { syscall.Unmount(fx.dir, syscall.MNT_DETACH) })
}

func remountReadOnly(t *testing.T, dir string) {
	t.Helper()
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("remount read-only: %v", err)
	}
}

func TestPullTmpfsFull(t *testing.T) {
	fx := newFixture(t)
	mountCache(t, fx, 128<<10) // the model has 300 000 bytes
	_, _, err := fx.pull("tiny", Options{})
	wantErr(t, err, "tiny-model.pth", "no space left", fx.dir, "partial download was removed")
	fx.assertAbsent("tiny-model.pth", "tiny-model.pth.partial")
	if n := len(fx.requests()); n != 2 {
		t.Errorf("%d requests: a full disk must not be retried", n)
	}
}

// TestPullTmpfsFullKeepsCachedFile: a forced pull that runs out of space
// leaves the cached, verified file as it was.
func TestPullTmpfsFullKeepsCachedFile(t *testing.T) {
	fx := newFixture(t)
	mountCache(t, fx, len(fx.model)+len(fx.vocab)+64<<10)
	if _, _, err := fx.pull("tiny", Options{}); err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(fx.dir, "tiny-model.pth")
	before, err := os.Stat(final)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = fx.pull("tiny", Options{Force: true})
	wantErr(t, err, "tiny-model.pth", "no space left")
	fx.assertFile("tiny-model.pth", fx.model)
	fx.assertAbsent("tiny-model.pth.partial")
	after, _ := os.Stat(final)
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Error("the cached file was replaced")
	}
}

func TestPullReadOnlyMount(t *testing.T) {
	fx := newFixture(t)
	mountCache(t, fx, 1<<20)
	remountReadOnly(t, fx.dir)
	_, _, err := fx.pull("tiny", Options{})
	wantErr(t, err, "cannot write to the cache directory", fx.dir, "read-only file system", "RWKV_CHAT_HOME")
	fx.assertAbsent("tiny-model.pth", "tiny-model.pth.partial")
}

// TestPullFileSizeLimit: a write that fails with EFBIG (RLIMIT_FSIZE, with
// SIGXFSZ ignored) — what a full disk looks like to someone who cannot
// mount one — gives a clear error and installs nothing.
func TestPullFileSizeLimit(t *testing.T) {
	fx := newFixture(t)
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
		t.Skip(err)
	}
	signal.Ignore(syscall.SIGXFSZ)
	defer signal.Reset(syscall.SIGXFSZ)
	lim := unix.Rlimit{Cur: 64 << 10, Max: old.Max}
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
		t.Skip(err)
	}
	_, _, err := fx.pull("tiny", Options{})
	unix.Setrlimit(unix.RLIMIT_FSIZE, &old)
	wantErr(t, err, "tiny-model.pth", "file too large")
	t.Logf("error: %v (%d requests)", err, len(fx.requests()))
	fx.assertAbsent("tiny-model.pth")
	if st, err := os.Stat(filepath.Join(fx.dir, "tiny-model.pth.partial")); err == nil {
		t.Logf("the partial download stays (%d bytes), to resume", st.Size())
	}
}
