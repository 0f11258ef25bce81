// Package leaktest is what the goleak checks of this module's tests (a TestMain with
// goleak.VerifyTestMain in every package that starts goroutines) share: the few goroutines
// of libraries they exempt, each because nothing can end it at once. Only test binaries
// import it.
package leaktest

import "go.uber.org/goleak"

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
