// Package leaktest is what the goleak checks of this module's tests (a TestMain with
// goleak.VerifyTestMain in every package that starts goroutines) share: the few goroutines
// of libraries they exempt, each because nothing can end it at once. Only test binaries
// import it.
package leaktest

import "go.uber.org/goleak"

// AtInit exempts the goroutines running when it is called, from TestMain before the first
// test: those package initialisers started, process-wide by design. In every binary that
// links the engine they are ants' two (the default pool its init makes for ants.Submit,
// which nothing here uses; the engine's own pool is made by Run and must be gone).
func AtInit() goleak.Option { return goleak.IgnoreCurrent() }

// FasthttpClient exempts fasthttp's three cleaner goroutines of a client, which sleep on
// a timer nothing can cut short and end by themselves at the first wake-up that finds
// nothing left to clean (httpclient's Client.Close makes that the next one): a
// HostClient's idle connections (connsCleaner, asleep up to the idle connection time), a
// Client's HostClients (mCleaner, up to 10 s), a TCPDialer's DNS cache (tcpAddrsClean,
// every second).
func FasthttpClient() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
	}
}

// FasthttpServer exempts two goroutines of fasthttp's server: the process-wide one that
// updates the Date header once a second (started by the first server, it never ends, by
// design), and a worker pool's cleaner, which Serve stops when it returns but which only
// notices at the end of its sleep (up to the server's idle worker duration, 10 s).
func FasthttpServer() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	}
}
