// Package cluster is Dr.LEE's RPC transport: calls and broadcasts between the
// workers of one process and of many processes ("nodes"), over NATS. It knows
// nothing about Lua: payloads, results and error texts are opaque bytes.
//
// The simplest use is a single node, which embeds a NATS server with no
// network listener:
//
//	n, err := cluster.Start(cluster.Config{})
//	unregister, err := n.Register("add", workerID, func(req *cluster.Request) {
//		if !worker.TryPush(req) { // non-blocking
//			req.Busy()
//		}
//	})
//	// later, on the worker: req.Reply(result, "") or req.Reply(nil, "bad input")
//
//	n.Call("add", payload, 0, func(result []byte, errMsg string, err error) { ... })
//	n.Broadcast("reload", nil, time.Second, func(rs []cluster.Reply, err error) { ... })
//	n.Shutdown(ctx)
//
// For several processes, give each a ClusterAddr (where its embedded server
// takes routes) and the address of any one member in Join; they form one
// NATS cluster. To use an existing NATS deployment instead, set NATSURL.
//
// # How it works
//
// Every node announces on a census subject how many handlers it has per name
// (see census.go). A call goes to this node if it serves the name (handed to
// the local worker directly, without NATS: callLocal), else to a
// node chosen at random weighted by its handler count, on that node's own
// subject; the node hands it to one of its workers, round robin, skipping
// workers whose queue is full. A node that cannot take a call (no handler any
// more, all queues full, shutting down, gone) sends it back and the caller
// tries the next node, so a node leaving or dying does not fail calls that
// other nodes can serve. A broadcast goes to a per-name subject every node
// with a handler subscribes to; each node tells the caller how many of its
// workers answer, so the caller stops waiting as soon as all nodes the census
// names have answered in full. Wire formats are in wire.go.
//
// # Concurrency
//
// All methods of Node and Request are safe for concurrent use.
//
// Handler callbacks (Register's h) run on NATS delivery goroutines: one per
// node for calls, one per name for broadcasts. They must return quickly and
// never block: push the Request onto the worker's queue and return, or call
// Busy if the queue is full. The worker answers later with Request.Reply
// from its own goroutine.
//
// done callbacks (Call, Broadcast) run exactly once, on the node's
// reply-delivery goroutine, a timer goroutine, the Shutdown goroutine, or,
// for errors known before sending (bad name, no handler, closed), on the
// caller's own goroutine before Call returns. They must not block: hand the
// outcome to the calling worker's queue.
//
// Lock order (outer first): local.mu, census.mu, then outbound.mu,
// inflight.mu and nats.go's own locks. bcastState.mu is taken alone.
// Handler callbacks run under local.mu (read), so they must not Register or
// unregister.
package cluster
