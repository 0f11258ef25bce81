package deadline

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

type item struct{ fired atomic.Int32 }

const res = 2 * time.Millisecond

// pair returns a server-side *Conn with timeouts to and the client side of a fresh TCP
// connection.
func pair(t testing.TB, to Timeouts) (*Conn[item], net.Conn) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(raw, to, res, func(it *item) { it.fired.Add(1) })
	t.Cleanup(func() { l.Close() })
	c, client := dialAccept(t, l)
	t.Cleanup(func() { c.Close() })
	return c, client
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// timedRead reads one byte and reports the error and how long it took.
func timedRead(c net.Conn) (error, time.Duration) {
	start := time.Now()
	_, err := c.Read(make([]byte, 1))
	return err, time.Since(start)
}

// within fails unless err is a timeout that came after d (never early) and not absurdly
// late.
func within(t *testing.T, what string, err error, took, d time.Duration) {
	t.Helper()
	if !isTimeout(err) {
		t.Fatalf("%s: %v, want a timeout", what, err)
	}
	if took < d {
		t.Fatalf("%s timed out after %v, before its %v timeout", what, took, d)
	}
	if took > d+2*time.Second {
		t.Fatalf("%s timed out only after %v (timeout %v)", what, took, d)
	}
}

// cycle plays one keep-alive request on the server side: read it, hand it to the handler,
// write the answer.
func cycle(t *testing.T, c *Conn[item], client net.Conn) {
	t.Helper()
	if _, err := client.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("reading the request: %v", err)
	}
	c.RequestRead()
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatalf("writing the response: %v", err)
	}
	if _, err := client.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}

func TestFirstRequestReadTimeoutRunsFromAccept(t *testing.T) {
	c, _ := pair(t, Timeouts{Read: 60 * time.Millisecond})
	err, took := timedRead(c) // the timeout runs from the accept, a moment before
	within(t, "first read", err, took+time.Millisecond, 60*time.Millisecond)
}

func TestIdleTimeoutBetweenRequests(t *testing.T) {
	c, client := pair(t, Timeouts{Read: time.Second, Write: time.Second, Idle: 80 * time.Millisecond})
	cycle(t, c, client)
	err, took := timedRead(c)
	within(t, "idle read", err, took, 80*time.Millisecond)
}

func TestReadTimeoutRestartsAtFirstByte(t *testing.T) {
	c, client := pair(t, Timeouts{Read: 80 * time.Millisecond, Write: time.Second, Idle: time.Second})
	cycle(t, c, client)
	// Idle for longer than the read timeout: only the idle timeout applies.
	time.Sleep(150 * time.Millisecond)
	client.Write([]byte("partial"))
	start := time.Now()
	if _, err := c.Read(make([]byte, 3)); err != nil {
		t.Fatalf("the first bytes after an idle wait: %v", err)
	}
	// The rest of the request never comes: the read timeout runs from the first byte.
	buf := make([]byte, 64)
	var err error
	for err == nil {
		_, err = c.Read(buf)
	}
	within(t, "slow request", err, time.Since(start), 80*time.Millisecond)
}

func TestHandlerPhaseHasNoReadTimeout(t *testing.T) {
	c, client := pair(t, Timeouts{Read: 40 * time.Millisecond, Write: time.Second, Idle: time.Second})
	client.Write([]byte("q"))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	c.RequestRead()
	time.Sleep(150 * time.Millisecond) // a slow handler
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatalf("writing after a slow handler: %v", err)
	}
	if c.readFired.Load() || c.writeFired.Load() {
		t.Fatal("a timeout fired while the handler had the request")
	}
}

func TestWriteTimeoutUnblocksAStuckWrite(t *testing.T) {
	c, _ := pair(t, Timeouts{Read: time.Second, Write: 50 * time.Millisecond, Idle: time.Second})
	c.RequestRead()
	buf := make([]byte, 1<<20)
	var err error
	start := time.Now()
	for i := 0; i < 1000 && err == nil; i++ { // the client never reads
		_, err = c.Write(buf)
	}
	within(t, "stuck write", err, time.Since(start), 50*time.Millisecond)
}

func TestStreamingIsBoundPerWrite(t *testing.T) {
	c, client := pair(t, Timeouts{Read: time.Second, Write: 40 * time.Millisecond, Idle: 100 * time.Millisecond})
	c.RequestRead()
	c.Streaming()
	// A stream of small writes lasting ten write timeouts, read as it comes.
	got := make(chan int64, 1)
	go func() {
		n, _ := io.CopyN(io.Discard, client, 40)
		got <- n
	}()
	for range 40 {
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatalf("a write of a stream that is read: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := <-got; n != 40 {
		t.Fatalf("client got %d bytes, want 40", n)
	}
	// The next request is timed as usual.
	cycle(t, c, client)
	err, took := timedRead(c)
	within(t, "idle after a stream", err, took, 100*time.Millisecond)
}

func TestStreamingStalledClientIsCut(t *testing.T) {
	c, _ := pair(t, Timeouts{Read: time.Second, Write: 50 * time.Millisecond, Idle: time.Second})
	c.RequestRead()
	c.Streaming()
	buf := make([]byte, 1<<20)
	var err error
	var start time.Time
	for i := 0; i < 1000 && err == nil; i++ { // the client never reads
		start = time.Now()
		_, err = c.Write(buf)
	}
	within(t, "stalled stream write", err, time.Since(start), 50*time.Millisecond)
}

func TestKeepAliveCyclesOutliveTheTimeouts(t *testing.T) {
	c, client := pair(t, Timeouts{Read: 30 * time.Millisecond, Write: 30 * time.Millisecond, Idle: 30 * time.Millisecond})
	end := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(end) { // ten times every timeout, one short phase at a time
		cycle(t, c, client)
		time.Sleep(5 * time.Millisecond)
	}
	if c.readFired.Load() || c.writeFired.Load() {
		t.Fatal("a timeout fired on a connection that was never slow")
	}
}

func TestManualDeadlineTakesOver(t *testing.T) {
	c, client := pair(t, Timeouts{Read: 20 * time.Millisecond, Idle: 20 * time.Millisecond})
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(80 * time.Millisecond)
	client.Write([]byte("x"))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("Read with the caller's (no) deadline: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	err, took := timedRead(c)
	within(t, "manual deadline", err, took, 20*time.Millisecond)
}

func TestWatchFiresOnceAndDisarmReports(t *testing.T) {
	c, _ := pair(t, Timeouts{})
	var it item
	start := time.Now()
	tok := c.Arm(20*time.Millisecond, &it)
	for it.fired.Load() == 0 && time.Since(start) < 5*time.Second {
		time.Sleep(time.Millisecond)
	}
	if took := time.Since(start); took < 20*time.Millisecond {
		t.Fatalf("the watch fired after %v, before its 20ms", took)
	}
	time.Sleep(20 * time.Millisecond)
	if n := it.fired.Load(); n != 1 {
		t.Fatalf("expire ran %d times, want 1", n)
	}
	if c.Disarm(tok) {
		t.Fatal("Disarm after the watch fired must report false")
	}

	var it2 item
	tok = c.Arm(20*time.Millisecond, &it2)
	if !c.Disarm(tok) {
		t.Fatal("Disarm before the deadline must report true")
	}
	time.Sleep(60 * time.Millisecond)
	if n := it2.fired.Load(); n != 0 {
		t.Fatalf("a disarmed watch fired %d times", n)
	}
}

// TestWatchRearmRace arms and disarms the same item as fast as a keep-alive connection
// would, with deadlines right at the sweep interval: every arming fires at most once and
// Disarm's answer always matches whether it fired.
func TestWatchRearmRace(t *testing.T) {
	c, _ := pair(t, Timeouts{})
	var it item
	var lost int32
	end := time.Now().Add(300 * time.Millisecond)
	for i := 0; time.Now().Before(end); i++ {
		before := it.fired.Load()
		tok := c.Arm(time.Duration(i%3)*time.Millisecond, &it)
		time.Sleep(time.Duration(i%2) * 3 * time.Millisecond)
		if !c.Disarm(tok) {
			// The sweeper took it: expire runs exactly once for this arming.
			for it.fired.Load() == before {
				time.Sleep(50 * time.Microsecond)
			}
			lost++
		}
		if got := it.fired.Load(); got > before+1 {
			t.Fatalf("one arming fired %d times", got-before)
		}
	}
	time.Sleep(10 * time.Millisecond)
	if got := it.fired.Load(); got != lost {
		t.Fatalf("expire ran %d times, Disarm lost %d watches", got, lost)
	}
	if lost == 0 {
		t.Fatal("no watch ever fired: the race was not exercised")
	}
}

func TestCloseRemovesAndSweeperEnds(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(raw, Timeouts{Read: time.Minute}, time.Millisecond, func(*item) {})
	defer l.Close()
	var clients, conns []net.Conn
	for range 5 {
		cl, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cl)
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	if n := l.Len(); n != 5 {
		t.Fatalf("Len = %d, want 5", n)
	}
	// Close out of order: slots are swap-removed.
	for _, i := range []int{1, 4, 0, 3, 2} {
		conns[i].Close()
		conns[i].Close() // a second Close must not remove another conn
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("Len = %d after closing every conn, want 0", n)
	}
	for _, cl := range clients {
		cl.Close()
	}
	// goleak (deferred) waits for the sweeper to notice it has nothing left and return.
}

func TestNonTCPConnsPassThrough(t *testing.T) {
	dir := t.TempDir()
	raw, err := net.Listen("unix", dir+"/s")
	if err != nil {
		t.Skip("no unix sockets:", err)
	}
	l := NewListener(raw, Timeouts{}, time.Millisecond, func(*item) {})
	defer l.Close()
	go func() {
		c, err := net.Dial("unix", dir+"/s")
		if err == nil {
			io.WriteString(c, "x")
			c.Close()
		}
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*Conn[item]); ok {
		t.Fatal("a unix conn was wrapped")
	}
}

// A sweeper that runs late (a loaded machine) must not make a timeout fire early: a mark
// made just before a late sweep is timed from the sweep after it.
func TestLateSweeperNeverFiresEarly(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(raw, Timeouts{Read: 100 * time.Millisecond}, 10*time.Millisecond, func(*item) {})
	l.manual = true
	defer l.Close()
	client, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	clock := int64(1e12)
	at := func(ms int64) func() int64 { return func() int64 { return clock + ms*1e6 } }
	l.sweepOnce(at(0)) // sweep 1 at 0 ms (no conn yet: it reports false, the seq still counts)
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := nc.(*Conn[item])
	defer c.Close()
	// The read timeout started after sweep 1; the next sweep runs 500 ms late. Its real
	// start could have been just before that sweep, so it has not surely passed there...
	l.sweepOnce(at(500))
	if c.readFired.Load() {
		t.Fatal("a late sweep fired a timeout that may have started just before it")
	}
	l.sweepOnce(at(590)) // ...nor 90 ms later...
	if c.readFired.Load() {
		t.Fatal("the timeout fired 90 ms after its latest possible start, before its 100 ms")
	}
	l.sweepOnce(at(600)) // ...but 100 ms after that sweep it has.
	if !c.readFired.Load() {
		t.Fatal("the timeout did not fire once it had surely passed")
	}
}

func TestResolution(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{30 * time.Second, 250 * time.Millisecond},
		{800 * time.Millisecond, 50 * time.Millisecond},
		{5 * time.Millisecond, time.Millisecond},
	} {
		if got := Resolution(tc.in); got != tc.want {
			t.Errorf("Resolution(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// BenchmarkRequestCycle is what one keep-alive request costs the connection's timing: the
// hooks of two reads, the handler hand-over and a write, against fasthttp's three socket
// deadline updates.
func BenchmarkRequestCycle(b *testing.B) {
	to := Timeouts{Read: 30 * time.Second, Write: 30 * time.Second, Idle: 2 * time.Minute}
	b.Run("swept", func(b *testing.B) {
		c, _ := pair(b, to)
		b.ReportAllocs()
		for b.Loop() {
			c.phase.Store(phaseWriting)
			// Read's hooks, without the read.
			c.writeMark.Store(0)
			c.readMark.Store(c.l.mark(markIdle))
			c.phase.Store(phaseIdle)
			c.readMark.Store(c.l.mark(markRead))
			c.phase.Store(phaseReading)
			c.RequestRead()
			c.startWrite()
		}
	})
	b.Run("socket", func(b *testing.B) {
		c, _ := pair(b, to)
		b.ReportAllocs()
		for b.Loop() {
			c.TCPConn.SetReadDeadline(time.Now().Add(to.Idle))
			c.TCPConn.SetReadDeadline(time.Now().Add(to.Read))
			c.TCPConn.SetWriteDeadline(time.Now().Add(to.Write))
		}
	})
}

// BenchmarkArmDisarm is the handler-timeout watch of one request.
func BenchmarkArmDisarm(b *testing.B) {
	c, _ := pair(b, Timeouts{})
	var it item
	b.ReportAllocs()
	for b.Loop() {
		tok := c.Arm(time.Minute, &it)
		c.Disarm(tok)
	}
}

// BenchmarkAfterFunc is what the watch replaced: one reusable timer per request.
func BenchmarkAfterFunc(b *testing.B) {
	t := time.AfterFunc(time.Hour, func() {})
	b.ReportAllocs()
	for b.Loop() {
		t.Reset(time.Minute)
		t.Stop()
	}
}
