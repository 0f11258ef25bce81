package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/drlee/drlee/internal/nodename"
)

// Config configures a Node. The zero value is a single node with no network
// listener at all.
type Config struct {
	// Node names this node in broadcast replies and logs. Default: host name
	// plus ":" plus the cluster port, or plus ":" plus the process id when
	// there is no cluster port. It must not contain spaces. Names need not be
	// unique (each Node also gets a random instance id), but they should be.
	Node string

	// ClusterAddr is "host:port" where the embedded server listens for routes
	// from other nodes. Port 0 picks a free port (see Node.ClusterAddr).
	// Empty: single node, unless NATSURL is set.
	ClusterAddr string
	// ClusterAdvertise is the "host:port" other nodes should use to reach
	// this one, if it differs from ClusterAddr (NAT, 0.0.0.0).
	ClusterAdvertise string
	// Join lists route addresses of peers ("host:port" or
	// "nats-route://host:port"). Naming one member is enough: routes gossip
	// the rest. Peers that are not up yet are retried forever.
	Join []string
	// ClusterName must be the same on all nodes. Default "drlee".
	ClusterName string
	// ClusterUser and ClusterPassword, if set, are required from peers'
	// routes and sent on this node's own routes.
	ClusterUser, ClusterPassword string

	// NATSURL connects to an existing NATS server or cluster instead of
	// embedding one (comma-separated URLs). ClusterAddr and Join must then be
	// empty. NATSOptions are added to the connection (credentials, TLS).
	NATSURL     string
	NATSOptions []nats.Option

	// Prefix is the first subject token of everything this package sends,
	// so that several applications can share one NATS cluster. Default "drlee".
	Prefix string
	// DefaultTimeout applies to Call and Broadcast when they get a timeout
	// <= 0. Default 5s.
	DefaultTimeout time.Duration
	// Heartbeat is how often a node re-announces its handlers (which also
	// heals any census message lost while routes form). Default 1s.
	Heartbeat time.Duration
	// PeerTimeout drops a peer not heard from for that long from the census.
	// Default 5 heartbeats. Calls do not depend on it to skip a dead node
	// (NATS tells at once that nobody listens on its subject); broadcasts
	// wait for their timeout while a dead node is still listed.
	PeerTimeout time.Duration
	// LeaveTimeout bounds how long Shutdown waits for peers to acknowledge
	// that this node left (within Shutdown's context). Default 2s.
	LeaveTimeout time.Duration
	// JoinTimeout bounds how long Start waits for a first route when Join is
	// set. Start does not fail when it passes; routes keep being retried.
	// Default 2s.
	JoinTimeout time.Duration
	// Logf, if set, receives this package's and the embedded server's
	// warnings and errors. Default: discard.
	Logf func(format string, args ...any)

	// JetStream turns JetStream on in the embedded server (streams and
	// key-value buckets; see Node.Conn). It has no effect with NATSURL, whose
	// servers have it on or not. In a cluster every node should have it on:
	// the nodes share one JetStream domain, and a bucket's replicas go to
	// nodes that have it.
	JetStream bool
	// StoreDir is where the embedded server keeps JetStream's files. Nodes
	// that restart with the same StoreDir and Node name get their data back.
	// Empty: a new temporary directory, removed by Shutdown (the data lives
	// as long as the node).
	StoreDir string
}

// Node is one process's membership in the cluster: an embedded NATS server
// (or a connection to an external one), the handlers its workers registered,
// and the calls its workers made.
//
// All methods are safe for concurrent use.
type Node struct {
	cfg  Config
	name string
	inst string // random per Start; subject token and census key

	callPrefix  string // <prefix>.n.<inst>.c.
	bcastPrefix string // <prefix>.b.
	censusSubj  string // <prefix>.census
	inboxPrefix string // _INBOX.<nuid>.

	srv      *server.Server // nil with NATSURL
	nc       *nats.Conn
	tmpStore string // the temporary StoreDir this node made, removed by stopServer

	callSub   *nats.Subscription
	inboxSub  *nats.Subscription
	censusSub *nats.Subscription

	census   census
	local    local
	out      outbound
	inflight inflight

	ids atomic.Uint64 // call and broadcast ids

	announceMu sync.Mutex // serialises announcements with the leave message
	leaving    atomic.Bool
	announceCh chan struct{}
	quit       chan struct{}
	wg         sync.WaitGroup // goroutines started by this package

	closing      atomic.Bool
	shutdownOnce sync.Once
	shutdownDone chan struct{}
	shutdownErr  error
	ncClosed     chan struct{}
}

func (c *Config) setDefaults() {
	if c.ClusterName == "" {
		c.ClusterName = "drlee"
	}
	if c.Prefix == "" {
		c.Prefix = "drlee"
	}
	if c.DefaultTimeout <= 0 {
		c.DefaultTimeout = 5 * time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = time.Second
	}
	if c.PeerTimeout <= 0 {
		c.PeerTimeout = 5 * c.Heartbeat
	}
	if c.LeaveTimeout <= 0 {
		c.LeaveTimeout = 2 * time.Second
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = 2 * time.Second
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Start starts a node:
//   - Config zero value (no ClusterAddr, no NATSURL): an embedded NATS server
//     with no listener at all, reached in-process.
//   - ClusterAddr set: the embedded server listens for routes there and
//     connects to the Join peers. (nats-server only starts routing together
//     with its client listener, so it also listens for clients on a random
//     127.0.0.1 port guarded by a random token that only this process knows.)
//   - NATSURL set: no server; connect to that NATS cluster.
//
// Start returns once the node can call and be called; with Join, it first
// waits up to JoinTimeout for a route to a peer.
func Start(cfg Config) (*Node, error) {
	cfg.setDefaults()
	if err := ValidName(cfg.Prefix); err != nil || strings.Contains(cfg.Prefix, ".") {
		return nil, fmt.Errorf("drlee: invalid cluster subject prefix %q", cfg.Prefix)
	}
	if cfg.NATSURL != "" && (cfg.ClusterAddr != "" || len(cfg.Join) > 0) {
		return nil, errors.New("drlee: NATSURL excludes ClusterAddr and Join")
	}
	if len(cfg.Join) > 0 && cfg.ClusterAddr == "" {
		return nil, errors.New("drlee: Join needs ClusterAddr")
	}
	if strings.ContainsAny(cfg.Node, " \t\r\n") {
		return nil, fmt.Errorf("drlee: node name %q contains spaces", cfg.Node)
	}

	n := &Node{
		cfg:          cfg,
		inst:         nuid.Next(),
		announceCh:   make(chan struct{}, 1),
		quit:         make(chan struct{}),
		shutdownDone: make(chan struct{}),
		ncClosed:     make(chan struct{}),
	}
	n.callPrefix = cfg.Prefix + ".n." + n.inst + ".c."
	n.bcastPrefix = cfg.Prefix + ".b."
	n.censusSubj = cfg.Prefix + ".census"
	n.inboxPrefix = nats.NewInbox() + "."
	n.census.init(cfg.Prefix)
	n.census.setSelf(n.inst, cfg.Node) // name fixed below, before anyone reads it
	n.local.names = make(map[string]*localName)
	n.out.m = make(map[uint64]*outCall)
	n.inflight.m = make(map[*Request]struct{})

	opts := []nats.Option{
		nats.MaxReconnects(-1),
		nats.DrainTimeout(time.Hour), // Shutdown bounds the drain by its context
		nats.ClosedHandler(func(*nats.Conn) { close(n.ncClosed) }),
		nats.ReconnectHandler(func(*nats.Conn) {
			cfg.Logf("drlee cluster: reconnected to NATS")
			n.kickAnnounce()
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				cfg.Logf("drlee cluster: disconnected from NATS: %v", err)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			if s != nil {
				cfg.Logf("drlee cluster: subscription %s: %v", s.Subject, err)
			} else {
				cfg.Logf("drlee cluster: %v", err)
			}
		}),
	}
	var err error
	connURL := cfg.NATSURL
	if connURL == "" {
		var token string
		n.srv, token, n.tmpStore, err = startServer(&n.cfg)
		if err != nil {
			return nil, err
		}
		connURL = "nats://127.0.0.1:4222" // not dialled: the connection is in-process
		opts = append(opts, nats.InProcessServer(n.srv), nats.IgnoreDiscoveredServers())
		if token != "" {
			opts = append(opts, nats.Token(token))
		}
	} else {
		opts = append(opts, cfg.NATSOptions...)
	}
	if n.cfg.Node == "" {
		n.cfg.Node = defaultNodeName(n.srv)
	}
	n.name = n.cfg.Node
	n.census.self.name = n.name
	opts = append(opts, nats.Name("drlee "+n.name))

	if n.nc, err = nats.Connect(connURL, opts...); err != nil {
		n.stopServer()
		return nil, fmt.Errorf("drlee: connect to NATS: %w", err)
	}
	if err = n.subscribe(); err != nil {
		n.nc.Close()
		n.stopServer()
		return nil, err
	}

	if n.srv != nil && len(cfg.Join) > 0 {
		deadline := time.Now().Add(cfg.JoinTimeout)
		for n.srv.NumRoutes() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n.srv.NumRoutes() == 0 {
			cfg.Logf("drlee cluster: no route to %v after %v; still trying", cfg.Join, cfg.JoinTimeout)
		}
	}
	// Say hello: every peer answers with its own state.
	n.announce(true)
	n.wg.Add(1)
	go n.censusLoop()
	return n, nil
}

func (n *Node) subscribe() error {
	var err error
	if n.callSub, err = n.nc.Subscribe(n.callPrefix+">", n.onCall); err != nil {
		return fmt.Errorf("drlee: subscribe: %w", err)
	}
	if n.inboxSub, err = n.nc.Subscribe(n.inboxPrefix+"*", n.onReply); err != nil {
		return fmt.Errorf("drlee: subscribe: %w", err)
	}
	if n.censusSub, err = n.nc.Subscribe(n.censusSubj, n.onCensus); err != nil {
		return fmt.Errorf("drlee: subscribe: %w", err)
	}
	for _, s := range []*nats.Subscription{n.callSub, n.inboxSub, n.censusSub} {
		// Delivery is a non-blocking hand-off; do not drop messages because
		// of nats.go's default pending limits under bursts.
		_ = s.SetPendingLimits(1<<20, 256<<20)
	}
	// Make sure the server has the subscriptions before anyone is told
	// about this node.
	return n.nc.Flush()
}

func defaultNodeName(srv *server.Server) string {
	if srv != nil {
		if a := srv.ClusterAddr(); a != nil {
			return nodename.Default(strconv.Itoa(a.Port))
		}
	}
	return nodename.Default(strconv.Itoa(os.Getpid()))
}

// startServer starts the embedded nats-server for cfg. It returns the client
// token to use for in-process connections ("" when the server has no client
// listener) and the temporary JetStream store it made ("" when none).
func startServer(cfg *Config) (s *server.Server, token, tmpStore string, err error) {
	opts := &server.Options{
		ServerName:      cfg.Node,
		NoLog:           true,
		NoSigs:          true,
		NoSystemAccount: true,
		DontListen:      true,
	}
	if opts.ServerName == "" {
		opts.ServerName = "drlee-" + nuid.Next()
	}
	if cfg.JetStream {
		// JetStream runs its API in a system account; the server makes one.
		opts.JetStream = true
		opts.NoSystemAccount = false
		opts.DisableJetStreamBanner = true
		opts.StoreDir = cfg.StoreDir
		if opts.StoreDir == "" {
			if tmpStore, err = os.MkdirTemp("", "drlee-jetstream-"); err != nil {
				return nil, "", "", fmt.Errorf("drlee: JetStream store: %w", err)
			}
			opts.StoreDir = tmpStore
		}
		defer func() {
			if err != nil && tmpStore != "" {
				os.RemoveAll(tmpStore)
				tmpStore = ""
			}
		}()
	}
	if cfg.ClusterAddr != "" {
		host, port, err := splitHostPort(cfg.ClusterAddr)
		if err != nil {
			return nil, "", "", fmt.Errorf("drlee: ClusterAddr: %w", err)
		}
		join := cfg.Join
		if cfg.JetStream && len(join) == 0 {
			// A clustered JetStream starts only with a route configured. The first node
			// of a cluster has none: give it a route to itself, which the server
			// recognises and drops, as in a NATS config that lists every server. Its
			// port must then be known before the server starts.
			if port == 0 {
				if port, err = freeRoutePort(host); err != nil {
					return nil, "", "", fmt.Errorf("drlee: ClusterAddr: %w", err)
				}
			}
			self := host
			if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
				self = "127.0.0.1"
			}
			join = []string{net.JoinHostPort(self, strconv.Itoa(port))}
		}
		if port == 0 {
			port = server.RANDOM_PORT
		}
		// Routing only starts with the client accept loop: listen on
		// loopback, random port, behind a random token.
		var tb [16]byte
		_, _ = rand.Read(tb[:])
		token = hex.EncodeToString(tb[:])
		opts.DontListen = false
		opts.Host = "127.0.0.1"
		opts.Port = server.RANDOM_PORT
		opts.Authorization = token
		opts.Cluster = server.ClusterOpts{
			Name:        cfg.ClusterName,
			Host:        host,
			Port:        port,
			Advertise:   cfg.ClusterAdvertise,
			NoAdvertise: true, // clients must not learn other nodes' client ports
			Username:    cfg.ClusterUser,
			Password:    cfg.ClusterPassword,
			Compression: server.CompressionOpts{Mode: server.CompressionOff},
		}
		for _, j := range join {
			u, err := routeURL(j, cfg.ClusterUser, cfg.ClusterPassword)
			if err != nil {
				return nil, "", "", err
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	s, err = server.NewServer(opts)
	if err != nil {
		return nil, "", "", fmt.Errorf("drlee: embedded NATS server: %w", err)
	}
	if cfg.Logf != nil {
		s.SetLogger(serverLogger{cfg.Logf}, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, "", "", errors.New("drlee: embedded NATS server did not start (cluster address in use?)")
	}
	if cfg.JetStream && !s.JetStreamEnabled() {
		// The server starts without JetStream when its store cannot be used
		// (not writable, locked by another process); say so instead of
		// failing every key-value call later.
		s.Shutdown()
		s.WaitForShutdown()
		return nil, "", "", fmt.Errorf("drlee: JetStream did not start (store %s not usable?)", opts.StoreDir)
	}
	return s, token, tmpStore, nil
}

// freeRoutePort returns a port free on host now, for a server that must know its port before
// it listens.
func freeRoutePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func splitHostPort(hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", hp)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

func routeURL(s, user, pass string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "nats-route://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("drlee: bad Join address %q", s)
	}
	if u.User == nil && user != "" {
		u.User = url.UserPassword(user, pass)
	}
	return u, nil
}

// serverLogger forwards the embedded server's warnings and errors.
type serverLogger struct{ logf func(string, ...any) }

func (l serverLogger) Noticef(string, ...any) {}
func (l serverLogger) Warnf(f string, a ...any) {
	// JetStream's raft repeats this every few seconds while a clustered node has no route
	// yet (the first node of a cluster, before its peers join); Start already says when
	// Join found no peer.
	if strings.HasPrefix(f, "Waiting for routing to be established") {
		return
	}
	l.logf("nats-server: warning: "+f, a...)
}
func (l serverLogger) Fatalf(f string, a ...any) { l.logf("nats-server: fatal: "+f, a...) }
func (l serverLogger) Errorf(f string, a ...any) { l.logf("nats-server: error: "+f, a...) }
func (l serverLogger) Debugf(string, ...any)     {}
func (l serverLogger) Tracef(string, ...any)     {}

func (n *Node) nextID() uint64 { return n.ids.Add(1) }

// Name returns the node's name (Config.Node or its default).
func (n *Node) Name() string { return n.name }

// Conn returns the node's NATS connection, for packages that speak NATS
// themselves (bindings/kv's JetStream key-value buckets). It is closed by
// Shutdown; its users must be done with it by then.
func (n *Node) Conn() *nats.Conn { return n.nc }

// JetStream reports whether the embedded server runs JetStream (Config.JetStream).
// With NATSURL it reports true: the external servers decide.
func (n *Node) JetStream() bool { return n.srv == nil || n.srv.JetStreamEnabled() }

// ClusterAddr returns the address the embedded server listens on for routes,
// as "host:port", or "" when it does not listen (single node, NATSURL). Use it
// as another node's Join entry when ClusterAddr had port 0.
func (n *Node) ClusterAddr() string {
	if n.srv == nil {
		return ""
	}
	a := n.srv.ClusterAddr()
	if a == nil {
		return ""
	}
	return a.String()
}

// Shutdown leaves the cluster in order, so that calls move to other nodes
// without errors:
//
//  1. It stops taking registrations, tells every peer this node has no
//     handlers any more and waits (up to LeaveTimeout) until each peer
//     acknowledged; from then on peers send it no new calls. Calls that still
//     arrive are sent back to their caller, which tries another node.
//  2. It waits until every request already handed to a worker was answered
//     (or passed its deadline); handlers may still make calls meanwhile.
//     Then new Calls and Broadcasts fail with ErrClosed, and it waits until
//     the ones this node already made got their answer (or timed out).
//  3. It drains and closes the NATS connection, then stops the embedded
//     server.
//
// When ctx ends before step 2 finished, unanswered requests get
// ErrShuttingDown and this node's unanswered calls get ErrClosed, then step 3
// runs anyway (bounded by ctx too). Shutdown returns ctx.Err() in that case.
// The workers must keep running until Shutdown returns, or their requests
// wait for ctx. A second Shutdown waits for the first.
func (n *Node) Shutdown(ctx context.Context) error {
	n.shutdownOnce.Do(func() {
		n.shutdownErr = n.shutdown(ctx)
		close(n.shutdownDone)
	})
	select {
	case <-n.shutdownDone:
		return n.shutdownErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (n *Node) shutdown(ctx context.Context) error {
	n.local.mu.Lock()
	n.closing.Store(true) // under local.mu: no Register slips past leave
	n.local.mu.Unlock()
	n.leave(ctx)

	// Wait for the requests handed to workers: other nodes wait on them,
	// and their handlers may still make calls of their own. Then refuse new
	// calls and wait for this node's outstanding ones.
	forced := !n.waitFor(ctx, func() bool { return n.inflight.live() == 0 })
	n.out.refuseNew()
	if !forced {
		forced = !n.waitFor(ctx, func() bool { return n.out.len() == 0 })
	}
	for _, r := range n.inflight.takeAll() {
		r.answer(tagShutdown, nil, "")
	}
	for _, c := range n.out.closeAll() {
		c.fail(ErrClosed)
	}

	close(n.quit)
	n.wg.Wait()

	if err := n.nc.Drain(); err != nil {
		n.nc.Close()
	}
	select {
	case <-n.ncClosed:
	case <-ctx.Done():
		forced = true
		n.nc.Close()
		<-n.ncClosed
	}
	n.stopServer()
	if forced {
		return ctx.Err()
	}
	return nil
}

// waitFor polls cond until it holds (true) or ctx ends (false).
func (n *Node) waitFor(ctx context.Context, cond func() bool) bool {
	if cond() {
		return true
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if cond() {
				return true
			}
		case <-ctx.Done():
			return false
		}
	}
}

func (n *Node) stopServer() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
	if n.tmpStore != "" {
		os.RemoveAll(n.tmpStore)
	}
}
