package deadline

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

var roomy = Timeouts{Read: 10 * time.Second, Write: 10 * time.Second, Idle: 10 * time.Second}

// Reads and writes on the raw descriptor give what TCPConn's give: the bytes, io.EOF once
// the peer closed, an empty read at once, and a large write whole, waiting for a slow
// reader's room.
func TestRawIOAsTCPConn(t *testing.T) {
	c, client := pair(t, roomy)
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty read: %d, %v", n, err)
	}
	client.Write([]byte("hello"))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MB: far beyond the socket's buffers
	got := make(chan []byte)
	go func() {
		var b bytes.Buffer
		chunk := make([]byte, 1000)
		for b.Len() < len(big) {
			time.Sleep(time.Microsecond) // slow: the writer waits for room, many times
			n, err := client.Read(chunk)
			b.Write(chunk[:n])
			if err != nil {
				break
			}
		}
		got <- b.Bytes()
	}()
	c.RequestRead()
	if n, err := c.Write(big); n != len(big) || err != nil {
		t.Fatalf("write: %d of %d, %v", n, len(big), err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("the reader got %d bytes, not the %d written", len(b), len(big))
	}

	client.Close()
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer closed: %d, %v; want 0, io.EOF", n, err)
	}
}

// Errors are TCPConn's: a reset peer is an *net.OpError "read" or "write" around the
// system call's error; a closed connection net.ErrClosed; a passed deadline a timeout.
func TestRawIOErrors(t *testing.T) {
	c, client := pair(t, roomy)
	client.(*net.TCPConn).SetLinger(0) // its close resets the connection
	client.Close()
	time.Sleep(20 * time.Millisecond)
	_, err := c.Read(make([]byte, 8))
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read from a reset peer: %#v, want an OpError read around ECONNRESET", err)
	}
	_, err = c.Write([]byte("x"))
	if !errors.As(err, &oe) || oe.Op != "write" || !(errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("write to a reset peer: %v, want an OpError write around EPIPE or ECONNRESET", err)
	}

	c2, _ := pair(t, roomy)
	c2.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := c2.Read(make([]byte, 1)); !isTimeout(err) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v, want a timeout", err)
	} else if errors.As(err, &oe) && oe.Op != "read" {
		t.Fatalf("the timeout is named %q, want read", oe.Op)
	}
	c2.Close()
	if _, err := c2.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on a closed connection: %v, want net.ErrClosed", err)
	}
	if _, err := c2.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write on a closed connection: %v, want net.ErrClosed", err)
	}
}

// A read and a write, each with its own attempt state, run at once on one connection
// (the connection goroutine reads while another writes), race-free.
func TestRawIOReadWhileWriting(t *testing.T) {
	c, client := pair(t, roomy)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 3)
		_, err := io.ReadFull(c, buf)
		if err == nil && string(buf) != "abc" {
			err = errors.New("read " + string(buf))
		}
		done <- err
	}()
	go io.Copy(io.Discard, client)
	c.RequestRead()
	for range 100 {
		if _, err := c.Write(bytes.Repeat([]byte("z"), 10000)); err != nil {
			t.Fatal(err)
		}
	}
	client.Write([]byte("abc"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
