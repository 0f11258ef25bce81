package main

import (
	"os"
	"runtime"
	"strings"
	"syscall"
)

// Go's system monitor (sysmon, a thread of the runtime) sleeps deeply whenever every
// processor is idle, and the next system call or cgo call wakes it, after which it looks
// at the processors every 20 µs for a while: a loop that goes idle between requests pays
// one wake-up of sysmon and its 20 µs rounds each time, and with a worker's core to
// itself (one core per worker, as make bench pins it), every round preempts the worker on
// that core. Measured by hand (one server core, wrk on the other): at one connection a
// hello request cost 2.2 context switches and 31-34 µs of system time, a 64 KB stream 3.6
// and 158-163 µs; with sysmon kept from its deep sleep, 1.0 and 24-27 µs, 1.0 and 125-131
// µs (and 0.18 -> 0.07 switches a request on the 1 ms timer at 64 connections). Awake, it
// backs off to a look every 10 ms once it finds nothing to do.
//
// The runtime has one switch for that, read once at start: GODEBUG's schedtrace, which
// keeps sysmon awake to print the scheduler's state every so many milliseconds. With
// --sysmon-awake, drlee run sets it to the largest period (2^31-1 ms, 24.8 days) by
// executing itself again, once, with the setting added (same process id, same arguments),
// then gives the script and its children the environment it was started with. The price,
// and why it is not the default: the runtime counts that period from the host's boot, so
// on a host up for more than 24.8 days a line "SCHED ...: gomaxprocs=..." goes to stderr
// at start and every 24.8 days after, and a fatal error's dump includes the scheduler's
// state. A GODEBUG that sets schedtrace already, or a failed exec, leave the process as it
// is.

const (
	sysmonPeriod = "schedtrace=2147483647"
	sysmonMark   = "DRLEE_GODEBUG_WAS" // the GODEBUG drlee run was started with, across the exec ("=value", or "" for none)
)

// reexecAllowed is set by main: only the drlee process itself may execute itself again,
// not a test calling run.
var reexecAllowed bool

// keepSysmonAwake executes the process again with sysmonPeriod in GODEBUG, unless that was
// done already (then it restores the environment) or cannot be. It returns only when no
// exec took place.
func keepSysmonAwake() {
	if was, ok := os.LookupEnv(sysmonMark); ok { // the second start
		os.Unsetenv(sysmonMark)
		if v, set := strings.CutPrefix(was, "="); set {
			os.Setenv("GODEBUG", v)
		} else {
			os.Unsetenv("GODEBUG")
		}
		return
	}
	godebug, set := os.LookupEnv("GODEBUG")
	if !reexecAllowed || runtime.GOOS != "linux" || strings.Contains(godebug, "schedtrace=") {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	was := "" // unset; "=" and the value when set, even to nothing
	if set {
		was = "=" + godebug
	}
	with := sysmonPeriod
	if godebug != "" {
		with = godebug + "," + sysmonPeriod
	}
	env := make([]string, 0, len(os.Environ())+2)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	env = append(env, "GODEBUG="+with, sysmonMark+"="+was)
	_ = syscall.Exec(exe, os.Args, env) // returns only when it failed: run as we are
}
