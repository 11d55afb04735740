// Package router is rigd's REST API: the routes under /api/v1/mining on
// httprouter, request decoding and the one function that maps errors to
// HTTP status codes, authentication, the event stream and /metrics. It
// also holds the typed Go client the CLI uses.
//
// It imports agent/miner for the domain types and declares the few methods
// it needs from the rest of the agent as interfaces.
package router
