package engine

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// timerfdAlarm is a Linux timerfd read by a goroutine of the engine, which pokes the loop
// each time it fires. The file is non-blocking, so os.File puts it in the runtime's network
// poller: the scheduler's epoll wait returns when it fires, to the microsecond, where the
// wait's own timeout for a runtime timer is in milliseconds. Setting it is one system call
// (timerfd_settime), against a runtime timer's heap update: the loop sets it only when its
// earliest timer changed (armWake).
type timerfdAlarm struct {
	fd   int      // the timerfd, for timerfd_settime; f owns it
	f    *os.File // read by the goroutine; closed by stop, which ends the goroutine
	spec unix.ItimerSpec
	w    *Worker // whose loop it pokes
	// fallback fires in the timerfd's place should setting it ever fail.
	fallback *runtimeAlarm
}

func newAlarm(w *Worker) alarm {
	if a, err := newTimerfdAlarm(w); err == nil {
		return a
	}
	return newRuntimeAlarm(w) // no timerfd (a sandbox without it), or the engine is closing
}

func newTimerfdAlarm(w *Worker) (*timerfdAlarm, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// Never f.Fd(): it would turn the file blocking, out of the poller.
	a := &timerfdAlarm{fd: fd, f: os.NewFile(uintptr(fd), "drlee-alarm"), w: w}
	if !w.engine.Go(fmt.Sprintf("engine: alarm of worker %d", w.ID), a.run) {
		_ = a.f.Close()
		return nil, os.ErrClosed
	}
	return a, nil
}

// run pokes the loop at each expiry, until stop closes the file.
func (a *timerfdAlarm) run() {
	var expirations [8]byte
	for {
		if _, err := a.f.Read(expirations[:]); err != nil {
			return // closed (stop); a timerfd read fails for nothing else
		}
		a.w.poke()
	}
}

func (a *timerfdAlarm) set(d time.Duration) {
	if d <= 0 {
		d = 1 // a zero it_value would disarm the timer: fire at once instead
	}
	a.spec.Value = unix.NsecToTimespec(int64(d))
	if unix.TimerfdSettime(a.fd, 0, &a.spec, nil) != nil {
		// It cannot fail with the fd open and a valid time; should it, the timer must
		// still fire: the runtime's alarm takes over.
		if a.fallback == nil {
			a.fallback = newRuntimeAlarm(a.w)
		}
		a.fallback.set(d)
	}
}

func (a *timerfdAlarm) stop() {
	_ = a.f.Close()
	if a.fallback != nil {
		a.fallback.stop()
	}
}
