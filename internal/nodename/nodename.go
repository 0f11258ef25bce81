// Package nodename makes the default name of a Dr.LEE node: the one place node names are
// made, for the engine (env.node), the rpc module (a clustered node) and engine/cluster (a
// node started without a name).
package nodename

import "os"

// Default is the host name ("localhost" when it has none), plus ":" and suffix when suffix
// is not empty: a cluster port or a process id, which tell apart the nodes of one host.
func Default(suffix string) string {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	if suffix != "" {
		host += ":" + suffix
	}
	return host
}
