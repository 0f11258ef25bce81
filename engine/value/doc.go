// Package value converts values in the packed format (package packed) to and from JSON:
// ToJSON and FromJSON, the codec of the json module and of the json_encode/json_decode
// globals. The rules are in json.go's comment and in the README.
//
// It reads and writes packed buffers only, so it is pure Go, testable and benchmarkable
// without LuaJIT; its functions are safe from any goroutine.
package value
