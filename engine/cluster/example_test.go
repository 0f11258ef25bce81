package cluster_test

import (
	"context"
	"fmt"
	"time"

	"github.com/drlee/drlee/engine/cluster"
)

// A single node, one worker serving "greet", one call. The worker here is a
// goroutine with a bounded queue; in Dr.LEE it is a Lua state's event loop.
func Example() {
	n, err := cluster.Start(cluster.Config{}) // single node: no listener at all
	if err != nil {
		panic(err)
	}
	queue := make(chan *cluster.Request, 16)
	go func() { // the worker
		for req := range queue {
			req.Reply(fmt.Appendf(nil, "hello, %s", req.Payload), "")
		}
	}()
	unregister, err := n.Register("greet", 1, func(req *cluster.Request) {
		select { // never block the NATS delivery goroutine
		case queue <- req:
		default:
			req.Busy()
		}
	})
	if err != nil {
		panic(err)
	}

	done := make(chan struct{})
	n.Call("greet", []byte("world"), time.Second, func(result []byte, errMsg string, err error) {
		fmt.Printf("%s %q %v\n", result, errMsg, err)
		close(done)
	})
	<-done
	n.Call("nobody", nil, time.Second, func(_ []byte, _ string, err error) {
		fmt.Println(err)
	})

	unregister()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = n.Shutdown(ctx)
	close(queue)
	// Output:
	// hello, world "" <nil>
	// no handler for 'nobody'
}
